"""The test runner's setup as a non-root user without Chromium: one line, no abort."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runuser"), reason="needs root to drop to nobody")
def test_render_deps_skip_with_one_line_when_not_root() -> None:
    # pytest's tmp_path is private to root; nobody needs a directory it can read.
    with tempfile.TemporaryDirectory(dir="/tmp") as shared:
        run = _as_nobody(Path(shared))
    assert run.returncode == 0, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "chromium" in lines[0] and "skipping" in lines[0], run.stderr


def _as_nobody(tmp_path: Path) -> subprocess.CompletedProcess:
    tmp_path.chmod(0o755)
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "teams-render-deps.sh", tmp_path / ".ci" / "teams-render-deps.sh")
    script = str(tmp_path / ".ci" / "teams-render-deps.sh")
    return subprocess.run([shutil.which("runuser") or "runuser", "-u", "nobody", "--", "sh", script],
                          env={"PATH": "/usr/bin:/bin", "CLEARANCE_CHROMIUM": "/nonexistent/chromium"},
                          capture_output=True, text=True, timeout=60)
