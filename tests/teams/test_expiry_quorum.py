"""Expired cards and two-person rules, clicked over real HTTP."""

from __future__ import annotations

import asyncio

from tests.teams.conftest import teams_server
from tests.teams.fakes import GROUP, message

TOOLS = """
tools:
  - name: deploy
    description: Deploy a service version to an environment
    parameters:
      type: object
      properties:
        service: {type: string}
        version: {type: string}
        environment: {type: string}
      required: [service, environment]
    aliases:
      - "deploy {service} {version} to {environment}"
    approval:
      - when: {environment: prod}
        quorum: 2
        allow_self_approval: false
        expires_after: 30m
      - when: {environment: staging}
        allow_self_approval: true
        expires_after: 1s
    run:
      python: "graph.demo:deploy"
"""


async def _approval_id(srv) -> str:  # type: ignore[no-untyped-def]
    card = srv.connector.cards()[-1].body["attachments"][0]["content"]
    return card["actions"][0]["data"]["approval_id"]


async def test_click_on_expired_card_is_refused_and_the_card_says_expired(tmp_path) -> None:
    async with teams_server(f"sqlite:///{tmp_path}/e.db", tools_yaml=TOOLS, tmp_path=tmp_path) as srv:
        await srv.post(message(srv.connector.url, "deploy api v2.3 to staging", conversation_id=GROUP))
        await srv.settle()
        approval_id = await _approval_id(srv)
        await asyncio.sleep(1.2)
        status, body = await srv.post(srv.connector.click(approval_id, "approve", conversation_id=GROUP))
        assert status == 200 and body["type"] == "application/vnd.microsoft.activity.message"
        assert "expired" in body["value"]
        await srv.settle()
        puts = [p for p in srv.connector.puts() if p.body.get("attachments")]
        assert puts and "Expired" in [b.get("text") for b in puts[-1].body["attachments"][0]["content"]["body"]]
        assert not any(t.startswith("Running") for t in srv.connector.texts())


async def test_two_person_rule_keeps_buttons_until_the_second_approval(tmp_path) -> None:
    async with teams_server(f"sqlite:///{tmp_path}/q.db", tools_yaml=TOOLS, tmp_path=tmp_path) as srv:
        await srv.post(message(srv.connector.url, "deploy api v2.3 to prod", conversation_id=GROUP))
        await srv.settle()
        approval_id = await _approval_id(srv)
        status, body = await srv.post(srv.connector.click(approval_id, "approve", user="dana",
                                                  conversation_id=GROUP))
        assert status == 200 and body["type"].endswith("card.adaptive")
        first = body["value"]
        # Dana's own view: no second Approve, and why.
        assert [a["verb"] for a in first["actions"]] == ["reject"]
        assert any(b.get("text") == "You approved — waiting for 1 more." for b in first["body"])
        facts = {f["title"]: f["value"] for b in first["body"] if b["type"] == "FactSet" for f in b["facts"]}
        assert facts["Approvals"] == "1 of 2 approvals — Dana"
        status, body = await srv.post(srv.connector.click(approval_id, "approve", user="dana",
                                                  conversation_id=GROUP))
        assert body["type"].endswith("activity.message") and "already approved" in body["value"]
        status, body = await srv.post(srv.connector.click(approval_id, "approve", user="erin",
                                                  conversation_id=GROUP))
        assert body["type"].endswith("card.adaptive") and "actions" not in body["value"]
        await srv.settle()
        assert sum(1 for t in srv.connector.texts() if t.startswith("deploy finished")) == 1


async def test_conversation_update_is_accepted_and_ignored(tmp_path) -> None:
    async with teams_server(f"sqlite:///{tmp_path}/u.db") as srv:
        activity = message(srv.connector.url, "", conversation_id=GROUP)
        activity.update(type="conversationUpdate", membersAdded=[{"id": activity["recipient"]["id"]}])
        activity.pop("text")
        status, _ = await srv.post(activity)
        assert status in (200, 202)
        await srv.settle()
        assert srv.connector.calls == []
