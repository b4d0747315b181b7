"""A message while a card waits, with a real OpenAI client: the history the model receives
never has a tool call without its result, and no model call is spent on the deferral."""

from __future__ import annotations

from adapters.base import Actor, Decision, DecisionClick
from bot.approvals.models import Status
from tests.conftest import console_message
from tests.llm.conftest import llm_runtime
from tests.llm.fake_openai import FakeOpenAI, calls, text

DANA = Actor("console", "dana", "dana")


async def test_the_model_never_sees_an_orphan_tool_call(database_url, fake: FakeOpenAI, tmp_path) -> None:
    fake.add(calls(("deploy", {"service": "api", "version": "1.4.2", "environment": "prod"})),
             text("api runs 1.4.1; the deploy still waits for approval."),
             text("The deploy of api 1.4.2 is done."))
    async with llm_runtime(database_url, fake, tmp_path) as rt:
        await rt.service.on_message(console_message("ship api 1.4.2 to prod"))
        [card] = await rt.ledger.approvals(status=[Status.PENDING])
        await rt.service.on_message(console_message("what's the status of api?"))
        assert len(fake.requests) == 2  # no model call for the deferral itself
        assert rt.recorder.texts[-1] == "api runs 1.4.1; the deploy still waits for approval."
        await rt.service.on_decision(DecisionClick(card.id, Decision.APPROVE, DANA))
        await rt.service.drain()
        assert len(fake.requests) == 3
        assert rt.recorder.texts[-1] == "The deploy of api 1.4.2 is done."
        for request in fake.requests:
            asked = [tc["id"] for m in request.messages if m["role"] == "assistant" for tc in m.get("tool_calls") or []]
            answered = [m["tool_call_id"] for m in request.messages if m["role"] == "tool"]
            assert sorted(asked) == sorted(answered)
        last = fake.requests[2].messages
        assert last[-1]["role"] == "user" and last[-1].get("name") == "clearance"
        assert last[-1]["content"].startswith(f"[{card.id}] deploy(")
        assert "approved by dana — result:" in last[-1]["content"]
