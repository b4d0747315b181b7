"""Where a decision comes from: a posted card's place, a click's place (the message its button
was on), the reject modal carrying the place of the click that opened it, and the clicker's
own workspace as tenant. Pure parse tests, then one real-HTTP run through SlackInbound."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from adapters.base import (
    Actor,
    ApprovalCard,
    Conversation,
    Decision,
    DecisionClick,
    DecisionResult,
    InboundHandlers,
    InboundMessage,
    Outcome,
    Place,
)
from adapters.slack import SlackAdapter, SlackInbound, make_client
from adapters.slack.parse import (
    conversation,
    parse_action,
    parse_view_submission,
    reject_metadata,
)
from adapters.slack.render import reject_modal
from tests.slack.fake_slack import BOT_TOKEN, TEAM, FakeSlack
from tests.slack.payloads import (
    CHANNEL,
    SECRET,
    block_actions,
    form,
    new_ts,
    sign,
    view_submission,
)

DANA = "U0DANA001"
APPROVAL = "apv_" + "p" * 22
ELSEWHERE = "This approval belongs to another conversation."


def test_click_place_is_the_message_the_button_was_on() -> None:
    body = block_actions(DANA, "clearance_approve", APPROVAL, card_ts="1700000002.000001",
                         thread_ts="1700000000.000100")
    click = parse_action(body)
    assert click is not None
    assert click.place == Place("slack", TEAM, CHANNEL, "1700000002.000001")
    assert click.actor.tenant == TEAM

    # Slack Connect: the clicker's own workspace is the tenant, the payload's is the place's.
    shared = {**body, "user": {**body["user"], "team_id": "T0OTHER01"}}
    click = parse_action(shared)
    assert click is not None and click.actor.tenant == "T0OTHER01" and click.place.workspace == TEAM

    # No message container (or a malformed one): nothing a click could count on.
    for container in ({}, {**body["container"], "type": "view"}, {**body["container"], "message_ts": "x"},
                      {**body["container"], "channel_id": "../C1"}):
        assert parse_action({**body, "container": container}) is None


def test_modal_submission_carries_the_place_of_the_click_that_opened_it() -> None:
    click = parse_action(block_actions(DANA, "clearance_reject", APPROVAL, card_ts="1700000009.000002",
                                       thread_ts="1700000000.000100", channel="D0DM00001"))
    assert click is not None
    view = reject_modal(reject_metadata(click))
    submitted = parse_view_submission(view_submission(DANA, view, "no"))
    assert submitted is not None and submitted.place == Place("slack", TEAM, "D0DM00001", "1700000009.000002")
    meta = json.loads(view["private_metadata"])
    for bad in ({k: v for k, v in meta.items() if k != "p"}, {**meta, "p": [TEAM, "C1"]},
                {**meta, "p": [TEAM, "C1", "not-a-ts"]}, {**meta, "p": "x"}):
        tampered = {**view, "private_metadata": json.dumps(bad)}
        assert parse_view_submission(view_submission(DANA, tampered, "no")) is None


class Recorder:
    """The bot's side of InboundHandlers, as a test double: records what reaches it and
    refuses every click the way the bot refuses one from another conversation."""

    def __init__(self) -> None:
        self.clicks: list[DecisionClick] = []

    async def on_message(self, message: InboundMessage) -> None:
        raise AssertionError("no messages in this test")

    async def on_decision(self, click: DecisionClick) -> DecisionResult:
        self.clicks.append(click)
        return DecisionResult(Outcome.NOT_ALLOWED, ELSEWHERE)

    async def has_thread(self, thread_id: str) -> bool:
        return False


async def test_a_click_reaches_the_bot_with_its_place_and_the_refusal_is_shown() -> None:
    fake = await FakeSlack().start()
    recorder = Recorder()
    adapter = SlackAdapter(make_client(BOT_TOKEN, fake.api_url))
    inbound = SlackInbound(adapter, InboundHandlers(recorder.on_message, recorder.on_decision, recorder.has_thread),
                           signing_secret=SECRET)
    app = web.Application()
    app.router.add_post("/slack/events", inbound.handle_http)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with ClientSession() as http:
            async def interact(payload: dict[str, Any]) -> None:
                body = form(payload)
                headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
                async with http.post(server.make_url("/slack/events"), data=body, headers=headers) as resp:
                    assert resp.status == 200
                await inbound.drain()

            thread_ts = new_ts()
            conv: Conversation = conversation(TEAM, CHANNEL, thread_ts)
            card = ApprovalCard(APPROVAL, "deploy", {"service": "api"}, Actor("slack", "U0ALICE01", "alice"), "r")
            ref = await adapter.post_card(conv, card)
            assert ref.place == Place("slack", TEAM, CHANNEL, ref.data["ts"])

            await interact(block_actions(DANA, "clearance_approve", APPROVAL, card_ts=ref.data["ts"],
                                         thread_ts=thread_ts))
            [approve] = recorder.clicks
            assert (approve.decision, approve.place, approve.actor.tenant) == (Decision.APPROVE, ref.place, TEAM)

            await interact(block_actions(DANA, "clearance_reject", APPROVAL, card_ts=ref.data["ts"],
                                         thread_ts=thread_ts))
            [opened] = fake.of("views.open")
            await interact(view_submission(DANA, opened.result["view"], "not now"))
            reject = recorder.clicks[-1]
            assert (reject.decision, reject.reason, reject.place) == (Decision.REJECT, "not now", ref.place)
            assert len(recorder.clicks) == 2  # the Reject button opened the modal; only its submission decides

            ephemerals = fake.of("chat.postEphemeral")
            assert [c.args["text"] for c in ephemerals] == [ELSEWHERE, ELSEWHERE]
            assert all(c.args["user"] == DANA and c.args["thread_ts"] == thread_ts for c in ephemerals)
    finally:
        await inbound.close()
        await server.close()
        await fake.stop()
