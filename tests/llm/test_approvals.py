"""Parallel tool calls from a real model reply → one card each; decisions go back to the
model together, a rejection as an error ToolMessage naming who and why."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.messages import AIMessage, ToolMessage

from adapters.base import Actor, Decision, DecisionClick, Outcome
from tests.conftest import console_message
from tests.llm.conftest import llm_runtime
from tests.llm.fake_openai import FakeOpenAI, calls, text

DANA = Actor("console", "dana", "dana")
DEPLOY = ("deploy", {"service": "api", "version": "1.4.2", "environment": "prod"})
RESTART = ("restart", {"service": "web", "environment": "prod"})


def _cfg(thread: str) -> dict:
    return {"configurable": {"thread_id": thread}}


@pytest.mark.parametrize("streaming", ["false", "true"])
async def test_parallel_calls_become_separate_approvals(database_url, fake: FakeOpenAI, tmp_path,
                                                        streaming: str) -> None:
    fake.add(calls(DEPLOY, RESTART), text("Deploy and restart are both done."))
    async with llm_runtime(database_url, fake, tmp_path, CLEARANCE_LLM_STREAMING=streaming) as rt:
        await rt.service.on_message(console_message("ship api 1.4.2 to prod and bounce web in prod"))

        first = fake.requests[0]
        assert first.path == "/v1/chat/completions"
        assert first.body["model"] == "gpt-test"
        assert bool(first.body.get("stream")) is (streaming == "true")
        assert first.headers["Authorization"] == "Bearer sk-test-secret"
        assert first.messages[0]["role"] == "system" and "Clearance" in first.messages[0]["content"]
        assert first.messages[-1] == {"role": "user", "content": "ship api 1.4.2 to prod and bounce web in prod",
                                      "name": "alice"}
        assert {t["function"]["name"] for t in first.body["tools"]} == {
            "deploy", "rollback", "restart", "scale", "status"}

        assert sorted(c.tool for c in rt.recorder.cards) == ["deploy", "restart"]
        pending = await rt.ledger.approvals(status=["pending"])
        assert len({a.interrupt_id for a in pending}) == 2
        by_tool = {a.tool: a for a in pending}
        assert by_tool["deploy"].args == DEPLOY[1]  # streamed argument fragments reassembled exactly
        assert by_tool["restart"].args == RESTART[1]
        assert len(fake.requests) == 1  # the model waits for the humans

        result = await rt.service.on_decision(DecisionClick(by_tool["restart"].id, Decision.APPROVE, DANA))
        assert result.outcome is Outcome.ACCEPTED
        await rt.service.drain()
        assert len(fake.requests) == 1, "the model ran before every card was decided"

        await rt.service.on_decision(DecisionClick(by_tool["deploy"].id, Decision.APPROVE, DANA))
        await rt.service.drain()
        assert len(fake.requests) == 2
        results = [m for m in fake.requests[1].messages if m["role"] == "tool"]
        ids = {a.tool_call_id for a in pending}
        assert {m["tool_call_id"] for m in results} == ids  # both results in one request
        assert rt.recorder.texts[-1] == "Deploy and restart are both done."
        state = await rt.graph.aget_state(_cfg("console:t"))
        assert not state.next


async def test_rejection_reaches_the_model_with_who_and_why(database_url, fake: FakeOpenAI, tmp_path) -> None:
    fake.add(calls(DEPLOY, RESTART), text("The deploy was rejected by dana: freeze until Monday."))
    async with llm_runtime(database_url, fake, tmp_path) as rt:
        await rt.service.on_message(console_message("deploy api 1.4.2 to prod and restart web in prod"))
        by_tool = {a.tool: a for a in await rt.ledger.approvals(status=["pending"])}
        await rt.service.on_decision(DecisionClick(by_tool["deploy"].id, Decision.REJECT, DANA,
                                                   "freeze until Monday"))
        await rt.service.on_decision(DecisionClick(by_tool["restart"].id, Decision.APPROVE, DANA))
        await rt.service.drain()

        assert len(fake.requests) == 2
        tools = {m["tool_call_id"]: m for m in fake.requests[1].messages if m["role"] == "tool"}
        rejected = tools[by_tool["deploy"].tool_call_id]["content"]
        assert "Rejected by dana: freeze until Monday" in rejected and "not executed" in rejected
        assert "web" in tools[by_tool["restart"].tool_call_id]["content"]
        assert rt.recorder.texts[-1] == "The deploy was rejected by dana: freeze until Monday."
        state = await rt.graph.aget_state(_cfg("console:t"))
        statuses = {m.tool_call_id: m.status for m in state.values["messages"] if isinstance(m, ToolMessage)}
        assert statuses[by_tool["deploy"].tool_call_id] == "error"
        assert statuses[by_tool["restart"].tool_call_id] == "success"


async def test_ungated_calls_run_at_once_and_bad_calls_get_error_results(fake: FakeOpenAI, tmp_path) -> None:
    """An unknown tool and arguments that fail the schema give an error ToolMessage and no
    card; an ungated call runs in the same step; all results reach the model together."""
    fake.add(
        calls(("launch_rockets", {"count": 3}),
              ("deploy", {"service": "database", "environment": "prod"}),
              ("status", {"environment": "prod"})),
        text("I could not do two of those."),
    )
    async with llm_runtime(f"sqlite:///{tmp_path}/c.db", fake, tmp_path) as rt:
        await rt.service.on_message(console_message("do things"))
        assert rt.recorder.cards == []
        assert await rt.ledger.approvals(status=["pending"]) == []
        assert len(fake.requests) == 2
        tools = [m for m in fake.requests[1].messages if m["role"] == "tool"]
        assert len(tools) == 3
        contents = [m["content"] for m in tools]
        assert any("Unknown tool 'launch_rockets'" in c and "deploy" in c for c in contents)
        assert any(c.startswith("Invalid arguments") and "database" in c for c in contents)
        assert any("no services deployed yet" in c for c in contents)
        assert rt.recorder.texts == ["I could not do two of those."]
        state = await rt.graph.aget_state(_cfg("console:t"))
        errors = [m for m in state.values["messages"] if isinstance(m, ToolMessage) and m.status == "error"]
        assert len(errors) == 2
        assert isinstance(state.values["messages"][-1], AIMessage) and not state.next


EXPIRING_TOOLS = """
tools:
  - name: purge_cache
    description: Purge the CDN cache of a site
    parameters:
      type: object
      properties:
        site: {type: string, enum: [www, docs]}
      required: [site]
      additionalProperties: false
    approval:
      - expires_after: 300ms
    run:
      python: "graph.demo:status"
"""


async def test_expiry_reaches_the_model(fake: FakeOpenAI, tmp_path) -> None:
    fake.add(calls(("purge_cache", {"site": "www"})), text("Nobody approved the purge in time."))
    async with llm_runtime(f"sqlite:///{tmp_path}/c.db", fake, tmp_path, tools_yaml=EXPIRING_TOOLS) as rt:
        await rt.service.on_message(console_message("purge the www cache"))
        assert [c.tool for c in rt.recorder.cards] == ["purge_cache"]
        for _ in range(100):  # bounded: the rule expires after 0.3 s
            if await rt.service.sweep():
                break
            await asyncio.sleep(0.05)
        await rt.service.drain()
        assert len(fake.requests) == 2
        (result,) = [m for m in fake.requests[1].messages if m["role"] == "tool"]
        assert result["content"].startswith("Expired: nobody approved the call in time")
        assert rt.recorder.texts[-1] == "Nobody approved the purge in time."
