"""The graph's gated calls under Clearance's rules: `default_approval:` for tools with no
entry, a rule-only entry's quorum and expiry, expiry told to the middleware as a rejection
that says so, and a queued message that survives a restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from adapters.base import Actor, Decision, DecisionClick, Outcome
from bot.approvals.models import Status
from tests.conftest import console_message
from tests.llm.fake_openai import FakeOpenAI, calls, text
from tests.own_graph.conftest import own_runtime, ran

DANA = Actor("console", "dana", "dana")
ERIN = Actor("console", "erin", "erin")
RESTART = ("restart", {"service": "web", "environment": "prod"})
RULES = """
tools:
  - name: deploy
    approval:
      - approvers: ["console:dana"]
        expires_after: 1s
default_approval:
  - approvers: ["console:erin"]
"""


async def test_default_approval_and_expiry_as_a_rejection_that_says_so(database_url, fake: FakeOpenAI,
                                                                     tmp_path: Path) -> None:
    fake.add(calls(("deploy", {"service": "api", "version": "v1", "environment": "prod"}), RESTART), text("ok"))
    async with own_runtime(database_url, "hitl", tmp_path, RULES) as rt:
        await rt.service.on_message(console_message("deploy and restart"))
        pending = {a.tool: a for a in await rt.ledger.approvals(status=[Status.PENDING])}
        refused = await rt.service.on_decision(DecisionClick(pending["restart"].id, Decision.APPROVE, DANA))
        assert refused.outcome is Outcome.NOT_ALLOWED  # restart has no entry: default_approval says erin
        accepted = await rt.service.on_decision(DecisionClick(pending["restart"].id, Decision.APPROVE, ERIN))
        assert accepted.outcome is Outcome.ACCEPTED
        await rt.service.drain()
        assert len(fake.requests) == 1
        time.sleep(1.1)  # past the deploy card's expiry
        await rt.service.sweep()
        await rt.service.drain()
        assert (await rt.ledger.get(pending["deploy"].id)).status is Status.EXPIRED  # type: ignore[union-attr]
        assert ran(tmp_path) == ["restarted web in prod"]
        tool_messages = [m["content"] for m in fake.requests[1].messages if m["role"] == "tool"]
        assert any("Expired: nobody decided in time" in c for c in tool_messages), tool_messages


async def test_a_queued_message_survives_a_restart(database_url, fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.add(calls(RESTART), text("Restarted."), text("Everything is green."))
    async with own_runtime(database_url, "per_call", tmp_path) as rt:
        await rt.service.on_message(console_message("restart web"))
        await rt.service.on_message(console_message("then tell me the status", user="erin"))
        assert await rt.service.queue.waiting("console:t") == 1
        approval_id = (await rt.ledger.approvals(status=[Status.PENDING]))[0].id
    async with own_runtime(database_url, "per_call", tmp_path) as rt:
        await rt.service.on_decision(DecisionClick(approval_id, Decision.APPROVE, DANA))
        await rt.service.drain()
        assert rt.recorder.texts[-2:] == ["Restarted.", "Everything is green."]
        assert fake.requests[-1].messages[-1]["content"] == "then tell me the status"
        assert await rt.service.queue.waiting("console:t") == 0


async def test_a_crash_between_the_last_decision_and_the_resume_is_finished_by_the_sweeper(
        database_url, fake: FakeOpenAI, tmp_path: Path) -> None:
    """Both cards of a batch claimed, then the process dies before resuming: the claims are in
    the ledger and nothing else happened. The sweeper resumes the batch once."""
    from bot.approvals import policy

    fake.add(calls(("deploy", {"service": "api", "version": "v1", "environment": "prod"}), RESTART), text("ok"))
    async with own_runtime(database_url, "hitl", tmp_path) as rt:
        await rt.service.on_message(console_message("deploy and restart"))
        for approval in await rt.ledger.approvals(status=[Status.PENDING]):
            verdict = policy.evaluate(approval, DANA, Decision.APPROVE, now=time.time())
            assert verdict.status is not None
            assert await rt.ledger.decide(approval, verdict.status, verdict.decisions) is not None
    async with own_runtime(database_url, "hitl", tmp_path) as rt:
        real = rt.service.clock
        rt.service.clock = lambda: real() + 30
        await asyncio.gather(rt.service.sweep(), rt.service.sweep())
        await rt.service.drain()
        await rt.service.sweep()
        assert sorted(ran(tmp_path)) == ["deployed api v1 to prod", "restarted web in prod"]
        assert len(fake.requests) == 2
        assert all(a.resumed_at is not None for a in await rt.ledger.approvals())
