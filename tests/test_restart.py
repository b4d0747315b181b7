"""Invariant 2: nothing is lost across a restart. Real `kill -9` of real processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from langchain_core.messages import AIMessage, ToolMessage

from adapters.base import Actor, Decision, DecisionClick
from tests.conftest import runtime_for
from tests.helpers import counting_tools, executions

ROOT = Path(__file__).resolve().parent.parent


def _env(database_url: str, tools: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "CLEARANCE_TOOLS": str(tools),
            "PYTHONPATH": str(ROOT), **extra}


def _read_until(proc: subprocess.Popen, marker: str, timeout: float = 60) -> str:
    seen = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"{marker!r} not printed; got:\n{''.join(seen)}")


async def test_card_posted_before_kill_9_is_decided_after_restart(database_url, tmp_path) -> None:
    count = tmp_path / "count"
    tools = tmp_path / "tools.yml"
    tools.write_text(counting_tools(count, sleep=0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "console", "--session", "k9", "--user", "alice"],
        env=_env(database_url, tools), cwd=tmp_path, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write("act on epsilon\n")
        proc.stdin.flush()
        _read_until(proc, "Approval needed: act")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    async with runtime_for(database_url, tools.read_text(), tmp_path) as rt:
        (approval,) = await rt.ledger.approvals(status=["pending"])
        result = await rt.service.on_decision(
            DecisionClick(approval.id, Decision.APPROVE, Actor("console", "dana", "dana")))
        assert result.outcome.value == "accepted"
        await rt.service.drain()
        state = await rt.graph.aget_state({"configurable": {"thread_id": "console:k9"}})
        msgs = state.values["messages"]
        assert not state.next and isinstance(msgs[-1], AIMessage)
        assert "acted on epsilon" in msgs[-1].content
        assert len(executions(count)) == 1


async def test_kill_9_during_execution_is_reported_not_rerun(database_url, tmp_path) -> None:
    """The executor died mid-call: the outcome is unknown. Humans and the model are told;
    the call is never silently run again."""
    count = tmp_path / "count"
    tools = tmp_path / "tools.yml"
    tools.write_text(counting_tools(count, sleep=3))
    async with runtime_for(database_url, tools.read_text(), tmp_path) as rt:
        from tests.conftest import console_message

        await rt.service.on_message(console_message("act on zeta", session="k9b"))
        (approval,) = await rt.ledger.approvals(status=["pending"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.decide", approval.id, "dana"],
        env=_env(database_url, tools, CLEARANCE_EXECUTION_LEASE="1"), cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not executions(count) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert executions(count), "the executor never started"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    async with runtime_for(database_url, tools.read_text(), tmp_path, CLEARANCE_EXECUTION_LEASE="1") as rt:
        assert (await rt.ledger.get(approval.id)).status.value == "executing"
        await asyncio.sleep(1.2)  # let the dead process's lease run out
        await rt.service.sweep()
        await rt.service.drain()
        final = await rt.ledger.get(approval.id)
        assert final.status.value == "failed" and "Outcome unknown" in (final.result or "")
        state = await rt.graph.aget_state({"configurable": {"thread_id": "console:k9b"}})
        tool_msgs = [m for m in state.values["messages"] if isinstance(m, ToolMessage)]
        assert len(tool_msgs) == 1 and tool_msgs[0].status == "error"
        assert "Outcome unknown" in tool_msgs[0].content
        assert not state.next
        assert any(u.status.value == "failed" for u in rt.recorder.updates)
        await rt.service.sweep()
        await rt.service.drain()
    time.sleep(3.5)  # the orphaned command finishes its sleep; it must not have been re-run
    assert len(executions(count)) == 1
