"""`clearance console` end to end with piped stdin, against the bundled tools."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _console(tmp_path: Path, script: str, *args: str, db: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TEAMS_", "OPENAI_", "AZURE_"))}
    env.pop("DATABASE_URL", None)
    env["CLEARANCE_DEMO_STATE"] = str(tmp_path / "state.json")
    env["PYTHONPATH"] = str(ROOT)
    if db:
        env["DATABASE_URL"] = db
    return subprocess.run([sys.executable, "-m", "bot", "console", "--user", "alice", *args],
                          input=script, text=True, capture_output=True, env=env, cwd=tmp_path, timeout=120)


def test_console_demo_with_piped_stdin(tmp_path: Path) -> None:
    run = _console(tmp_path, "\n".join([
        "status",
        "deploy api v2.3 to prod and restart worker in staging",
        "approve 1",          # alice asked: refused
        "as dana",
        "approve 1",
        "reject 2 not during the incident",
        "status of prod",
    ]) + "\n")
    out = run.stdout
    assert run.returncode == 0, run.stderr
    assert "no services deployed yet" in out
    assert "[1] Approval needed: deploy" in out and "[2] Approval needed: restart" in out
    assert "someone else has to approve it" in out
    assert "approved by dana: done — deployed api v2.3 to prod" in out
    assert "rejected by dana: not during the incident" in out
    assert "prod/api: v2.3" in out
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["prod"]["api"]["version"] == "v2.3"
    assert "worker" not in state.get("staging", {})
    assert (tmp_path / "clearance.db").exists()  # the embedded default


def test_pending_cards_survive_quitting(tmp_path: Path) -> None:
    first = _console(tmp_path, "deploy web 3.1 to prod\nquit\n")
    assert "[1] Approval needed: deploy" in first.stdout
    second = _console(tmp_path, "as bob\napprove 1\n")
    assert "1 pending approval(s) from before" in second.stdout
    assert "approved by bob: done — deployed web 3.1 to prod" in second.stdout


def test_console_on_postgres(tmp_path: Path, pg_url: str) -> None:
    run = _console(tmp_path, "restart api in staging\napprove 1\n", db=pg_url)
    assert "approved by alice: done — restarted api in staging" in run.stdout, run.stdout + run.stderr


def test_bad_configuration_fails_at_start_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": "mysql://nope"}
    run = subprocess.run([sys.executable, "-m", "bot", "check"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "DATABASE_URL" in lines[0]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CLEARANCE_TOOLS": str(tmp_path / "missing.yml")}
    run = subprocess.run([sys.executable, "-m", "bot", "console"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=60, input="")
    assert run.returncode == 2 and "CLEARANCE_TOOLS" in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_every_command_has_help(tmp_path: Path) -> None:
    for command in ("serve", "console", "pending", "audit", "check"):
        run = subprocess.run([sys.executable, "-m", "bot", command, "--help"], cwd=tmp_path,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
        assert run.returncode == 0 and "usage: clearance" in run.stdout
