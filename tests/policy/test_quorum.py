"""Quorum, self-approval and one-reject-ends-it, through the service as a click would go."""

from __future__ import annotations

import asyncio

from adapters.base import Actor, CardStatus, Decision, DecisionClick, Outcome
from bot.approvals.models import Status
from tests.conftest import console_message
from tests.policy.tools import ALICE, DANA, ERIN, cfg, one_card, runs_of, tool_messages


async def test_two_approvers_at_once_make_one_execution_after_the_second(database_url, tmp_path) -> None:
    async with one_card(database_url, tmp_path) as (rt, approval, runs):
        svc = rt.service
        results = await asyncio.gather(
            svc.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA)),
            svc.on_decision(DecisionClick(approval.id, Decision.APPROVE, ERIN)),
        )
        # Both count (the loser of the compare-and-set re-checks and adds the second approval).
        assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.ACCEPTED]
        await svc.drain()

        assert len(runs_of(runs)) == 1
        assert runs_of(runs)[0].startswith(approval.id)  # the idempotency key is the approval id
        done = await rt.ledger.get(approval.id)
        assert done is not None and done.status is Status.DONE
        assert {a.qualified for a in done.approvers} == {"console:dana", "console:erin"}
        events = [r["event"] for r in await rt.ledger.audit_trail() if r["approval_id"] == approval.id]
        assert events.index("executing") > max(i for i, e in enumerate(events) if e == "approve")
        assert events.count("approve") == 2 and events.count("executing") == 1
        state = await rt.graph.aget_state(cfg(approval.thread_id))
        [msg] = tool_messages(state)
        assert msg.status == "success" and "deployed api to prod" in msg.content
        assert rt.recorder.updates[-1].status is CardStatus.DONE


async def test_first_approval_shows_progress_and_executes_nothing(tmp_path) -> None:
    async with one_card(f"sqlite:///{tmp_path}/c.db", tmp_path) as (rt, approval, runs):
        svc = rt.service
        first = await svc.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA))
        await svc.drain()
        assert first.outcome is Outcome.ACCEPTED and "1 of 2" in first.message
        card = rt.recorder.updates[-1]  # the card is updated after a partial approval
        assert card.status is CardStatus.PENDING
        assert card.quorum == 2 and [a.qualified for a in card.approvals_so_far] == ["console:dana"]
        assert runs_of(runs) == []

        again = await svc.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA))
        assert again.outcome is Outcome.NOT_ALLOWED  # the same person twice is not a quorum
        second = await svc.on_decision(DecisionClick(approval.id, Decision.APPROVE, ERIN))
        await svc.drain()
        assert second.outcome is Outcome.ACCEPTED
        assert len(runs_of(runs)) == 1


async def test_one_reject_ends_a_quorum_and_the_model_is_told(tmp_path) -> None:
    async with one_card(f"sqlite:///{tmp_path}/c.db", tmp_path) as (rt, approval, runs):
        svc = rt.service
        await svc.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA))
        rejected = await svc.on_decision(DecisionClick(approval.id, Decision.REJECT, ERIN, reason="freeze"))
        await svc.drain()
        assert rejected.outcome is Outcome.ACCEPTED
        late = await svc.on_decision(DecisionClick(approval.id, Decision.APPROVE, ERIN))
        assert late.outcome is Outcome.ALREADY_DECIDED and "erin" in late.message
        assert runs_of(runs) == []
        [msg] = tool_messages(await rt.graph.aget_state(cfg(approval.thread_id)))
        assert msg.status == "error" and "Rejected by erin: freeze" in msg.content
        assert rt.recorder.updates[-1].status is CardStatus.REJECTED


async def test_self_approval_is_refused(tmp_path) -> None:
    async with one_card(f"sqlite:///{tmp_path}/c.db", tmp_path, quorum=1, approvers='["*"]') as (rt, approval, runs):
        svc = rt.service
        assert approval.requester == ALICE
        result = await svc.on_decision(DecisionClick(approval.id, Decision.APPROVE, ALICE))
        await svc.drain()
        assert result.outcome is Outcome.NOT_ALLOWED and "someone else" in result.message
        stored = await rt.ledger.get(approval.id)
        assert stored is not None and stored.status is Status.PENDING and stored.decisions == ()
        assert runs_of(runs) == [] and rt.recorder.updates == []
        ok = await svc.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA))
        await svc.drain()
        assert ok.outcome is Outcome.ACCEPTED and len(runs_of(runs)) == 1


async def test_unlisted_approver_is_refused_and_staging_runs_without_a_card(tmp_path) -> None:
    async with one_card(f"sqlite:///{tmp_path}/c.db", tmp_path) as (rt, approval, runs):
        mallory = Actor("console", "mallory", "mallory")
        result = await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, mallory))
        assert result.outcome is Outcome.NOT_ALLOWED and runs_of(runs) == []
        await rt.service.on_message(console_message("deploy web to staging", session="s"))
        await rt.service.drain()
        assert len(rt.recorder.cards) == 1 and len(runs_of(runs)) == 1  # no second card, ran at once
        assert "web staging" in runs_of(runs)[0]
