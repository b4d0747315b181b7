"""Edit before approving over real Slack HTTP: signed block_actions and view_submission
through real Bolt, the modal opened on FakeSlack, the card updated in place."""

from __future__ import annotations

import json

from langchain_core.messages import ToolMessage

from tests.edit.tools_edit import tools
from tests.slack.fake_slack import Call, approval_id_of, blocks_of
from tests.slack.harness import Stack, slack_stack
from tests.slack.payloads import CHANNEL, block_actions, form, mention, new_ts, sign, view_submission

ALICE, DANA, ERIN, FRED = "U0ALICE01", "U0DANA001", "U0ERIN001", "U0FRED001"


async def ask(stack: Stack, text: str) -> tuple[str, Call]:
    ts = new_ts()
    assert (await stack.event(mention(ALICE, text, ts=ts))).status == 200
    await stack.settle()
    return ts, stack.fake.cards()[-1]


async def press(stack: Stack, user: str, action: str, card: Call, ts: str) -> None:
    resp = await stack.interact(block_actions(user, action, approval_id_of(card), card_ts=card.result["ts"],
                                              thread_ts=ts))
    assert resp.status == 200
    await stack.settle()


async def submit(stack: Stack, user: str, view: dict, version: str) -> dict:
    payload = view_submission(user, view, None)
    payload["view"]["state"] = {"values": {"arg:version": {"value": {"type": "plain_text_input", "value": version}}}}
    body_text = form(payload)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body_text)}
    async with stack.http.post(stack.url, data=body_text.encode(), headers=headers) as resp:
        assert resp.status == 200
        body = await resp.read()
    await stack.settle()
    return json.loads(body) if body else {}


def text_of(call: Call) -> str:
    parts = []
    for b in blocks_of(call):
        if "text" in b and isinstance(b["text"], dict):
            parts.append(b["text"]["text"])
        for e in b.get("elements", []):
            if isinstance(e, dict) and e.get("type") == "mrkdwn":
                parts.append(e["text"])
    return "\n".join(parts)


def ephemerals(stack: Stack, user: str) -> list[str]:
    return [c.args["text"] for c in stack.fake.of("chat.postEphemeral") if c.args.get("user") == user]


async def test_modal_edit_restarts_quorum_and_runs_the_edited_call_once(database_url, tmp_path) -> None:
    async with slack_stack(database_url, tools_yaml=tools(), tmp_path=tmp_path) as s:
        ts, card = await ask(s, "deploy api v2.3 to prod")
        approval_id = approval_id_of(card)
        # The preview is on the card from the start, and there is an Edit button.
        assert "api: v1.0 → v2.3 in prod" in text_of(card)
        buttons = [b for b in blocks_of(card) if b["type"] == "actions"][0]["elements"]
        assert [b["text"]["text"] for b in buttons] == ["Approve", "Reject", "Edit"]
        assert all(b["value"] == approval_id for b in buttons)

        await press(s, ERIN, "clearance_approve", card, ts)  # 1 of 2, on revision 1
        await press(s, DANA, "clearance_edit", card, ts)
        opened = s.fake.of("views.open")
        assert len(opened) == 1
        view = opened[0].args["view"]
        view = json.loads(view) if isinstance(view, str) else view
        inputs = [b for b in view["blocks"] if b["type"] == "input"]
        assert [b["block_id"] for b in inputs] == ["arg:version"]
        assert inputs[0]["element"]["initial_value"] == "v2.3"

        bad = await submit(s, DANA, view, "not a version")
        assert bad["response_action"] == "errors" and "arg:version" in bad["errors"]
        assert s.fake.updates_of(card.result["ts"]) == [u for u in s.fake.updates_of(card.result["ts"])
                                                       if "edited by" not in text_of(u)]

        good = await submit(s, DANA, view, "v2.4")
        assert good == {}
        updates = s.fake.updates_of(card.result["ts"])
        last = text_of(updates[-1])
        assert f"version: v2.3 → v2.4, edited by <@{DANA}>" in last
        assert "api: v1.0 → v2.4 in prod" in last  # the preview ran again for the new revision
        assert "0 of 2 approvals" in last  # ERIN's approval of v2.3 no longer counts
        assert len(s.fake.cards()) == 1  # the same message, updated; no new card

        await press(s, DANA, "clearance_approve", card, ts)
        assert any("edited this call" in t for t in ephemerals(s, DANA))
        await press(s, ERIN, "clearance_approve", card, ts)
        await press(s, FRED, "clearance_approve", card, ts)

        approval = await s.runtime.ledger.get(approval_id)
        assert approval.status.value == "done", (ephemerals(s, ERIN), ephemerals(s, FRED), approval.decisions)
        assert approval.args["version"] == "v2.4"
        assert "deployed api v2.4 to prod" in (approval.result or "")
        assert [d.revision for d in approval.decisions] == [1, 2, 2]
        state = json.loads((tmp_path / "demo-state.json").read_text())
        assert state["prod"]["api"]["version"] == "v2.4"
        thread = f"slack:T0TEAM001:{CHANNEL}:{ts}"
        values = (await s.runtime.graph.aget_state({"configurable": {"thread_id": thread}})).values
        tool_msgs = [m for m in values["messages"] if isinstance(m, ToolMessage)]
        assert len(tool_msgs) == 1
        assert tool_msgs[0].content.startswith("Edited by u0dana001 before approval: version v2.3 → v2.4.")
        trail = await s.runtime.ledger.audit_trail()
        edited = [r for r in trail if r["event"] == "edited"]
        assert len(edited) == 1 and edited[0]["detail"]["old"]["version"] == "v2.3"
        assert edited[0]["detail"]["new"]["version"] == "v2.4"
        assert len([r for r in trail if r["event"] == "executing"]) == 1
        assert [r["detail"]["revision"] for r in trail if r["event"] == "previewed"] == [1, 2]


async def test_edit_to_a_no_card_rule_keeps_the_card(database_url, tmp_path) -> None:
    async with slack_stack(database_url, tools_yaml=tools(quorum=1), tmp_path=tmp_path) as s:
        ts, card = await ask(s, "deploy api v2.3 to prod")
        await press(s, DANA, "clearance_edit", card, ts)
        view = s.fake.of("views.open")[0].args["view"]
        view = json.loads(view) if isinstance(view, str) else view
        assert await submit(s, DANA, view, "v9") == {}
        approval = await s.runtime.ledger.get(approval_id_of(card))
        assert approval.status.value == "pending" and approval.args["version"] == "v9"
        assert approval.rule.quorum == 1 and approval.rule.editable == ("version",)
