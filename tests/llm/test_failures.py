"""LLM failures: 5xx, 429 and timeouts are retried with backoff by the real client; when the
model stays unreachable the thread gets one clear message, the run and its approvals stay in
the checkpoint, and the next message carries on from there."""

from __future__ import annotations

import logging
import time

import pytest
from langchain_core.messages import HumanMessage, ToolMessage

from adapters.base import Actor, Decision, DecisionClick
from tests.conftest import console_message
from tests.llm.conftest import llm_runtime
from tests.llm.fake_openai import FakeOpenAI, calls, error, slow, text

DANA = Actor("console", "dana", "dana")
CFG = {"configurable": {"thread_id": "console:t"}}


@pytest.mark.parametrize("streaming", ["false", "true"])
async def test_server_error_then_success_is_retried(fake: FakeOpenAI, tmp_path, streaming: str) -> None:
    fake.add(error(500, "upstream exploded"), error(503, "overloaded"), text("All good."))
    async with llm_runtime(f"sqlite:///{tmp_path}/c.db", fake, tmp_path, CLEARANCE_LLM_STREAMING=streaming) as rt:
        await rt.service.on_message(console_message("hello"))
        assert len(fake.requests) == 3
        assert fake.requests[0].body == fake.requests[2].body  # the same request, resent
        assert rt.recorder.texts == ["All good."]


async def test_rate_limit_honours_retry_after(fake: FakeOpenAI, tmp_path) -> None:
    fake.add(error(429, "Rate limit reached", **{"Retry-After": "1"}), text("Sorry for the wait."))
    async with llm_runtime(f"sqlite:///{tmp_path}/c.db", fake, tmp_path) as rt:
        await rt.service.on_message(console_message("hello"))
        assert len(fake.requests) == 2
        assert fake.requests[1].at - fake.requests[0].at >= 0.9  # waited as the server asked
        assert rt.recorder.texts == ["Sorry for the wait."]


async def test_timeout_is_retried(fake: FakeOpenAI, tmp_path) -> None:
    fake.add(slow(2.0, text("too late")), text("On time."))
    async with llm_runtime(f"sqlite:///{tmp_path}/c.db", fake, tmp_path, CLEARANCE_LLM_TIMEOUT="0.5") as rt:
        await rt.service.on_message(console_message("hello"))
        assert len(fake.requests) == 2
        assert rt.recorder.texts == ["On time."]


async def test_retries_exhausted_gives_one_clear_message(fake: FakeOpenAI, tmp_path, caplog) -> None:
    fake.add(*[error(500, "down") for _ in range(3)], text("Back again."))
    async with llm_runtime(f"sqlite:///{tmp_path}/c.db", fake, tmp_path, CLEARANCE_LLM_MAX_RETRIES="2") as rt:
        with caplog.at_level(logging.DEBUG):
            await rt.service.on_message(console_message("hello"))
        assert len(fake.requests) == 3  # one try and two retries
        assert len(rt.recorder.texts) == 1
        assert "HTTP 500" in rt.recorder.texts[0] and "try again" in rt.recorder.texts[0]
        assert "sk-test-secret" not in caplog.text  # the key never reaches the logs

        await rt.service.on_message(console_message("again please"))
        assert rt.recorder.texts[-1] == "Back again."
        assert len(fake.requests) == 4  # the stale pending step did not call the model twice
        sent = [m for m in fake.requests[-1].messages if m["role"] == "user"]
        assert [m["content"] for m in sent] == ["hello", "again please"]  # the first one was kept


async def test_server_down_keeps_run_and_approvals_and_next_message_works(database_url, tmp_path) -> None:
    async with FakeOpenAI(calls(("deploy", {"service": "api", "environment": "prod"}),
                                ("restart", {"service": "web", "environment": "prod"}))) as fake:
        port = fake.base_url
        async with llm_runtime(database_url, fake, tmp_path, CLEARANCE_LLM_MAX_RETRIES="1") as rt:
            await rt.service.on_message(console_message("deploy api to prod and restart web in prod"))
            by_tool = {a.tool: a for a in await rt.ledger.approvals(status=["pending"])}
            assert set(by_tool) == {"deploy", "restart"}
            port = fake.port
            await fake.stop()  # connection refused from now on

            await rt.service.on_decision(DecisionClick(by_tool["restart"].id, Decision.APPROVE, DANA))
            await rt.service.drain()
            assert len(await rt.ledger.approvals(status=["pending"])) == 1  # the other card is kept

            texts_before = len(rt.recorder.texts)
            await rt.service.on_decision(DecisionClick(by_tool["deploy"].id, Decision.APPROVE, DANA))
            await rt.service.drain()
            failures = [t for t in rt.recorder.texts[texts_before:] if t.startswith("Sorry")]
            assert len(failures) == 1
            assert "could not reach the language model" in failures[0]
            assert "send a message in this thread" in failures[0]

            state = await rt.graph.aget_state(CFG)
            results = [m for m in state.values["messages"] if isinstance(m, ToolMessage)]
            assert len(results) == 2 and all(m.status == "success" for m in results)  # run intact
            assert state.next == ("agent",)
            assert {a.status.value for a in await rt.ledger.approvals()} == {"done"}

            async with FakeOpenAI(text("Both done: api deployed, web restarted."), port=port) as back:
                await rt.service.on_message(console_message("so?"))
                assert rt.recorder.texts[-1] == "Both done: api deployed, web restarted."
                assert len(back.requests) == 1
                sent = back.requests[0].messages
                assert [m["role"] for m in sent[-4:]] == ["assistant", "tool", "tool", "user"]
                state = await rt.graph.aget_state(CFG)
                assert not state.next
                humans = [m for m in state.values["messages"] if isinstance(m, HumanMessage)]
                assert [m.content for m in humans] == ["deploy api to prod and restart web in prod", "so?"]


async def test_unreachable_server_fails_fast_with_one_message(tmp_path) -> None:
    """Nothing listens on the port at all (wrong OPENAI_BASE_URL): bounded retries, then one
    message; the alias planner is not silently used instead."""
    async with FakeOpenAI() as fake:
        pass  # started and stopped: a port that refuses connections
    async with llm_runtime(f"sqlite:///{tmp_path}/c.db", fake, tmp_path, CLEARANCE_LLM_MAX_RETRIES="0") as rt:
        started = time.monotonic()
        await rt.service.on_message(console_message("restart api in prod"))
        assert time.monotonic() - started < 5
        assert len(rt.recorder.texts) == 1 and rt.recorder.texts[0].startswith("Sorry, I could not reach")
        assert rt.recorder.cards == []
