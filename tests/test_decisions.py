"""Decisions are validated against the ledger before any resume, because LangGraph answers a
resume with an unknown or already used interrupt id with a silent no-op: unknown, already
decided and malformed ids get a clear answer, and nothing is resumed or written."""

from __future__ import annotations

import pytest

from adapters.base import Actor, Decision, DecisionClick, Outcome
from tests.conftest import console_message, runtime_for
from tests.helpers import counting_tools, executions

DANA = Actor("console", "dana", "dana")
ALICE = Actor("console", "alice", "alice")


async def _snapshot(rt, thread: str) -> tuple:
    audit = await rt.ledger.audit_trail()
    rows = await rt.ledger.approvals()
    checkpoints = [c async for c in rt.graph.checkpointer.alist({"configurable": {"thread_id": thread}})]
    return len(audit), [(a.id, a.status, a.version) for a in rows], len(checkpoints)


@pytest.mark.parametrize("bad_id", [
    "apv_" + "A" * 22,                 # well-formed, unknown
    "", "x", "apv_", "apv_short", "apv_" + "A" * 23, "../../etc/passwd",
    "apv_AAAAAAAAAAAAAAAAAAAA'; --", "apv_\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
    "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9", "\x00" * 30,
])
async def test_unknown_and_malformed_ids_change_nothing(database_url, tmp_path, bad_id) -> None:
    count = tmp_path / "count"
    async with runtime_for(database_url, counting_tools(count), tmp_path) as rt:
        msg = console_message("act on eta")
        await rt.service.on_message(msg)
        before = await _snapshot(rt, msg.conversation.thread_id)
        for decision in Decision:
            result = await rt.service.on_decision(DecisionClick(bad_id, decision, DANA))
            assert result.outcome in (Outcome.NOT_FOUND, Outcome.INVALID)
            assert result.message.endswith(".")
        await rt.service.drain()
        assert await _snapshot(rt, msg.conversation.thread_id) == before
        assert executions(count) == []


async def test_already_decided_changes_nothing_and_names_the_winner(database_url, tmp_path) -> None:
    count = tmp_path / "count"
    async with runtime_for(database_url, counting_tools(count), tmp_path) as rt:
        msg = console_message("act on theta")
        await rt.service.on_message(msg)
        (approval,) = await rt.ledger.approvals(status=["pending"])
        await rt.service.on_decision(DecisionClick(approval.id, Decision.REJECT, DANA, "not today"))
        await rt.service.drain()
        before = await _snapshot(rt, msg.conversation.thread_id)
        for decision in Decision:
            result = await rt.service.on_decision(DecisionClick(approval.id, decision, ALICE))
            assert result.outcome is Outcome.ALREADY_DECIDED
            assert "rejected by dana" in result.message and "not today" in result.message
        await rt.service.drain()
        assert await _snapshot(rt, msg.conversation.thread_id) == before
        assert executions(count) == []


async def test_self_approval_refused_and_nothing_changes(database_url, tmp_path) -> None:
    count = tmp_path / "count"
    async with runtime_for(database_url, counting_tools(count), tmp_path) as rt:
        msg = console_message("act on iota", user="alice")
        await rt.service.on_message(msg)
        (approval,) = await rt.ledger.approvals(status=["pending"])
        before = await _snapshot(rt, msg.conversation.thread_id)
        result = await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, ALICE))
        assert result.outcome is Outcome.NOT_ALLOWED and "someone else" in result.message
        assert await _snapshot(rt, msg.conversation.thread_id) == before
        # The requester may withdraw their own request.
        result = await rt.service.on_decision(DecisionClick(approval.id, Decision.REJECT, ALICE, "typo"))
        assert result.outcome is Outcome.ACCEPTED


async def test_partial_resume_posts_no_duplicate_card(database_url, tmp_path) -> None:
    """Deciding one card of three re-runs the other two tasks up to their interrupt(); the
    bot must not post their cards again, nor record new approvals."""
    count = tmp_path / "count"
    async with runtime_for(database_url, counting_tools(count, sleep=0), tmp_path) as rt:
        await rt.service.on_message(console_message("act on a and act on b and act on c"))
        assert len(rt.recorder.cards) == 3
        pending = await rt.ledger.approvals(status=["pending"])
        ids = {a.interrupt_id for a in pending}
        await rt.service.on_decision(DecisionClick(pending[0].id, Decision.APPROVE, DANA))
        await rt.service.drain()
        await rt.service.on_decision(DecisionClick(pending[1].id, Decision.REJECT, DANA))
        await rt.service.drain()
        assert len(rt.recorder.cards) == 3
        rows = await rt.ledger.approvals()
        assert len(rows) == 3 and {a.interrupt_id for a in rows} == ids
        still = await rt.ledger.approvals(status=["pending"])
        assert [a.id for a in still] == [pending[2].id]


async def test_invalid_arguments_make_no_card(database_url, tmp_path) -> None:
    async with runtime_for(database_url, None, tmp_path) as rt:
        await rt.service.on_message(console_message("scale web in prod to 500"))
        assert rt.recorder.cards == []
        assert await rt.ledger.approvals() == []
        assert "Invalid arguments" in rt.recorder.texts[-1] and "500" in rt.recorder.texts[-1]


async def test_ungated_call_runs_at_once(database_url, tmp_path) -> None:
    async with runtime_for(database_url, None, tmp_path) as rt:
        await rt.service.on_message(console_message("status"))
        assert rt.recorder.cards == []
        assert rt.recorder.texts == ["status: done. no services deployed yet"]


async def test_retried_event_is_processed_once(database_url, tmp_path) -> None:
    from dataclasses import replace

    async with runtime_for(database_url, None, tmp_path) as rt:
        msg = replace(console_message("deploy api v2 to prod"), event_id="Ev0123")
        await rt.service.on_message(msg)
        await rt.service.on_message(msg)
        assert len(rt.recorder.cards) == 1


ECHO_TOOLS = """
tools:
  - name: echo
    parameters:
      type: object
      properties: {a: {type: string}, b: {type: string}}
      required: [a, b]
    aliases: ["echo {a} {b}"]
    approval: [{approvers: ["*"]}]
    run: {command: ["printf", "%s|%s", "{a}", "{b}"]}
"""


async def test_executed_arguments_are_exactly_the_card_arguments(database_url, tmp_path) -> None:
    """Invariant 5: what runs is what the approver saw, byte for byte, with no shell between."""
    a, b = "x;rm${IFS}-rf${IFS}/tmp/nothing", "$(whoami)'q'\"d\"`id`|&>"
    async with runtime_for(database_url, ECHO_TOOLS, tmp_path) as rt:
        await rt.service.on_message(console_message(f"echo {a} {b}"))
        (card,) = rt.recorder.cards
        assert dict(card.args) == {"a": a, "b": b}
        await rt.service.on_decision(DecisionClick(card.approval_id, Decision.APPROVE, DANA))
        await rt.service.drain()
        done = await rt.ledger.get(card.approval_id)
        assert done.args == dict(card.args)
        assert done.result == f"{a}|{b}"
