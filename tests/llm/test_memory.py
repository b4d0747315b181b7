"""Conversation memory: the model sees the thread's history from the checkpoint, trimmed at
turn boundaries so long threads stay within the context budget."""

from __future__ import annotations

import json

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from graph.memory import make_trimmer
from tests.conftest import console_message
from tests.llm.conftest import llm_runtime
from tests.llm.fake_openai import FakeOpenAI, calls, check_messages, text

BUDGET = 800  # tokens, approximate (about 4 characters each)


def _turn(n: int, size: int = 400) -> list:
    call_id = f"call_{n}"
    return [
        HumanMessage(f"question {n} " + "x" * size, id=f"h{n}"),
        AIMessage("", tool_calls=[{"name": "status", "args": {}, "id": call_id, "type": "tool_call"}], id=f"a{n}"),
        ToolMessage("y" * size, tool_call_id=call_id, id=f"t{n}"),
        AIMessage(f"answer {n}", id=f"r{n}"),
    ]


def test_trimmer_keeps_whole_recent_turns() -> None:
    history = [m for n in range(20) for m in _turn(n)]
    kept = make_trimmer(BUDGET)(history)
    assert isinstance(kept[0], HumanMessage)
    assert kept[-1] is history[-1]
    assert 0 < len(kept) < len(history) and len(kept) % 4 == 0  # whole turns only
    calls_seen = {tc["id"] for m in kept if isinstance(m, AIMessage) for tc in m.tool_calls}
    answered = {m.tool_call_id for m in kept if isinstance(m, ToolMessage)}
    assert calls_seen == answered


def test_trimmer_keeps_an_oversized_current_turn_whole() -> None:
    history = _turn(0) + _turn(1, size=20_000)[:3]  # a huge tool result, the model not yet called
    kept = make_trimmer(BUDGET)(history)
    assert kept == history[4:]


def test_short_history_is_untouched() -> None:
    history = _turn(0, size=10)
    assert make_trimmer(BUDGET)(history) == history


async def test_long_thread_requests_stay_under_the_budget(fake: FakeOpenAI, tmp_path) -> None:
    turns = 24
    for n in range(turns):
        if n % 3 == 0:  # some turns use an ungated tool, so the history holds call/result pairs
            fake.add(calls(("status", {"environment": "prod"})))
        fake.add(text(f"answer {n}: " + "all quiet " * 30))
    async with llm_runtime(f"sqlite:///{tmp_path}/c.db", fake, tmp_path,
                           CLEARANCE_LLM_CONTEXT_TOKENS=str(BUDGET)) as rt:
        for n in range(turns):
            await rt.service.on_message(console_message(f"turn {n}: " + "how are things? " * 20))
        assert not any(t.startswith("Sorry") for t in rt.recorder.texts)
        assert rt.recorder.texts[-1].startswith(f"answer {turns - 1}:")

        sizes = []
        for req in fake.requests:
            history = req.messages[1:]  # after the system prompt
            assert history[0]["role"] == "user"  # cut at a turn boundary
            assert check_messages(req.messages) is None  # no call without its result, or vice versa
            sizes.append(len(json.dumps(history)))
        assert max(sizes) < BUDGET * 4 * 1.5  # ≈ the budget; untrimmed the last one would be ~10x
        assert fake.requests[-1].messages[-1]["content"].startswith(f"turn {turns - 1}:")

        state = await rt.graph.aget_state({"configurable": {"thread_id": "console:t"}})
        humans = [m for m in state.values["messages"] if isinstance(m, HumanMessage)]
        assert len(humans) == turns  # the checkpoint keeps everything; only the request is cut
