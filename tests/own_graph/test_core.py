"""Your own graph behind the chats, at the flow's level (a recording adapter; the platforms'
wire formats are tested end to end beside this): every interrupt dialect becomes cards with
the same rules, and is resumed exactly once with the value the graph reads."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.base import Actor, Decision, DecisionClick, Outcome
from bot.approvals.models import Status
from tests.conftest import console_message
from tests.llm.fake_openai import FakeOpenAI, calls, text
from tests.own_graph.conftest import own_runtime, ran

DANA = Actor("console", "dana", "dana")
ERIN = Actor("console", "erin", "erin")
DEPLOY = ("deploy", {"service": "api", "version": "v2.3", "environment": "prod"})
RESTART = ("restart", {"service": "web", "environment": "prod"})


def _tool_messages(fake: FakeOpenAI, request: int) -> list[dict]:
    return [m for m in fake.requests[request].messages if m["role"] == "tool"]


async def _pending(rt, tool: str):  # type: ignore[no-untyped-def]
    return next(a for a in await rt.ledger.approvals(status=[Status.PENDING]) if a.tool == tool)


async def test_batched_middleware_one_card_per_action_one_resume(database_url, fake: FakeOpenAI,
                                                                 tmp_path: Path) -> None:
    fake.add(calls(DEPLOY, RESTART), text("Deployed; the restart was rejected."))
    async with own_runtime(database_url, "hitl", tmp_path) as rt:
        await rt.service.on_message(console_message("ship api v2.3 to prod and restart web"))
        cards = {c.tool: c for c in rt.recorder.cards}
        assert set(cards) == {"deploy", "restart"}
        assert cards["deploy"].actions == (Decision.APPROVE, Decision.REJECT, Decision.EDIT, Decision.RESPOND)
        assert cards["restart"].actions == (Decision.APPROVE, Decision.REJECT)
        assert "Tool execution requires approval" in cards["deploy"].description
        deploy, restart = await _pending(rt, "deploy"), await _pending(rt, "restart")
        assert deploy.graph_interrupt_id == restart.graph_interrupt_id  # one interrupt, two cards

        refused = await rt.service.on_decision(DecisionClick(restart.id, Decision.RESPOND, DANA, reason="no"))
        assert refused.outcome is Outcome.NOT_ALLOWED  # the middleware allows no reply for restart
        await rt.service.on_decision(DecisionClick(restart.id, Decision.REJECT, DANA, reason="not during the incident"))
        await rt.service.drain()
        assert len(fake.requests) == 1, "resumed before the last card of the batch was decided"

        await rt.service.on_decision(DecisionClick(deploy.id, Decision.APPROVE, DANA))
        await rt.service.drain()
        assert ran(tmp_path) == ["deployed api v2.3 to prod"]
        messages = {m["tool_call_id"]: m["content"] for m in _tool_messages(fake, 1)}
        assert any("Rejected by dana: not during the incident" in c for c in messages.values())
        assert "Deployed; the restart was rejected." in rt.recorder.texts
        for approval in await rt.ledger.approvals():
            assert approval.resumed_at is not None


async def test_batched_edit_and_reply(database_url, fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.add(calls(DEPLOY, ("deploy", {"service": "web", "version": "v1", "environment": "staging"})), text("ok"))
    async with own_runtime(database_url, "hitl", tmp_path) as rt:
        await rt.service.on_message(console_message("two deploys"))
        first, second = sorted(await rt.ledger.approvals(status=[Status.PENDING]), key=lambda a: a.asked.part)
        edited = await rt.service.on_decision(DecisionClick(first.id, Decision.EDIT, DANA, args={"version": "v2.4"}))
        assert edited.outcome is Outcome.ACCEPTED
        own = await rt.service.on_decision(DecisionClick(first.id, Decision.APPROVE, DANA))
        assert own.outcome is Outcome.NOT_ALLOWED  # the editor cannot approve their own edit
        await rt.service.on_decision(DecisionClick(first.id, Decision.APPROVE, ERIN))
        await rt.service.on_decision(DecisionClick(second.id, Decision.RESPOND, ERIN, reason="use the blue-green path"))
        await rt.service.drain()
        assert ran(tmp_path) == ["deployed api v2.4 to prod"]  # the edited call ran, the answered one did not
        contents = [m["content"] for m in _tool_messages(fake, 1)]
        assert "use the blue-green path" in contents
        assert any("deployed api v2.4 to prod" in c for c in contents)


async def test_per_call_middleware_resumes_each_card_alone(database_url, fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.add(calls(DEPLOY, RESTART), text("both done"))
    async with own_runtime(database_url, "per_call", tmp_path) as rt:
        await rt.service.on_message(console_message("ship and restart"))
        deploy, restart = await _pending(rt, "deploy"), await _pending(rt, "restart")
        assert deploy.graph_interrupt_id != restart.graph_interrupt_id
        await rt.service.on_decision(DecisionClick(deploy.id, Decision.APPROVE, DANA))
        await rt.service.drain()
        assert ran(tmp_path) == ["deployed api v2.3 to prod"]
        assert len(fake.requests) == 1
        await rt.service.on_decision(DecisionClick(restart.id, Decision.APPROVE, DANA))
        await rt.service.drain()
        assert ran(tmp_path) == ["deployed api v2.3 to prod", "restarted web in prod"]
        assert "both done" in rt.recorder.texts


async def test_tutorial_agent_in_a_parent_graph_with_rules_from_tools_yml(database_url, fake: FakeOpenAI,
                                                                         tmp_path: Path) -> None:
    rules = """
tools:
  - name: deploy
    approval:
      - when: {environment: prod}
        quorum: 2
"""
    fake.add(calls(("gated_deploy", DEPLOY[1])), text("Deployed."))
    async with own_runtime(database_url, "tutorial", tmp_path, rules) as rt:
        await rt.service.on_message(console_message("ship api"))
        (card,) = rt.recorder.cards
        assert card.tool == "deploy" and card.quorum == 2
        approval = await _pending(rt, "deploy")
        await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA))
        await rt.service.drain()
        assert ran(tmp_path) == [] and len(fake.requests) == 1
        await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, ERIN))
        await rt.service.drain()
        assert ran(tmp_path) == ["deployed api v2.3 to prod"]  # the graph's own tool did the work
        done = await rt.ledger.get(approval.id)
        assert done is not None and done.status is Status.APPROVED and done.resumed_at is not None
        assert "Deployed." in rt.recorder.texts


async def test_a_message_while_cards_wait_is_queued_and_runs_after_them(database_url, fake: FakeOpenAI,
                                                                       tmp_path: Path) -> None:
    fake.add(calls(DEPLOY), text("Deployed."), text("Status: all green."))
    async with own_runtime(database_url, "per_call", tmp_path) as rt:
        await rt.service.on_message(console_message("ship api"))
        await rt.service.on_message(console_message("and how is everything?", user="erin"))
        assert any(t.startswith("Your message is queued") for t in rt.recorder.texts)
        assert len(fake.requests) == 1
        approval = await _pending(rt, "deploy")
        await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA))
        await rt.service.drain()
        assert len(fake.requests) == 3
        assert fake.requests[2].messages[-1]["content"] == "and how is everything?"
        assert rt.recorder.texts[-2:] == ["Deployed.", "Status: all green."]
        assert await rt.service.queue.waiting("console:t") == 0


async def test_a_question_is_answered_by_the_next_message(database_url, fake: FakeOpenAI, tmp_path: Path) -> None:
    async with own_runtime(database_url, "asking", tmp_path) as rt:
        await rt.service.on_message(console_message("deploy api"))
        assert any('"question": "Which environment?"' in t for t in rt.recorder.texts)
        await rt.service.on_message(console_message("staging"))
        assert rt.recorder.texts[-1] == "Deploying to staging."
        assert rt.recorder.cards == []


async def test_racing_decisions_on_the_last_cards_of_a_batch_resume_once(database_url, fake: FakeOpenAI,
                                                                          tmp_path: Path) -> None:
    fake.add(calls(DEPLOY, RESTART), text("done"))
    async with own_runtime(database_url, "hitl", tmp_path) as rt:
        await rt.service.on_message(console_message("both"))
        deploy, restart = await _pending(rt, "deploy"), await _pending(rt, "restart")
        results = await asyncio.gather(
            rt.service.on_decision(DecisionClick(deploy.id, Decision.APPROVE, DANA)),
            rt.service.on_decision(DecisionClick(deploy.id, Decision.APPROVE, ERIN)),
            rt.service.on_decision(DecisionClick(restart.id, Decision.APPROVE, ERIN)),
            rt.service.on_decision(DecisionClick(restart.id, Decision.APPROVE, DANA)))
        assert sorted(r.outcome.value for r in results).count("accepted") == 2
        await rt.service.drain()
        await rt.service.sweep()
        await rt.service.drain()
        assert sorted(ran(tmp_path)) == ["deployed api v2.3 to prod", "restarted web in prod"]
        assert len(fake.requests) == 2
        trail = [r for r in await rt.ledger.audit_trail() if r["event"] == "resumed"]
        assert len(trail) == 2  # one row per card, from one resume
