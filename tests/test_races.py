"""Invariant 1: a decided approval never resumes twice; racing clicks produce exactly one
execution and one outcome; the loser is told who won. Real concurrency: asyncio.gather on
one service, and two OS processes on one database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from langchain_core.messages import AIMessage, ToolMessage

from adapters.base import Actor, Decision, DecisionClick, Outcome
from tests.conftest import console_message, runtime_for
from tests.helpers import counting_tools, executions

DANA = Actor("console", "dana", "dana")
ERIN = Actor("console", "erin", "erin")
ROOT = Path(__file__).resolve().parent.parent


def _cfg(thread: str) -> dict:
    return {"configurable": {"thread_id": thread}}


async def test_same_click_twice_at_once_executes_once(database_url, tmp_path) -> None:
    count = tmp_path / "count"
    async with runtime_for(database_url, counting_tools(count), tmp_path) as rt:
        await rt.service.on_message(console_message("act on alpha"))
        (approval,) = await rt.ledger.approvals(status=["pending"])
        click = DecisionClick(approval.id, Decision.APPROVE, DANA)
        results = await asyncio.gather(*(rt.service.on_decision(click) for _ in range(5)))
        await rt.service.drain()
        outcomes = sorted(r.outcome.value for r in results)
        assert outcomes.count("accepted") == 1
        assert all(r.outcome in (Outcome.ACCEPTED, Outcome.ALREADY_DECIDED) for r in results)
        loser = next(r for r in results if r.outcome is Outcome.ALREADY_DECIDED)
        assert "dana" in loser.message
        assert len(executions(count)) == 1
        assert executions(count)[0].startswith(approval.id)  # idempotency key = approval id
        state = await rt.graph.aget_state(_cfg(approval.thread_id))
        assert not state.next
        tools = [m for m in state.values["messages"] if isinstance(m, ToolMessage)]
        assert len(tools) == 1 and "acted on alpha" in tools[0].content
        assert (await rt.ledger.get(approval.id)).status.value == "done"


async def test_two_approvers_at_once_one_execution(database_url, tmp_path) -> None:
    count = tmp_path / "count"
    async with runtime_for(database_url, counting_tools(count), tmp_path) as rt:
        await rt.service.on_message(console_message("act on beta"))
        (approval,) = await rt.ledger.approvals(status=["pending"])
        a, b = await asyncio.gather(
            rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA)),
            rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, ERIN)),
        )
        await rt.service.drain()
        assert {a.outcome, b.outcome} == {Outcome.ACCEPTED, Outcome.ALREADY_DECIDED}
        loser = a if a.outcome is Outcome.ALREADY_DECIDED else b
        winner = "dana" if loser is b else "erin"
        assert winner in loser.message
        assert len(executions(count)) == 1


async def test_approve_and_reject_racing_one_outcome(database_url, tmp_path) -> None:
    for attempt in range(4):  # both orders get a chance to win
        count = tmp_path / f"count{attempt}"
        async with runtime_for(database_url, counting_tools(count), tmp_path) as rt:
            msg = console_message("act on gamma", session=f"race{attempt}")
            await rt.service.on_message(msg)
            (approval,) = await rt.ledger.approvals(status=["pending"], thread_id=msg.conversation.thread_id)
            clicks = [DecisionClick(approval.id, Decision.APPROVE, DANA),
                      DecisionClick(approval.id, Decision.REJECT, ERIN, "freeze")]
            if attempt % 2:
                clicks.reverse()
            results = await asyncio.gather(*(rt.service.on_decision(c) for c in clicks))
            await rt.service.drain()
            assert sorted(r.outcome.value for r in results) == ["accepted", "already_decided"]
            final = await rt.ledger.get(approval.id)
            state = await rt.graph.aget_state(_cfg(approval.thread_id))
            tools = [m for m in state.values["messages"] if isinstance(m, ToolMessage)]
            assert len(tools) == 1 and not state.next
            if final.status.value == "rejected":
                assert executions(count) == []
                assert tools[0].status == "error" and "erin" in tools[0].content and "freeze" in tools[0].content
            else:
                assert final.status.value == "done"
                assert len(executions(count)) == 1 and tools[0].status == "success"


async def test_last_two_cards_decided_at_once_run_completes(database_url, tmp_path) -> None:
    count = tmp_path / "count"
    async with runtime_for(database_url, counting_tools(count, sleep=0), tmp_path) as rt:
        await rt.service.on_message(console_message("act on a and act on b and act on c"))
        pending = await rt.ledger.approvals(status=["pending"])
        assert len(pending) == 3
        await rt.service.on_decision(DecisionClick(pending[0].id, Decision.APPROVE, DANA))
        await rt.service.drain()
        await asyncio.gather(
            rt.service.on_decision(DecisionClick(pending[1].id, Decision.APPROVE, DANA)),
            rt.service.on_decision(DecisionClick(pending[2].id, Decision.REJECT, ERIN, "no")),
        )
        await rt.service.drain()
        state = await rt.graph.aget_state(_cfg(pending[0].thread_id))
        assert not state.next, f"run stalled at {state.next}"
        msgs = state.values["messages"]
        assert isinstance(msgs[-1], AIMessage) and not msgs[-1].tool_calls
        assert len([m for m in msgs if isinstance(m, ToolMessage)]) == 3
        assert len(executions(count)) == 2
        assert (await rt.ledger.approvals(status=["pending"])) == []


async def test_two_processes_deciding_at_once_execute_once(database_url, tmp_path) -> None:
    count = tmp_path / "count"
    tools = counting_tools(count, sleep=0.5)
    async with runtime_for(database_url, tools, tmp_path) as rt:
        await rt.service.on_message(console_message("act on delta"))
        (approval,) = await rt.ledger.approvals(status=["pending"])
    (tmp_path / "tools.yml").write_text(tools)
    env = {**os.environ, "DATABASE_URL": database_url, "CLEARANCE_TOOLS": str(tmp_path / "tools.yml"),
           "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-m", "tests.decide", approval.id, user],
                         env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for user in ("dana", "erin")
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    printed = sorted(o[0].strip() for o in outs)
    assert printed[0].startswith("accepted") and printed[1].startswith("already_decided"), printed
    assert len(executions(count)) == 1
    async with runtime_for(database_url, tools, tmp_path) as rt:
        final = await rt.ledger.get(approval.id)
        assert final.status.value == "done" and final.resumed_at is not None
        state = await rt.graph.aget_state(_cfg(approval.thread_id))
        assert not state.next
        assert len([m for m in state.values["messages"] if isinstance(m, ToolMessage)]) == 1


async def test_concurrent_resumes_of_one_thread_are_serialized(database_url, tmp_path) -> None:
    """Both cards of a fan-out rejected at the same moment: two resumes of one thread race.
    LangGraph does not serialize two resumes of one thread: without the per-thread lock it
    forks the checkpoint or stalls."""
    count = tmp_path / "count"
    async with runtime_for(database_url, counting_tools(count, sleep=0), tmp_path) as rt:
        for round_ in range(3):
            msg = console_message("act on a and act on b", session=f"s{round_}")
            await rt.service.on_message(msg)
            pending = await rt.ledger.approvals(status=["pending"], thread_id=msg.conversation.thread_id)
            assert len(pending) == 2
            await asyncio.gather(*(
                rt.service.on_decision(DecisionClick(a.id, Decision.REJECT, ERIN, "no"))
                for a in pending
            ))
            await rt.service.drain()
            state = await rt.graph.aget_state(_cfg(msg.conversation.thread_id))
            msgs = state.values["messages"]
            assert not state.next, f"run stalled at {state.next}"
            assert len([m for m in msgs if isinstance(m, ToolMessage)]) == 2
            finals = [m for m in msgs if isinstance(m, AIMessage) and not m.tool_calls]
            assert len(finals) == 1, "the run forked or lost its final answer"
            assert len([t for t in rt.recorder.texts if "not done" in t]) == round_ + 1


async def test_burst_on_many_threads_does_not_starve_the_pool(pg_url, tmp_path) -> None:
    """More concurrent runs than the pool has connections: each run holds its thread lock on
    one connection and needs others for checkpoints and the ledger; none may starve."""
    count = tmp_path / "count"
    async with runtime_for(pg_url, counting_tools(count, sleep=0), tmp_path) as rt:
        size = rt.db.pool.max_size
        messages = [console_message(f"act on t{i}", session=f"burst{i}") for i in range(size + 10)]
        await asyncio.wait_for(asyncio.gather(*(rt.service.on_message(m) for m in messages)), timeout=60)
        assert len(await rt.ledger.approvals(status=["pending"])) == size + 10
        assert not any("Sorry" in t for t in rt.recorder.texts)
