"""End to end over real HTTP: Activity JSON → /api/messages → fake connector."""

from __future__ import annotations

import time

from tests.teams.conftest import teams_server
from tests.teams.fakes import PERSONAL, TENANT, message


async def test_message_posts_card_then_approve_runs_and_answers(database_url) -> None:
    async with teams_server(database_url) as srv:
        url = srv.connector.url
        started = time.monotonic()
        status, _ = await srv.post(message(url, "deploy api v2.3 to prod"))
        assert status in (200, 201, 202)
        assert time.monotonic() - started < 3
        await srv.settle()
        cards = srv.connector.cards()
        assert len(cards) == 1
        card_call = cards[0]
        assert card_call.conversation_id == PERSONAL
        attachment = card_call.body["attachments"][0]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        content = attachment["content"]
        assert content["version"] == "1.5"
        verbs = [a.get("verb") or a["card"]["actions"][0]["verb"] for a in content["actions"]]
        assert verbs == ["approve", "reject", "edit"]  # the bundled deploy rule has `editable`
        approval_id = content["actions"][0]["data"]["approval_id"]
        card_call_id = card_call.assigned_id
        approval = await srv.runtime.ledger.get(approval_id)
        assert approval.status.value == "pending"
        assert approval.thread_id == f"teams:{TENANT}:{PERSONAL}"
        assert approval.conversation.data["service_url"] == url
        assert approval.requester.id == "aaaaaaaa-0000-0000-0000-00000000a11c"

        started = time.monotonic()
        status, body = await srv.post(srv.connector.click(approval_id, "approve", user="dana"))
        assert time.monotonic() - started < 3
        assert status == 200
        assert body["statusCode"] == 200
        assert body["type"] == "application/vnd.microsoft.card.adaptive"
        assert "actions" not in body["value"]
        texts = [b.get("text", "") for b in body["value"]["body"]]
        assert any(t.startswith("Approved by Dana") for t in texts)

        await srv.settle()
        puts = [p for p in srv.connector.puts() if p.body.get("attachments")]
        assert puts and all(p.activity_id == card_call_id for p in puts)
        last = puts[-1].body["attachments"][0]["content"]
        assert "actions" not in last
        assert any("done" in b.get("text", "") for b in last["body"])
        texts = srv.connector.texts()
        assert any(t.startswith("deploy finished") for t in texts), texts
        assert any("deploy" in t and "done" in t for t in texts), texts
        done = await srv.runtime.ledger.get(approval_id)
        assert done.status.value == "done"
