"""Where a card lives and where a click comes from: the parts the bot compares before a
decision counts. Pure parsing, then the adapter over real HTTP with the fake connector."""

from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from adapters.base import (
    Actor,
    ApprovalCard,
    CardStatus,
    DecisionClick,
    DecisionResult,
    InboundHandlers,
    InboundMessage,
    Outcome,
    Place,
)
from adapters.teams import TeamsAdapter, parse
from tests.teams.fakes import (
    CHANNEL,
    GROUP,
    PERSONAL,
    TENANT,
    USERS,
    FakeConnector,
    card_action,
    fake_connector,
    message,
)

URL = "https://smba.trafficmanager.net/emea/"
OTHER_TENANT = "11111111-2222-3333-4444-555555555555"


@pytest.mark.parametrize("conversation_id", [PERSONAL, GROUP, CHANNEL])
def test_click_carries_tenant_conversation_and_the_card_it_replies_to(conversation_id: str) -> None:
    click = parse.parse_click(card_action(URL, "apv_1", "approve", conversation_id=conversation_id,
                                          reply_to="1:act7"))
    assert click.place == Place("teams", TENANT, conversation_id, "1:act7")
    assert click.actor.tenant == TENANT


def test_click_tenant_from_either_source() -> None:
    only_conversation = card_action(URL, "apv_1", "approve")
    only_conversation["conversation"]["tenantId"] = TENANT
    only_conversation["channelData"].pop("tenant")
    only_channel_data = card_action(URL, "apv_1", "approve")
    only_channel_data["conversation"].pop("tenantId", None)
    for activity in (only_conversation, only_channel_data):
        click = parse.parse_click(activity)
        assert click.place is not None and click.place.workspace == TENANT and click.actor.tenant == TENANT


def test_click_without_reply_to_matches_no_card() -> None:
    activity = card_action(URL, "apv_1", "approve")
    activity.pop("replyToId")
    click = parse.parse_click(activity)
    assert click.place == Place("teams", TENANT, PERSONAL, "")


def test_disagreeing_tenants_are_refused_before_the_sdk() -> None:
    activity = card_action(URL, "apv_1", "approve")
    activity["conversation"]["tenantId"] = OTHER_TENANT
    with pytest.raises(parse.ParseError, match="disagree"):
        parse.check_activity(activity)
    activity["conversation"]["tenantId"] = TENANT.upper()  # GUIDs compare without case
    parse.check_activity(activity)


# -- over HTTP: what the adapter posts and what reaches the decision handler ------------------


class Recorder:
    def __init__(self, card: ApprovalCard) -> None:
        self.card = card
        self.clicks: list[DecisionClick] = []

    async def on_message(self, msg: InboundMessage) -> None:
        return None

    async def on_decision(self, click: DecisionClick) -> DecisionResult:
        self.clicks.append(click)
        return DecisionResult(Outcome.ACCEPTED, "ok", card=self.card)

    async def has_thread(self, thread_id: str) -> bool:
        return False


@contextlib.asynccontextmanager
async def adapter_on_loopback(recorder: Recorder) -> AsyncIterator[tuple[TeamsAdapter, FakeConnector, str]]:
    async with fake_connector() as connector:
        adapter = TeamsAdapter(InboundHandlers(recorder.on_message, recorder.on_decision, recorder.has_thread),
                               allow_anonymous=True)
        app = web.Application()
        adapter.mount(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            yield adapter, connector, f"http://127.0.0.1:{port}/api/messages"
        finally:
            await adapter.drain()
            await runner.cleanup()


async def _post(url: str, activity: dict[str, Any]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(url, json=activity) as resp:
        return resp.status, await resp.json(content_type=None)


def _card() -> ApprovalCard:
    return ApprovalCard(approval_id="apv_place", tool="deploy", args={"service": "api"},
                        requester=Actor("teams", USERS["alice"][1], "Alice"), rule="r")


async def test_the_click_reaching_the_handler_carries_the_place_of_the_posted_card() -> None:
    card = _card()
    recorder = Recorder(ApprovalCard(**{**card.__dict__, "status": CardStatus.RUNNING}))
    async with adapter_on_loopback(recorder) as (adapter, connector, url):
        conversation = parse.conversation_of(message(connector.url, "deploy", conversation_id=CHANNEL))
        ref = await adapter.post_card(conversation, card)
        assert ref.place == Place("teams", TENANT, CHANNEL, connector.card_activity_id("apv_place"))
        assert ref.data["activity_id"] == ref.place.message

        status, body = await _post(url, connector.click("apv_place", "approve", user="dana", conversation_id=CHANNEL))
        assert status == 200 and body["type"].endswith("card.adaptive")
        (click,) = recorder.clicks
        assert click.place == ref.place
        assert click.actor.tenant == TENANT and click.actor.id == USERS["dana"][1]

        # The same approval id clicked elsewhere arrives with that other place, so it can be refused.
        elsewhere = card_action(connector.url, "apv_place", "approve", user="dana", conversation_id=GROUP,
                                reply_to="1:act99")
        await _post(url, elsewhere)
        assert recorder.clicks[1].place == Place("teams", TENANT, GROUP, "1:act99") != ref.place
