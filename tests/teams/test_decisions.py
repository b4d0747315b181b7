"""Clicks over real HTTP: reject with reason, refusals, double clicks, parallel cards,
member lookup, restart."""

from __future__ import annotations

import asyncio

from tests.teams.conftest import TeamsServer, teams_server
from tests.teams.fakes import CHANNEL, GROUP, USERS, fake_connector, message

ONLY_DANA = f"""
tools:
  - name: deploy
    description: Deploy a service version to an environment
    parameters:
      type: object
      properties:
        service: {{type: string}}
        version: {{type: string}}
        environment: {{type: string}}
      required: [service, environment]
    aliases:
      - "deploy {{service}} {{version}} to {{environment}}"
    approval:
      - approvers: ["teams:{USERS['dana'][1]}"]
        allow_self_approval: false
        expires_after: 30m
    run:
      python: "graph.demo:deploy"
"""


async def _card(srv: TeamsServer, text: str, **kwargs) -> str:  # type: ignore[no-untyped-def]
    status, _ = await srv.post(message(srv.connector.url, text, **kwargs))
    assert status in (200, 201, 202)
    await srv.settle()
    card = srv.connector.cards()[-1].body["attachments"][0]["content"]
    # When the rule lists its Teams approvers, only they see the buttons: the posted card
    # carries the approval in its refresh.
    return (card.get("refresh", {}).get("action") or card["actions"][0])["data"]["approval_id"]


def _card_texts(content: dict) -> list[str]:
    return [b.get("text", "") for b in content["body"]]


async def test_reject_with_reason_updates_card_and_tells_the_model(database_url) -> None:
    async with teams_server(database_url) as srv:
        approval_id = await _card(srv, "deploy api v2.3 to prod", conversation_id=GROUP)
        status, body = await srv.post(srv.connector.click(approval_id, "reject", user="dana",
                                                  reason="freeze until Monday", conversation_id=GROUP))
        assert status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
        assert "Rejected by Dana: freeze until Monday" in _card_texts(body["value"])
        assert "actions" not in body["value"]
        await srv.settle()
        puts = [p for p in srv.connector.puts() if p.body.get("attachments")]
        assert len(puts) == 1 and puts[0].conversation_id == GROUP
        assert "Rejected by Dana: freeze until Monday" in _card_texts(puts[0].body["attachments"][0]["content"])
        approval = await srv.runtime.ledger.get(approval_id)
        assert approval.status.value == "rejected" and approval.reason == "freeze until Monday"
        assert not any("Running" in t for t in srv.connector.texts())
        assert any("reject" in t.lower() for t in srv.connector.texts()), srv.connector.texts()


async def test_non_approver_and_self_approval_are_told_why_and_nothing_changes(database_url, tmp_path) -> None:
    async with teams_server(database_url, tools_yaml=ONLY_DANA, tmp_path=tmp_path) as srv:
        approval_id = await _card(srv, "deploy api v2.3 to prod")
        before = len(srv.connector.calls)
        for user, expected in (("erin", "not an approver"), ("alice", "not an approver")):
            status, body = await srv.post(srv.connector.click(approval_id, "approve", user=user))
            assert status == 200
            assert body == {"statusCode": 200, "type": "application/vnd.microsoft.activity.message",
                            "value": body["value"]}
            assert expected in body["value"]
        await srv.settle()
        assert len(srv.connector.calls) == before  # no PUT, no post
        assert (await srv.runtime.ledger.get(approval_id)).status.value == "pending"


async def test_self_approval_refused(database_url) -> None:
    async with teams_server(database_url) as srv:
        approval_id = await _card(srv, "deploy api v2.3 to prod")
        status, body = await srv.post(srv.connector.click(approval_id, "approve", user="alice"))
        assert status == 200 and body["type"] == "application/vnd.microsoft.activity.message"
        assert "someone else has to approve" in body["value"]
        await srv.settle()
        assert not srv.connector.puts()
        assert (await srv.runtime.ledger.get(approval_id)).status.value == "pending"


async def test_double_invoke_executes_once_and_the_loser_learns_who_won(database_url) -> None:
    async with teams_server(database_url) as srv:
        approval_id = await _card(srv, "deploy api v2.3 to prod", conversation_id=CHANNEL)
        results = await asyncio.gather(
            srv.post(srv.connector.click(approval_id, "approve", user="dana", conversation_id=CHANNEL)),
            srv.post(srv.connector.click(approval_id, "approve", user="erin", conversation_id=CHANNEL)),
        )
        assert [status for status, _ in results] == [200, 200]
        kinds = sorted(body["type"] for _, body in results)
        assert kinds == ["application/vnd.microsoft.activity.message", "application/vnd.microsoft.card.adaptive"]
        loser = next(body for _, body in results if body["type"].endswith("activity.message"))
        assert loser["value"].startswith("Already approved by")
        # A late third click (after the run) is refused the same way.
        await srv.settle()
        status, body = await srv.post(srv.connector.click(approval_id, "approve", user="erin", conversation_id=CHANNEL))
        assert body["type"].endswith("activity.message") and "Already approved by" in body["value"]
        await srv.settle()
        running = [t for t in srv.connector.texts() if t.startswith("Running deploy")]
        finished = [t for t in srv.connector.texts() if t.startswith("deploy finished")]
        assert len(running) == 1 and len(finished) == 1
        trail = await srv.runtime.ledger.audit_trail(since=0)
        assert [r["event"] for r in trail].count("resumed") == 1


async def test_parallel_calls_post_two_cards(database_url) -> None:
    async with teams_server(database_url) as srv:
        await srv.post(message(srv.connector.url, "restart api in prod and restart worker in prod",
                               conversation_id=CHANNEL))
        await srv.settle()
        cards = srv.connector.cards()
        assert len(cards) == 2
        ids = {c.body["attachments"][0]["content"]["actions"][0]["data"]["approval_id"] for c in cards}
        assert len(ids) == 2
        assert all(c.conversation_id == CHANNEL for c in cards)
        for approval_id in ids:
            status, body = await srv.post(srv.connector.click(approval_id, "approve", user="dana",
                                                      conversation_id=CHANNEL))
            assert status == 200 and body["type"].endswith("card.adaptive")
            await srv.settle()
        assert sum(1 for t in srv.connector.texts() if "finished" in t) == 2


async def test_click_without_aad_object_id_looks_the_member_up(tmp_path) -> None:
    async with teams_server(f"sqlite:///{tmp_path}/c.db") as srv:
        approval_id = await _card(srv, "deploy api v2.3 to prod")
        status, body = await srv.post(srv.connector.click(approval_id, "approve", user="dana",
                                                  with_aad=False))
        assert status == 200 and body["type"].endswith("card.adaptive"), body
        gets = [c for c in srv.connector.calls if c.method == "GET"]
        assert gets and gets[0].path.endswith("/members/29:1dana")
        approval = await srv.runtime.ledger.get(approval_id)
        assert approval.decisions[0].actor.qualified == f"teams:{USERS['dana'][1]}"


async def test_card_posted_before_restart_can_be_clicked_after(tmp_path) -> None:
    database_url = f"sqlite:///{tmp_path}/restart.db"
    async with fake_connector() as connector:
        async with teams_server(database_url, connector=connector) as srv:
            approval_id = await _card(srv, "deploy api v2.3 to prod", conversation_id=CHANNEL)
        calls_before = len(connector.calls)
        async with teams_server(database_url, connector=connector) as srv:
            status, body = await srv.post(connector.click(approval_id, "approve", user="dana",
                                                      conversation_id=CHANNEL))
            assert status == 200 and body["type"].endswith("card.adaptive")
            await srv.settle()
        after = connector.calls[calls_before:]
        assert any(c.method == "PUT" and c.activity_id == connector.card_activity_id(approval_id) for c in after)
        assert any((c.body or {}).get("text", "").startswith("deploy finished") for c in after)
        assert all(c.conversation_id == CHANNEL for c in after)
