"""Teams: the Edit ShowCard and an `edit` invoke through the real Agents SDK path (anonymous
mode against the fake connector), answered with the new revision and PUT for everyone."""

from __future__ import annotations

from tests.teams.conftest import teams_server
from tests.teams.fakes import GROUP, USERS, card_action, message

TOOLS = f"""
tools:
  - name: deploy
    parameters:
      type: object
      properties:
        service: {{type: string}}
        version: {{type: string, pattern: "^v?[0-9][0-9.]*$"}}
        environment: {{type: string}}
      required: [service, environment]
    aliases:
      - "deploy {{service}} {{version}} to {{environment}}"
    approval:
      - approvers: ["teams:{USERS['dana'][1]}", "teams:{USERS['erin'][1]}"]
        editable: [version]
    run:
      python: "graph.demo:deploy"
"""


def _texts(content: dict) -> list[str]:
    return [b.get("text", "") for b in content["body"]]


async def test_teams_edit_invoke(database_url, tmp_path) -> None:
    async with teams_server(database_url, tools_yaml=TOOLS, tmp_path=tmp_path) as srv:
        status, _ = await srv.post(message(srv.connector.url, "deploy api v2.3 to prod", conversation_id=GROUP))
        await srv.settle()
        posted = srv.connector.cards()[-1].body["attachments"][0]["content"]
        # Only the listed approvers see buttons: Teams fetches their version by a refresh.
        approval_id = posted["refresh"]["action"]["data"]["approval_id"]
        status, body = await srv.post(card_action(srv.connector.url, approval_id, "refresh", user="dana",
                                                  conversation_id=GROUP))
        assert status == 200
        card = body["value"]
        show = card["actions"][2]
        assert show["type"] == "Action.ShowCard" and show["title"] == "Edit"
        assert [(i["id"], i["value"]) for i in show["card"]["body"]] == [("version", "v2.3")]
        save = show["card"]["actions"][0]
        assert save["verb"] == "edit" and save["data"] == {"approval_id": approval_id}

        bad = srv.connector.click(approval_id, "edit", user="dana", conversation_id=GROUP)
        bad["value"]["action"]["data"]["version"] = "nope"
        status, body = await srv.post(bad)
        assert status == 200 and body["type"] == "application/vnd.microsoft.activity.message"
        assert "version" in body["value"]

        good = srv.connector.click(approval_id, "edit", user="dana", conversation_id=GROUP)
        good["value"]["action"]["data"]["version"] = "v2.4"
        status, body = await srv.post(good)
        assert status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
        assert any("version: v2.3 → v2.4, edited by" in t for t in _texts(body["value"]))
        await srv.settle()
        puts = [p for p in srv.connector.puts() if p.body.get("attachments")]
        assert puts and any("v2.4" in t for t in _texts(puts[-1].body["attachments"][0]["content"]))
        approval = await srv.runtime.ledger.get(approval_id)
        assert approval.args["version"] == "v2.4" and approval.revision == 2
