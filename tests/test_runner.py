"""The runner reads what it reports (pending calls, new answers, stalls) from the events of
the run itself, without reading the thread's state around it: these pin what it must
report, against the state LangGraph keeps, on both checkpointers."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from graph.contract import ResumeValue
from graph.runner import Runner
from tests.conftest import runtime_for

TWO = "restart api in prod and restart worker in prod"


def _cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def _approve(call_id: str, content: str) -> ResumeValue:
    return {"type": "tool-call", "tool_call_id": call_id, "decision": "approve",
            "by": [{"platform": "console", "id": "dana", "name": "dana"}], "content": content}


async def _messages(rt: Any, thread: str) -> list[Any]:
    return list((await rt.graph.aget_state(_cfg(thread))).values["messages"])


async def test_resumes_report_what_waits_and_what_is_new(database_url) -> None:
    async with runtime_for(database_url) as rt:
        runner = Runner(rt.graph)
        first = await runner.start("t1", TWO, author="alice")
        assert [w.request["tool_call_args"]["service"] for w in first.waiting] == ["api", "worker"]
        assert first.answers == []
        api, worker = first.waiting

        # One of two decided: the other still waits (re-raised, same id), nobody answers yet.
        one = await runner.resume("t1", api.interrupt_id, _approve(api.request["tool_call_id"], "restarted api"))
        assert one is not None and [w.interrupt_id for w in one.waiting] == [worker.interrupt_id]
        assert one.answers == []
        count = len(await _messages(rt, "t1"))

        # The same interrupt again: LangGraph would ignore it; the runner says so and the
        # replayed result of the finished task is not reported as new.
        assert await runner.resume("t1", api.interrupt_id, _approve(api.request["tool_call_id"], "x")) is None
        assert len(await _messages(rt, "t1")) == count

        last = await runner.resume("t1", worker.interrupt_id,
                                   _approve(worker.request["tool_call_id"], "restarted worker"))
        assert last is not None and last.waiting == []
        assert len(last.answers) == 1 and "restarted api" in last.answers[0] and "restarted worker" in last.answers[0]
        final = await _messages(rt, "t1")
        assert isinstance(final[-1], AIMessage) and final[-1].content == last.answers[0]
        assert not (await rt.graph.aget_state(_cfg("t1"))).next

        # A finished thread: nothing pending, nothing runs.
        assert await runner.resume("t1", worker.interrupt_id, _approve(worker.request["tool_call_id"], "x")) is None
        assert len(await _messages(rt, "t1")) == len(final)
        assert await runner.waiting("t1") == []


async def test_settled_calls_and_the_new_message_answer_in_order(database_url) -> None:
    async with runtime_for(database_url) as rt:
        runner = Runner(rt.graph)
        (call,) = (await runner.start("t2", "restart api in prod", author="alice")).waiting
        settle = {call.interrupt_id: _approve(call.request["tool_call_id"], "restarted api")}
        result = await runner.start("t2", "status", author="bob", settle=settle)
        assert result.waiting == []
        assert len(result.answers) == 2 and "restarted api" in result.answers[0]
        ais = [m for m in await _messages(rt, "t2") if isinstance(m, AIMessage) and not m.tool_calls]
        assert [m.content for m in ais] == result.answers


async def test_a_stalled_run_is_carried_on(database_url) -> None:
    """A checkpoint left with a task to run and no interrupt (what racing resumes once
    produced): the next resume runs it, and reports the card it raises."""
    async with runtime_for(database_url) as rt:
        runner = Runner(rt.graph)
        (call,) = (await runner.start("t3", "restart api in prod", author="alice")).waiting
        done = await runner.resume("t3", call.interrupt_id, _approve(call.request["tool_call_id"], "ok"))
        assert done is not None and done.waiting == []
        # Stall it: the model's next turn asks for a gated call, but the tool task never ran.
        stalled_call = {"name": "restart", "args": {"service": "web", "environment": "prod"}, "id": "call_stalled"}
        await rt.graph.aupdate_state(_cfg("t3"), {"messages": [HumanMessage("restart web in prod"),
                                                               AIMessage("", tool_calls=[stalled_call])]},
                                     as_node="agent")
        state = await rt.graph.aget_state(_cfg("t3"))
        assert state.next == ("tool",) and not any(t.interrupts for t in state.tasks)

        carried = await runner.resume("t3", call.interrupt_id, _approve(call.request["tool_call_id"], "again"))
        assert carried is not None
        assert [w.request["tool_call_id"] for w in carried.waiting] == ["call_stalled"]
        assert not [m for m in await _messages(rt, "t3") if isinstance(m, ToolMessage)
                    and m.tool_call_id == "call_stalled"]
