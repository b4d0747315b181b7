"""The test runner's setup as a non-root user without Chromium: one line, no abort."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runuser"), reason="needs root to drop to nobody")
def test_render_deps_skip_with_one_line_when_not_root(tmp_path: Path) -> None:
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "teams-render-deps.sh", tmp_path / ".ci" / "teams-render-deps.sh")
    tmp_path.chmod(0o755)
    run = subprocess.run(["runuser", "-u", "nobody", "--", "sh", str(tmp_path / ".ci" / "teams-render-deps.sh")],
                         env={"PATH": "/usr/bin:/bin", "CLEARANCE_CHROMIUM": "/nonexistent/chromium"},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "chromium" in lines[0] and "skipping" in lines[0], run.stderr
