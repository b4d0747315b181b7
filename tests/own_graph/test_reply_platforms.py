"""Reply in the tool's place, end to end over the platforms' real wire formats: a real
`create_agent` with `HumanInTheLoopMiddleware` (deploy allows every decision, restart only
approve and reject), signed Slack clicks and modal submissions through real Bolt, and
Universal Action invokes through the Agents SDK, against the fake Slack and connector. The
answer reaches the graph as the middleware's `respond` decision: the tool does not run and
the model reads the text as its result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.llm.fake_openai import FakeOpenAI, calls, text
from tests.own_graph.conftest import ran
from tests.slack.fake_slack import Call, approval_id_of, blocks_of
from tests.slack.harness import Stack, slack_stack
from tests.slack.payloads import block_actions, form, mention, new_ts, sign, view_submission
from tests.teams.conftest import teams_server
from tests.teams.fakes import message as teams_message

ALICE, DANA, ERIN = "U0ALICE01", "U0DANA001", "U0ERIN001"
DEPLOY = ("deploy", {"service": "api", "version": "v2.3", "environment": "prod"})
RESTART = ("restart", {"service": "web", "environment": "prod"})
ANSWER = "Do not deploy on Friday; use the blue-green path on Monday."
GRAPH = "tests.own_graph.agents:hitl"


def _tool_results(fake: FakeOpenAI) -> list[str]:
    return [m["content"] for m in fake.requests[1].messages if m["role"] == "tool"]


# -- Slack -------------------------------------------------------------------------------------

def _buttons(call: Call) -> list[str]:
    return [e["text"]["text"] for b in blocks_of(call) if b["type"] == "actions" for e in b["elements"]]


def _text(call: Call) -> str:
    return json.dumps(blocks_of(call))


async def _press(stack: Stack, user: str, action: str, card: Call, ts: str) -> None:
    resp = await stack.interact(block_actions(user, action, approval_id_of(card), card_ts=card.result["ts"],
                                              thread_ts=ts))
    assert resp.status == 200
    await stack.settle()


def _last_view(stack: Stack) -> dict[str, Any]:
    view = stack.fake.of("views.open")[-1].args["view"]
    return json.loads(view) if isinstance(view, str) else view


async def _submit(stack: Stack, user: str, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    payload = view_submission(user, view, None)
    payload["view"]["state"] = {"values": values}
    body_text = form(payload)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body_text)}
    async with stack.http.post(stack.url, data=body_text.encode(), headers=headers) as resp:
        assert resp.status == 200
        body = await resp.read()
    await stack.settle()
    return json.loads(body) if body else {}


def _reply(text_: str) -> dict[str, Any]:
    return {"reply": {"reply": {"type": "plain_text_input", "value": text_}}}


def _ephemerals(stack: Stack, user: str) -> list[str]:
    return [c.args["text"] for c in stack.fake.of("chat.postEphemeral") if c.args.get("user") == user]


async def test_slack_reply_modal_answers_in_the_tools_place(database_url, fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.add(calls(DEPLOY, RESTART), text("Not deployed, as answered; web restarted."))
    async with slack_stack(database_url, tmp_path=tmp_path, CLEARANCE_GRAPH=GRAPH) as s:
        ts = new_ts()
        assert (await s.event(mention(ALICE, "ship api v2.3 to prod and restart web", ts=ts))).status == 200
        await s.settle()
        # "Approval needed: deploy service=…" → the tool's name
        cards = {c.args["text"].split()[2]: c for c in s.fake.cards() if c.args.get("thread_ts") == ts}
        deploy, restart = cards["deploy"], cards["restart"]
        assert _buttons(deploy) == ["Approve", "Reject", "Edit", "Reply"]
        assert _buttons(restart) == ["Approve", "Reject"]  # allowed_decisions: approve, reject

        # The requester may not answer their own call (four-eyes): no modal, a private why.
        await _press(s, ALICE, "clearance_respond", deploy, ts)
        assert s.fake.of("views.open") == []
        assert any("someone else has to approve it" in t for t in _ephemerals(s, ALICE))

        await _press(s, ERIN, "clearance_respond", deploy, ts)
        opened = _last_view(s)
        assert opened["callback_id"] == "clearance_respond_text"
        assert json.loads(opened["private_metadata"])["r"] == 1

        # An edit in the meantime: the answer was written on a call that is no longer the one shown.
        await _press(s, DANA, "clearance_edit", deploy, ts)
        edited = await _submit(s, DANA, _last_view(s), {"arg:version": {"value": {"type": "plain_text_input",
                                                                                  "value": "v2.4"}}})
        assert edited == {}
        stale = await _submit(s, ERIN, opened, _reply(ANSWER))
        assert stale["response_action"] == "errors" and "revision 2" in stale["errors"]["reply"]

        await _press(s, ERIN, "clearance_respond", deploy, ts)
        fresh = _last_view(s)
        assert json.loads(fresh["private_metadata"])["r"] == 2
        empty = await _submit(s, ERIN, fresh, _reply("   "))
        assert empty["response_action"] == "errors" and "needs some text" in empty["errors"]["reply"]
        long = await _submit(s, ERIN, fresh, _reply("x" * 3001))
        assert "at most 3000 characters" in long["errors"]["reply"]
        assert len(fake.requests) == 1  # nothing was decided by the refused answers

        assert await _submit(s, ERIN, fresh, _reply(ANSWER)) == {}
        await _press(s, DANA, "clearance_approve", restart, ts)

        last = s.fake.updates_of(deploy.result["ts"])[-1]
        assert f"Answered by <@{ERIN}>: `\\\"Do not deploy on Friday" in _text(last) and _buttons(last) == []
        assert ran(tmp_path) == ["restarted web in prod"]  # the answered call did not run
        assert ANSWER in _tool_results(fake)
        assert "Not deployed, as answered; web restarted." in [c.args.get("text") for c in s.fake.posts()]
        approval = await s.runtime.ledger.get(approval_id_of(deploy))
        assert approval.result == ANSWER and [d.decision.value for d in approval.decisions] == ["respond"]


# -- Teams -------------------------------------------------------------------------------------

def _content(call: Any) -> dict[str, Any]:
    return call.body["attachments"][0]["content"]


async def test_teams_reply_showcard_answers_in_the_tools_place(database_url, fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.add(calls(DEPLOY, RESTART), text("Not deployed, as answered; web restarted."))
    async with teams_server(database_url, tmp_path=tmp_path, CLEARANCE_GRAPH=GRAPH) as srv:
        await srv.post(teams_message(srv.connector.url, "ship api v2.3 to prod and restart web"))
        await srv.settle()
        cards = {_content(c)["body"][0]["text"]: _content(c) for c in srv.connector.cards()}
        deploy, restart = cards["Approve deploy?"], cards["Approve restart?"]
        assert [a["title"] for a in deploy["actions"]] == ["Approve", "Reject", "Edit", "Reply"]
        assert [a["title"] for a in restart["actions"]] == ["Approve", "Reject"]
        send = deploy["actions"][3]["card"]["actions"][0]
        approval_id = send["data"]["approval_id"]
        restart_id = restart["actions"][0]["data"]["approval_id"]

        async def respond(user: str, reply: str, revision: int = 1) -> dict[str, Any]:
            invoke = srv.connector.click(approval_id, send["verb"], user=user)
            invoke["value"]["action"]["data"].update({"reply": reply, "revision": revision})
            status, body = await srv.post(invoke)
            assert status == 200 and body["statusCode"] == 200
            await srv.settle()
            return body

        refused = {"alice": (ANSWER, 1, "someone else has to approve it"),  # the requester: four-eyes
                   "dana": ("  ", 1, "needs some text"), "erin": ("y" * 3001, 1, "at most 3000 characters")}
        for user, (reply, revision, why) in refused.items():
            body = await respond(user, reply, revision)
            assert body["type"] == "application/vnd.microsoft.activity.message" and why in body["value"], body
        stale = await respond("dana", ANSWER, revision=7)
        assert "revision 1" in stale["value"]
        assert len(fake.requests) == 1

        body = await respond("dana", ANSWER)
        assert body["type"] == "application/vnd.microsoft.card.adaptive"
        texts = [b.get("text", "") for b in body["value"]["body"]]
        assert texts[0] == "deploy: answered" and "actions" not in body["value"]
        assert any(t.startswith("Answered by Dana: Do not deploy on Friday") for t in texts), texts
        status, _ = await srv.post(srv.connector.click(restart_id, "approve", user="dana"))
        await srv.settle()

        assert ran(tmp_path) == ["restarted web in prod"]
        assert ANSWER in _tool_results(fake)
        assert "Not deployed, as answered; web restarted." in srv.connector.texts()
        updated = [_content(c) for c in srv.connector.calls if c.method == "PUT" and c.body.get("attachments")]
        assert any("Answered by Dana: Do not deploy on Friday" in json.dumps(u) for u in updated)
