"""Fan-out: one card per parallel call, decided in any order; the model runs again only
after the last decision, and each result lands in its own ToolMessage."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, ToolMessage

from adapters.base import Actor, Decision, DecisionClick, Outcome
from tests.conftest import console_message, runtime_for

DANA = Actor("console", "dana", "dana")
MSG = "restart api in prod and restart worker in prod and restart web in prod"


def _cfg(thread: str) -> dict:
    return {"configurable": {"thread_id": thread}}


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 0, 1)])
async def test_three_calls_three_cards_decided_in_any_order(database_url, order) -> None:
    async with runtime_for(database_url) as rt:
        svc = rt.service
        await svc.on_message(console_message(MSG))
        cards = rt.recorder.cards
        assert [c.tool for c in cards] == ["restart"] * 3
        pending = await rt.ledger.approvals(status=["pending"])
        assert len({a.interrupt_id for a in pending}) == 3
        by_service = {a.args["service"]: a for a in pending}
        assert set(by_service) == {"api", "worker", "web"}

        ai_before = None
        for step, index in enumerate(order):
            approval = pending[index]
            result = await svc.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA))
            assert result.outcome is Outcome.ACCEPTED
            await svc.drain()
            state = await rt.graph.aget_state(_cfg(approval.thread_id))
            ais = [m for m in state.values["messages"] if isinstance(m, AIMessage)]
            if ai_before is None:
                ai_before = len(ais)
            if step < 2:
                assert len(ais) == ai_before, "the model ran before every card was decided"
                assert state.next == ("tool",) or "tool" in state.next
            else:
                assert len(ais) == ai_before + 1 and not state.next

        state = await rt.graph.aget_state(_cfg(pending[0].thread_id))
        tools = [m for m in state.values["messages"] if isinstance(m, ToolMessage)]
        assert len(tools) == 3
        call_args = {tc["id"]: tc["args"] for m in state.values["messages"]
                     if isinstance(m, AIMessage) for tc in m.tool_calls}
        for msg in tools:
            assert call_args[msg.tool_call_id]["service"] in msg.content
            assert msg.status == "success"
        done = await rt.ledger.approvals(status=["done"])
        assert len(done) == 3
        assert "restart: done" in rt.recorder.texts[-1]
