"""Pure functions: Activity JSON → neutral events; card view → Adaptive Card 1.5."""

from __future__ import annotations

import json

import pytest

from adapters.base import Actor, ApprovalCard, CardStatus, Decision
from adapters.teams import parse, render
from tests.teams.fakes import BOT_ID, CHANNEL, GROUP, PERSONAL, TENANT, USERS, card_action, message

URL = "https://smba.trafficmanager.net/emea/"


@pytest.mark.parametrize("conversation_id", [PERSONAL, GROUP, CHANNEL])
def test_message_in_every_conversation_kind(conversation_id: str) -> None:
    activity = message(URL, "deploy api v2.3 to prod", conversation_id=conversation_id)
    msg = parse.parse_message(activity)
    assert msg is not None
    assert msg.text == "deploy api v2.3 to prod"  # the bot's <at> mention is gone
    assert msg.conversation.thread_id == f"teams:{TENANT}:{conversation_id}"
    data = msg.conversation.data
    assert data["service_url"] == URL and data["conversation_id"] == conversation_id
    assert data["tenant_id"] == TENANT and data["bot_id"] == BOT_ID and data["channel_id"] == "msteams"
    assert msg.actor == Actor("teams", USERS["alice"][1], "Alice", TENANT)
    assert msg.event_id == f"teams:{conversation_id}:{activity['id']}"  # dedup key for Teams retries


def test_channel_thread_id_keeps_messageid() -> None:
    msg = parse.parse_message(message(URL, "status", conversation_id=CHANNEL))
    assert msg is not None and ";messageid=1700000000000" in msg.conversation.thread_id
    assert msg.conversation.data["team_id"] == "19:team0123@thread.tacv2"


def test_only_the_bots_mention_is_stripped() -> None:
    activity = message(URL, "ask <at>Dana</at> about deploy &amp; more", conversation_id=GROUP)
    activity["entities"].append({"mentioned": {"id": "29:1dana", "name": "Dana"}, "text": "<at>Dana</at>",
                                 "type": "mention"})
    msg = parse.parse_message(activity)
    assert msg is not None and msg.text == "ask Dana about deploy & more"


def test_mention_only_or_non_message_yields_nothing() -> None:
    assert parse.parse_message(message(URL, "", conversation_id=GROUP)) is None
    assert parse.parse_message({**message(URL, "hi"), "type": "conversationUpdate"}) is None


def test_tenant_from_channel_data_when_conversation_lacks_it() -> None:
    activity = message(URL, "status")
    activity["conversation"].pop("tenantId")
    assert parse.tenant_of(activity) == TENANT


def test_click_parses_verb_data_and_reason() -> None:
    click = parse.parse_click(card_action(URL, "apv_abc", "reject", reason="  freeze  "))
    assert click.approval_id == "apv_abc" and click.decision is Decision.REJECT and click.reason == "freeze"
    assert click.actor.qualified == f"teams:{USERS['dana'][1]}" and click.actor.tenant == TENANT
    assert click.conversation is not None and click.conversation.data["service_url"] == URL


@pytest.mark.parametrize("value", [
    None, "x", {}, {"action": {"type": "Action.Submit", "verb": "approve", "data": {"approval_id": "a"}}},
    {"action": {"type": "Action.Execute", "verb": "nuke", "data": {"approval_id": "a"}}},
    {"action": {"type": "Action.Execute", "verb": "approve", "data": {}}},
    {"action": {"type": "Action.Execute", "verb": "approve", "data": []}},
])
def test_bad_clicks_raise_parse_error(value: object) -> None:
    with pytest.raises(parse.ParseError):
        parse.parse_click({**card_action(URL, "a", "approve"), "value": value})


def _card(**kw) -> ApprovalCard:  # type: ignore[no-untyped-def]
    base = dict(approval_id="apv_123", tool="deploy", args={"service": "api", "version": "v2.3", "environment": "prod"},
                requester=Actor("teams", "aad-alice", "Alice"), rule="approvers: anyone; not the requester",
                expires_at=1_800_000_000.0, description="Deploy a service version to an environment")
    base.update(kw)
    return ApprovalCard(**base)


def test_pending_card_is_adaptive_1_5_with_facts_actions_and_optional_reason() -> None:
    card = render.render_card(_card())
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert card["body"][0]["text"] == "Approve deploy?"
    arguments, facts = _factsets(card)
    assert arguments == {"service": '"api"', "version": '"v2.3"', "environment": '"prod"'}
    assert facts == {"Tool": "deploy", "Requester": "Alice", "Rule": "approvers: anyone; not the requester",
                     "Expires": "2027-01-15 08:00 UTC"}
    reason = [b for b in card["body"] if b["type"] == "Input.Text"]
    assert reason and reason[0]["id"] == "reason" and reason[0]["isRequired"] is False
    assert [(a["type"], a["verb"], a["data"]) for a in card["actions"]] == [
        ("Action.Execute", "approve", {"approval_id": "apv_123"}),
        ("Action.Execute", "reject", {"approval_id": "apv_123"}),
    ]


@pytest.mark.parametrize("status,text", [
    (CardStatus.RUNNING, "Approved by Dana: running…"),
    (CardStatus.DONE, "Approved by Dana: done"),
    (CardStatus.FAILED, "Approved by Dana: failed"),
    (CardStatus.WAITING_WORKER, "Approved by Dana: waiting for worker"),
    (CardStatus.REJECTED, "Rejected by Dana: freeze"),
    (CardStatus.EXPIRED, "Expired"),
])
def test_decided_cards_have_no_actions_and_say_the_outcome(status: CardStatus, text: str) -> None:
    decided = () if status is CardStatus.EXPIRED else (Actor("teams", "aad-dana", "Dana"),)
    card = render.render_card(_card(status=status, decided_by=decided, reason="freeze", result="ok"))
    assert "actions" not in card and not any(b["type"] == "Input.Text" for b in card["body"])
    assert text in [b.get("text") for b in card["body"]]


def _factsets(card: dict) -> tuple[dict[str, str], dict[str, str]]:
    by_id = {b["id"]: {f["title"]: f["value"] for f in b["facts"]} for b in card["body"] if b["type"] == "FactSet"}
    return by_id.get("arguments", {}), by_id["facts"]


def test_quorum_progress_and_link_injection() -> None:
    card = render.render_card(_card(quorum=2, approvals_so_far=(Actor("teams", "d", "Dana"),),
                                    args={"note": "[click](https://evil.example)"}))
    arguments, facts = _factsets(card)
    assert facts["Approvals"] == "1 of 2 approvals — Dana"
    assert arguments == {"note": '"\\[click\\](https://evil.example)"'}  # brackets escaped: no link
    assert "actions" in card


def test_invoke_response_bodies() -> None:
    decided = _card(status=CardStatus.RUNNING, decided_by=(Actor("teams", "d", "Dana"),))
    body = render.card_response(decided)
    assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    assert body["value"]["type"] == "AdaptiveCard"
    assert render.message_response("no") == {"statusCode": 200, "type": "application/vnd.microsoft.activity.message",
                                              "value": "no"}
    json.dumps(body)  # JSON-safe
