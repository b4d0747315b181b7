"""The agent on a real LangGraph Agent Server (`langgraph dev`): a chat message becomes a run on
the server thread mapped to the chat thread, every task's interrupts become cards, decisions
resume the server's run exactly once, and the new AI messages are posted."""

from __future__ import annotations

from pathlib import Path

from langgraph_sdk import get_client

from adapters.base import Actor, Decision, DecisionClick
from bot.approvals.models import Status
from tests.agent_server.conftest import ran
from tests.agent_server.devserver import DevServer
from tests.conftest import console_message, runtime_for
from tests.llm.fake_openai import FakeOpenAI, calls, text

DANA = Actor("console", "dana", "dana")
DEPLOY = ("deploy", {"service": "api", "version": "v2.3", "environment": "prod"})
RESTART = ("restart", {"service": "web", "environment": "prod"})


async def test_chat_cards_and_resume_on_the_server(database_url, model: FakeOpenAI, agent_server: DevServer,
                                                   tmp_path: Path) -> None:
    model.add(calls(DEPLOY, RESTART), text("Deployed api and restarted web."), text("All green."))
    async with runtime_for(database_url, tmp_path=tmp_path, CLEARANCE_LANGGRAPH_URL=agent_server.url) as rt:
        await rt.service.on_message(console_message("ship api and restart web"))
        assert sorted(c.tool for c in rt.recorder.cards) == ["deploy", "restart"]
        server_thread = await rt.agent_server.threads.server_thread("console:t")
        thread = await get_client(url=agent_server.url, api_key=None).threads.get(server_thread)
        assert thread["metadata"]["clearance_thread"] == "console:t"
        assert thread["status"] == "interrupted"

        for approval in await rt.ledger.approvals(status=[Status.PENDING]):
            await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA))
            await rt.service.drain()
        assert sorted(ran(tmp_path)) == ["deployed api v2.3 to prod", "restarted web in prod"]
        assert "Deployed api and restarted web." in rt.recorder.texts
        assert all(a.resumed_at is not None for a in await rt.ledger.approvals())

        await rt.service.on_message(console_message("and now?"))  # the same server thread, a new run
        assert rt.recorder.texts[-1] == "All green."
        assert await rt.agent_server.threads.server_thread("console:t") == server_thread
        assert len(model.requests) == 3
