"""A thread never blocks: a message arriving while cards wait is answered now; the waiting
calls are detached (the model is told they await approval), their cards stay live, and each
outcome comes back to the thread as a message of its own."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from adapters.base import Actor, Decision, DecisionClick, Outcome
from bot.approvals.models import Status
from tests.conftest import console_message, runtime_for
from tests.helpers import counting_tools, executions
from tests.test_restart import _env, _read_until

DANA = Actor("console", "dana", "dana")
THREAD = {"configurable": {"thread_id": "console:t"}}


def assert_history_valid(messages: list) -> None:  # type: ignore[type-arg]
    """Every assistant tool call has exactly one tool message, and no tool message is orphaned."""
    asked = [tc["id"] for m in messages if isinstance(m, AIMessage) for tc in m.tool_calls]
    answered = [m.tool_call_id for m in messages if isinstance(m, ToolMessage)]
    assert sorted(asked) == sorted(answered) and len(set(asked)) == len(asked)


async def _messages(rt) -> list:  # type: ignore[no-untyped-def,type-arg]
    return (await rt.graph.aget_state(THREAD)).values["messages"]


async def test_new_messages_run_while_cards_wait_and_outcomes_come_back(database_url, tmp_path) -> None:
    count = tmp_path / "count"
    async with runtime_for(database_url, counting_tools(count, sleep=0), tmp_path) as rt:
        await rt.service.on_message(console_message("act on alpha"))
        [first] = await rt.ledger.approvals(status=[Status.PENDING])

        await rt.service.on_message(console_message("look"))  # read-only: answered now
        assert rt.recorder.texts[-1] == "look: done. all quiet"
        await rt.service.on_message(console_message("frobnicate"))  # a typo gets the normal answer
        assert rt.recorder.texts[-1].startswith("I did not understand that.")
        await rt.service.on_message(console_message("act on beta"))  # gated: a second card
        assert [c.args["target"] for c in rt.recorder.cards] == ["alpha", "beta"]
        assert {a.args["target"] for a in await rt.ledger.approvals(status=[Status.PENDING])} == {"alpha", "beta"}

        deferred = [m for m in await _messages(rt) if isinstance(m, ToolMessage) and "Awaiting approval" in m.content]
        assert deferred and deferred[0].content == (
            f"Awaiting approval (card {first.id}): not executed yet; its outcome will be reported in this thread.")

        result = await rt.service.on_decision(DecisionClick(first.id, Decision.APPROVE, DANA))
        assert result.outcome is Outcome.ACCEPTED
        await rt.service.drain()
        assert [line.split()[1] for line in executions(count)] == ["alpha"]
        line = f"[{first.id}] act(target=alpha) approved by dana — result: acted on alpha"
        assert rt.recorder.texts.count(line) == 1
        # The card shows the outcome before the thread hears the report.
        assert rt.recorder.log.index(("update", f"{first.id} done")) < rt.recorder.log.index(("text", line))
        messages = await _messages(rt)
        assert isinstance(messages[-2], HumanMessage) and messages[-2].name == "clearance"
        assert messages[-1].content == line
        assert_history_valid(messages)

        # The second card, detached by the outcome report itself, still works.
        [second] = await rt.ledger.approvals(status=[Status.PENDING])
        await rt.service.on_decision(DecisionClick(second.id, Decision.REJECT, DANA, reason="not today"))
        await rt.service.drain()
        assert rt.recorder.texts[-1] == f"[{second.id}] act(target=beta) rejected by dana: not today"
        assert [line.split()[1] for line in executions(count)] == ["alpha"]
        assert_history_valid(await _messages(rt))


async def test_a_decision_racing_a_new_message_executes_once(database_url, tmp_path) -> None:
    for decision_first in (True, False):
        count = tmp_path / f"count-{decision_first}"
        async with runtime_for(database_url, counting_tools(count, sleep=0), tmp_path) as rt:
            await rt.service.on_message(console_message("act on gamma"))
            [card] = await rt.ledger.approvals(status=[Status.PENDING])
            click = rt.service.on_decision(DecisionClick(card.id, Decision.APPROVE, DANA))
            message = rt.service.on_message(console_message("look"))
            await asyncio.gather(*((click, message) if decision_first else (message, click)))
            await rt.service.drain()
            await rt.service.sweep()  # nothing left over for recovery to do twice
            await rt.service.drain()
            assert len(executions(count)) == 1
            messages = await _messages(rt)
            assert_history_valid(messages)
            outcomes = [m for m in messages if "acted on gamma" in str(m.content)]
            assert outcomes, "the outcome never reached the run"
            reports = [t for t in rt.recorder.texts if t.startswith(f"[{card.id}]")]
            assert len(reports) <= 1
            final = await rt.ledger.get(card.id)
            assert final is not None and final.status is Status.DONE and final.resumed_at is not None


async def test_a_detached_card_decided_after_kill_9_still_reports(database_url, tmp_path) -> None:
    count = tmp_path / "count"
    tools = tmp_path / "tools.yml"
    tools.write_text(counting_tools(count, sleep=0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "console", "--session", "t", "--user", "alice"],
        env=_env(database_url, tools), cwd=tmp_path, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write("act on delta\n")
        proc.stdin.flush()
        _read_until(proc, "Approval needed: act")
        proc.stdin.write("look\n")  # detaches the card
        proc.stdin.flush()
        _read_until(proc, "all quiet")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    async with runtime_for(database_url, tools.read_text(), tmp_path) as rt:
        [card] = await rt.ledger.approvals(status=[Status.PENDING])
        assert card.detached_at is not None
        await rt.service.on_decision(DecisionClick(card.id, Decision.APPROVE, DANA))
        await rt.service.drain()
        assert len(executions(count)) == 1
        assert rt.recorder.texts[-1] == f"[{card.id}] act(target=delta) approved by dana — result: acted on delta"
        assert_history_valid(await _messages(rt))
