"""Reaching the approvers on Teams, over real HTTP against the fake connector: a proactive
DM through create-conversation, buttons only for the listed approvers (card refresh), and
`pending` in the personal chat."""

from __future__ import annotations

from tests.teams.conftest import teams_server
from tests.teams.fakes import CHANNEL, PERSONAL, TENANT, USERS, card_action, message

DANA = USERS["dana"][1]
TOOLS = f"""
tools:
  - name: deploy
    description: Deploy a service
    parameters:
      type: object
      properties:
        service: {{type: string}}
        environment: {{type: string}}
      required: [service, environment]
    aliases: ["deploy {{service}} to {{environment}}"]
    approval:
      - approvers: ["teams:{DANA}"]
        notify: ["teams:dm"]
    run:
      python: "graph.demo:deploy"
"""


async def test_dm_through_create_conversation_and_refresh_user_ids(database_url, tmp_path) -> None:
    async with teams_server(database_url, tools_yaml=TOOLS, tmp_path=tmp_path) as srv:
        await srv.post(message(srv.connector.url, "deploy api to prod", conversation_id=CHANNEL))
        await srv.settle()
        created = srv.connector.created()
        assert len(created) == 1
        assert created[0].body["members"] == [{"id": DANA}] and created[0].body["tenantId"] == TENANT
        dm_id = created[0].assigned_id
        cards = srv.connector.cards()
        assert sorted(c.conversation_id for c in cards) == sorted([CHANNEL, dm_id])
        for call in cards:
            content = call.body["attachments"][0]["content"]
            # Only the approver and the requester (who may withdraw) see buttons.
            assert "actions" not in content
            assert content["refresh"]["userIds"] == [f"8:orgid:{DANA}", f"8:orgid:{USERS['alice'][1]}"]
        approval_id = cards[0].body["attachments"][0]["content"]["refresh"]["action"]["data"]["approval_id"]
        assert any("also sent to 1 approver by direct message" in t for t in srv.connector.texts())

        # Teams fetches the approver's own version: with buttons.
        refresh = card_action(srv.connector.url, approval_id, "refresh", conversation_id=CHANNEL)
        status, body = await srv.post(refresh)
        assert status == 200 and [a["verb"] for a in body["value"]["actions"]] == ["approve", "reject"]

        dm_card = next(c for c in cards if c.conversation_id == dm_id)
        click = card_action(srv.connector.url, approval_id, "approve", user="dana", conversation_id=PERSONAL,
                            reply_to=dm_card.assigned_id)
        click["conversation"]["id"] = dm_id
        status, body = await srv.post(click)
        assert status == 200 and "Approved by Dana" in str(body["value"])
        await srv.settle()
        assert (await srv.runtime.ledger.get(approval_id)).status.value == "done"
        updated = {p.conversation_id for p in srv.connector.puts() if p.body.get("attachments")}
        assert updated == {CHANNEL, dm_id}  # every copy shows the outcome


async def test_pending_in_the_personal_chat_lists_with_working_buttons(database_url, tmp_path) -> None:
    async with teams_server(database_url, tools_yaml=TOOLS, tmp_path=tmp_path) as srv:
        await srv.post(message(srv.connector.url, "deploy api to prod", conversation_id=CHANNEL))
        await srv.settle()
        await srv.post(message(srv.connector.url, "pending", user="dana", conversation_id=PERSONAL))
        await srv.settle()
        lists = [c for c in srv.connector.cards() if c.conversation_id == PERSONAL]
        assert len(lists) == 1
        content = lists[0].body["attachments"][0]["content"]
        actions = [a for item in content["body"] if item["type"] == "Container"
                   for el in item["items"] if el["type"] == "ActionSet" for a in el["actions"]]
        assert [a["verb"] for a in actions] == ["approve", "reject"]
        approval_id = actions[0]["data"]["approval_id"]
        click = card_action(srv.connector.url, approval_id, "approve", user="dana", conversation_id=PERSONAL,
                            reply_to=lists[0].assigned_id)
        click["value"]["action"]["data"] = dict(actions[0]["data"])  # Teams sends the button's data
        status, body = await srv.post(click)
        assert status == 200 and body["type"] == "application/vnd.microsoft.activity.message"
        await srv.settle()
        assert (await srv.runtime.ledger.get(approval_id)).status.value == "done"
