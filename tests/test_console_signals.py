"""`clearance console` as a person uses it: quit, Ctrl-C at the prompt, Ctrl-C while a call
runs, cards of other sessions and expired cards. A real subprocess, SIGINT sent by pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TOOLS = """
tools:
  - name: slow
    description: Takes its time
    parameters: {type: object, properties: {}, additionalProperties: false}
    aliases: ["slow"]
    approval:
      - approvers: ["*"]
        allow_self_approval: true
    run:
      command: ["sleep", "30"]
      timeout: 60s
  - name: brief
    description: Expires at once
    parameters: {type: object, properties: {}, additionalProperties: false}
    aliases: ["brief"]
    approval:
      - approvers: ["*"]
        allow_self_approval: true
        expires_after: 1s
    run:
      command: ["echo", "done"]
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TEAMS_", "OPENAI_", "AZURE_"))}
    env.pop("DATABASE_URL", None)
    (tmp_path / "tools.yml").write_text(TOOLS)
    env.update(PYTHONPATH=str(ROOT), CLEARANCE_TOOLS=str(tmp_path / "tools.yml"),
               CLEARANCE_DEMO_STATE=str(tmp_path / "state.json"))
    return env


class Console:
    """A console process whose stdin stays open, as a terminal's does."""

    def __init__(self, tmp_path: Path, session: str = "default") -> None:
        self.out = tmp_path / f"out-{session}-{time.monotonic_ns()}.txt"
        self.err = self.out.with_suffix(".err")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "console", "--user", "alice", "--session", session],
            stdin=subprocess.PIPE, stdout=self.out.open("w"), stderr=self.err.open("w"),
            text=True, env=_env(tmp_path), cwd=tmp_path)
        assert self.wait_for("Type 'help'"), self.stderr()

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stdout(self) -> str:
        return self.out.read_text()

    def stderr(self) -> str:
        return self.err.read_text()

    def wait_for(self, text: str, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stdout():
                return True
            if self.proc.poll() is not None:
                return text in self.stdout()
            time.sleep(0.05)
        return False

    def exit_code(self, timeout: float = 10.0) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def test_quit_and_exit_leave_with_stdin_still_open(tmp_path: Path) -> None:
    for word in ("quit", "exit"):
        console = Console(tmp_path)
        console.send(word)
        assert console.exit_code() == 0, console.stdout() + console.stderr()
        assert console.stderr() == ""


def test_ctrl_c_at_the_prompt_exits_with_one_line(tmp_path: Path) -> None:
    console = Console(tmp_path)
    console.proc.send_signal(signal.SIGINT)
    assert console.exit_code() == 130, console.stdout() + console.stderr()
    assert console.stderr() == ""
    after_banner = console.stdout().split("Type 'help'.", 1)[1].strip().splitlines()
    assert len(after_banner) == 1 and "Interrupted" in after_banner[0]


def test_ctrl_c_during_a_call_stops_waiting_and_the_next_start_explains(tmp_path: Path) -> None:
    console = Console(tmp_path)
    console.send("slow")
    assert console.wait_for("[1] Approval needed: slow")
    console.send("approve 1")
    assert console.wait_for("running")
    started = time.monotonic()
    console.proc.send_signal(signal.SIGINT)
    assert console.exit_code() == 130, console.stdout() + console.stderr()
    assert time.monotonic() - started < 8  # not the 30 s the call takes
    assert "Traceback" not in console.stderr()
    assert "Interrupted; outcome unknown: [1] slow" in console.stdout()

    again = Console(tmp_path)
    lines = [line for line in again.stdout().splitlines() if "Interrupted last time" in line]
    assert len(lines) == 1 and "outcome unknown" in lines[0] and "[1] slow" in lines[0], again.stdout()
    again.send("quit")
    assert again.exit_code() == 0


def test_expired_cards_are_not_pending_and_say_expired(tmp_path: Path) -> None:
    console = Console(tmp_path)
    console.send("brief")
    assert console.wait_for("[1] Approval needed: brief")
    time.sleep(1.5)
    console.send("pending")
    assert console.wait_for("No pending approvals.")
    console.send("approve 1")
    assert console.wait_for("Card 1 expired")
    console.send("quit")
    assert console.exit_code() == 0
    listing = subprocess.run([sys.executable, "-m", "bot", "pending"], env=_env(tmp_path), cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    assert "No pending approvals." in listing.stdout, listing.stdout + listing.stderr
    fresh = Console(tmp_path)  # its start sweep expires card 1 for real
    fresh.send("approve 1")
    assert fresh.wait_for("Card 1 expired"), fresh.stdout()
    fresh.send("quit")
    assert fresh.exit_code() == 0


def test_notices_of_another_session_stay_out(tmp_path: Path) -> None:
    other = Console(tmp_path, session="other")
    other.send("brief")
    assert other.wait_for("[1] Approval needed: brief")
    other.send("quit")
    assert other.exit_code() == 0
    time.sleep(1.5)
    mine = Console(tmp_path)  # its start sweep expires the other session's card
    mine.send("quit")
    assert mine.exit_code() == 0
    assert "brief" not in mine.stdout(), mine.stdout()
