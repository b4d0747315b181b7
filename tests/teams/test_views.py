"""Each person's own Teams card, through real `adaptiveCard/action` refresh invokes over the
Agents SDK path: the approver who may decide, the requester (Withdraw only), one who approved
("waiting for N more"), an editor (no Approve), and anyone else (facts and state)."""

from __future__ import annotations

import dataclasses
from typing import Any

from adapters.base import Actor, ApprovalCard, Viewer, ViewerRole
from adapters.teams import render
from tests.teams.conftest import teams_server
from tests.teams.fakes import GROUP, USERS, card_action, message

DANA, ERIN = USERS["dana"][1], USERS["erin"][1]
TOOLS = f"""
tools:
  - name: deploy
    parameters:
      type: object
      properties:
        service: {{type: string}}
        version: {{type: string}}
        environment: {{type: string}}
      required: [service, environment]
    aliases: ["deploy {{service}} {{version}} to {{environment}}"]
    approval:
      - approvers: ["teams:{DANA}", "teams:{ERIN}"]
        quorum: 2
        editable: [version]
    run:
      python: "graph.demo:deploy"
"""


def _verbs(card: dict[str, Any]) -> list[str]:
    out = []
    for action in card.get("actions", []):
        if action["type"] == "Action.ShowCard":
            out.extend(a["verb"] for a in action["card"]["actions"])
        else:
            out.append(action["verb"])
    return out


def _texts(card: dict[str, Any]) -> list[str]:
    return [b.get("text", "") for b in card["body"]]


def _stranger(activity: dict[str, Any]) -> dict[str, Any]:
    activity["from"] = {"id": "29:1zed", "name": "Zed", "aadObjectId": "0e0e0e0e-0000-0000-0000-00000000002e"}
    return activity


async def test_each_viewer_gets_their_own_card(database_url, tmp_path) -> None:
    async with teams_server(database_url, tools_yaml=TOOLS, tmp_path=tmp_path) as srv:
        await srv.post(message(srv.connector.url, "deploy api v2.3 to prod", conversation_id=GROUP))
        await srv.settle()
        posted = srv.connector.cards()[-1].body["attachments"][0]["content"]
        assert "actions" not in posted  # the shared card: facts and state, buttons by refresh
        approval_id = posted["refresh"]["action"]["data"]["approval_id"]

        async def view(user: str = "dana", stranger: bool = False) -> dict[str, Any]:
            activity = card_action(srv.connector.url, approval_id, "refresh", user=user, conversation_id=GROUP)
            status, body = await srv.post(_stranger(activity) if stranger else activity)
            assert status == 200 and body["type"] == render.CARD_CONTENT_TYPE
            return body["value"]

        assert _verbs(await view("dana")) == ["approve", "reject", "edit"]
        requester = await view("alice")
        assert _verbs(requester) == ["reject"] and requester["actions"][0]["title"] == "Withdraw"
        assert "someone else has to approve it" in " ".join(_texts(requester))
        stranger = await view(stranger=True)
        assert "actions" not in stranger and not any(b.get("id") == "reason" for b in stranger["body"])

        # Dana approves: her answer and her later refreshes offer no second Approve.
        status, body = await srv.post(srv.connector.click(approval_id, "approve", user="dana", conversation_id=GROUP))
        assert status == 200 and "You approved — waiting for 1 more." in _texts(body["value"])
        assert "approve" not in _verbs(body["value"])
        assert "You approved — waiting for 1 more." in _texts(await view("dana"))
        assert _verbs(await view("erin")) == ["approve", "reject", "edit"]

        # Erin edits: her approval of her own edit would not count, and Dana's approval was of
        # the old arguments, so Dana may approve again.
        edit = srv.connector.click(approval_id, "edit", user="erin", conversation_id=GROUP)
        edit["value"]["action"]["data"]["version"] = "v2.4"
        status, body = await srv.post(edit)
        assert status == 200 and "approve" not in _verbs(body["value"])
        erin = await view("erin")
        assert _verbs(erin) == ["reject", "edit"] and "You edited this call" in " ".join(_texts(erin))
        assert _verbs(await view("dana")) == ["approve", "reject", "edit"]

        # The view is only a view: the click still goes through the policy.
        status, body = await srv.post(srv.connector.click(approval_id, "approve", user="erin", conversation_id=GROUP))
        assert body["type"] == render.MESSAGE_CONTENT_TYPE and "edited this call" in body["value"]


def _card(approvers: tuple[str, ...]) -> ApprovalCard:
    return ApprovalCard(approval_id="a" * 32, tool="deploy", args={"service": "api"},
                        requester=Actor("teams", "r", "Rae"), rule="r", approver_ids=approvers)


def test_beyond_sixty_users_the_shared_card_keeps_a_refresh_button() -> None:
    many = tuple(f"teams:{i:08d}-0000-0000-0000-000000000000" for i in range(61))
    shared = render.render_card(_card(many))
    assert len(shared["refresh"]["userIds"]) == 60
    assert [(a["title"], a["verb"]) for a in shared["actions"]] == [("Refresh", "refresh")]
    few = render.render_card(_card(many[:60]))
    assert "actions" not in few and len(few["refresh"]["userIds"]) == 60
    mine = render.render_card(dataclasses.replace(_card(many), viewer=Viewer(ViewerRole.DECIDER)), for_approver=True)
    assert _verbs(mine) == ["approve", "reject"]


async def test_the_refresh_button_gets_the_tappers_own_view(database_url, tmp_path) -> None:
    many = ", ".join(f'"teams:{i:08d}-0000-0000-0000-000000000000"' for i in range(60))
    tools = TOOLS.replace(f'["teams:{DANA}", "teams:{ERIN}"]', f'["teams:{DANA}", {many}]')
    async with teams_server(database_url, tools_yaml=tools, tmp_path=tmp_path) as srv:
        await srv.post(message(srv.connector.url, "deploy api v2.3 to prod", conversation_id=GROUP))
        await srv.settle()
        posted = srv.connector.cards()[-1].body["attachments"][0]["content"]
        button = posted["actions"][0]
        assert button["verb"] == "refresh"
        tap = card_action(srv.connector.url, button["data"]["approval_id"], "refresh", user="dana",
                          conversation_id=GROUP)
        tap["value"]["trigger"] = "manual"
        status, body = await srv.post(tap)
        assert status == 200 and _verbs(body["value"]) == ["approve", "reject", "edit"]
