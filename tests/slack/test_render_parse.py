"""Pure parse and render: no network. Every rendered message passes slack_sdk's Block Kit validation."""

from __future__ import annotations

import ast
import json
import pathlib

import pytest

from adapters.base import Actor, ApprovalCard, CardStatus, Decision, Place
from adapters.slack.parse import (
    parse_action,
    parse_event,
    parse_view_submission,
    reject_metadata,
    strip_mentions,
)
from adapters.slack.render import fallback_text, reject_modal, render_card, render_text
from tests.slack.blockkit import check_message, check_view
from tests.slack.fake_slack import BOT_USER, TEAM
from tests.slack.payloads import CHANNEL, block_actions, event_body, mention, message, view_submission

ALICE = Actor("slack", "U0ALICE01", "alice", TEAM)
DANA = Actor("slack", "U0DANA001", "dana", TEAM)


def card(**changes) -> ApprovalCard:  # type: ignore[no-untyped-def]
    base = dict(approval_id="apv_" + "a" * 22, tool="deploy", args={"service": "api", "environment": "prod"},
                requester=ALICE, rule="when environment=prod; 1 approval", expires_at=1_800_000_000.0,
                description="Deploy a service")
    base.update(changes)
    return ApprovalCard(**base)  # type: ignore[arg-type]


def blocks_text(message: dict) -> str:
    return json.dumps(message["blocks"])


def test_pending_card_shows_the_facts_and_two_buttons() -> None:
    msg = render_card(card(confirm=True))
    assert msg["text"] == "Approval needed: deploy service=api, environment=prod — requested by <@U0ALICE01>"
    text = blocks_text(msg)
    for fact in ("deploy", "<@U0ALICE01>", "when environment=prod", "<!date^1800000000^", '\\"service\\": \\"api\\"'):
        assert fact in text
    [actions] = [b for b in msg["blocks"] if b["type"] == "actions"]
    approve, reject = actions["elements"]
    assert (approve["style"], reject["style"]) == ("primary", "danger")
    assert approve["value"] == reject["value"] == "apv_" + "a" * 22
    assert approve["confirm"]["confirm"]["text"] == "Approve"
    assert "confirm" not in render_card(card())["blocks"][-2]["elements"][0]
    check_message(msg)


@pytest.mark.parametrize("status,expected", [
    (CardStatus.RUNNING, "Approved by <@U0DANA001>: running"),
    (CardStatus.DONE, "Approved by <@U0DANA001>: done"),
    (CardStatus.FAILED, "Approved by <@U0DANA001>: failed"),
    (CardStatus.WAITING_WORKER, "Approved by <@U0DANA001>: waiting for worker"),
    (CardStatus.REJECTED, 'Rejected by <@U0DANA001>: `\\"freeze until Monday\\"`'),  # as JSON text
    (CardStatus.EXPIRED, "Expired"),
])
def test_decided_card_has_outcome_and_no_buttons(status: CardStatus, expected: str) -> None:
    decided = () if status is CardStatus.EXPIRED else (DANA,)
    msg = render_card(card(status=status, decided_by=decided, reason="freeze until Monday", result="ok"))
    assert not any(b["type"] == "actions" for b in msg["blocks"])
    assert expected in blocks_text(msg)
    assert expected.split(":")[0] in msg["text"]
    check_message(msg)


def test_quorum_progress_keeps_buttons() -> None:
    msg = render_card(card(quorum=2, approvals_so_far=(DANA,)))
    assert "1 of 2 approvals — <@U0DANA001>" in json.dumps(msg["blocks"], ensure_ascii=False)
    assert any(b["type"] == "actions" for b in msg["blocks"])


def test_text_and_modal_within_limits() -> None:
    check_message(render_text("y" * 50_000))
    assert render_text("<!here> a & b")["text"] == "&lt;!here&gt; a &amp; b"
    check_view(reject_modal("m" * 3000))
    with pytest.raises(ValueError):
        reject_modal("m" * 3001)
    assert fallback_text(card(args={"x": "y" * 10_000})).startswith("Approval needed: deploy")
    assert len(fallback_text(card(args={"x": "y" * 10_000}))) < 3000


def test_sdk_validation_catches_broken_limits() -> None:
    from slack_sdk.errors import SlackObjectFormationError

    with pytest.raises(SlackObjectFormationError):
        check_message({"text": "t", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]})
    button = {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "A"},
                                               "value": "v" * 2001}]}
    with pytest.raises(SlackObjectFormationError):
        check_message({"text": "t", "blocks": [button]})
    with pytest.raises(AssertionError):
        check_message({"text": "", "blocks": []})


def test_parse_mention_and_thread_ids() -> None:
    body = json.loads(event_body(mention("U0ALICE01", "deploy api to prod", ts="1700000000.000100")))
    parsed = parse_event(body, BOT_USER)
    assert parsed is not None
    msg = parsed.inbound
    assert msg.text == "deploy api to prod"
    assert msg.conversation.thread_id == f"slack:{TEAM}:{CHANNEL}:1700000000.000100"
    assert msg.actor.qualified == "slack:U0ALICE01"
    assert msg.event_id == f"slack:{TEAM}:{CHANNEL}:1700000000.000100"
    reply = json.loads(event_body(message("U0ALICE01", "more", ts="1700000001.000001",
                                          thread_ts="1700000000.000100")))
    parsed = parse_event(reply, BOT_USER)
    assert parsed and parsed.is_reply and parsed.inbound.conversation.thread_id.endswith(":1700000000.000100")


@pytest.mark.parametrize("extra", [{"subtype": "message_changed"}, {"subtype": "bot_message"},
                                   {"bot_id": "B1"}, {"user": BOT_USER}, {"user": None},
                                   {"ts": "nope"}, {"channel": "../x"}])
def test_parse_ignores_bots_subtypes_and_junk(extra: dict) -> None:
    event = {**message("U0ALICE01", "status"), **extra}
    assert parse_event(json.loads(event_body(event)), BOT_USER) is None


def test_strip_mentions() -> None:
    assert strip_mentions(f"<@{BOT_USER}> deploy <@U0DANA001>", BOT_USER) == "deploy <@U0DANA001>"
    assert strip_mentions(f"hey <@{BOT_USER}|clearance> status", BOT_USER) == "hey status"
    assert strip_mentions("<@U0XYZ> status", None) == "status"


def test_parse_clicks_and_reject_modal_roundtrip() -> None:
    click = parse_action(block_actions("U0DANA001", "clearance_reject", "apv_" + "b" * 22,
                                       card_ts="1700000002.000001", thread_ts="1700000000.000100"))
    assert click is not None and click.decision is Decision.REJECT and click.trigger_id
    assert click.conversation.thread_id == f"slack:{TEAM}:{CHANNEL}:1700000000.000100"
    view = reject_modal(reject_metadata(click))
    submitted = parse_view_submission(view_submission("U0DANA001", view, "  not now  "))
    assert submitted is not None
    assert (submitted.approval_id, submitted.reason, submitted.decision) == (
        "apv_" + "b" * 22, "not now", Decision.REJECT)
    assert submitted.conversation == click.conversation
    assert submitted.place == click.place == Place("slack", TEAM, CHANNEL, "1700000002.000001")
    assert parse_view_submission(view_submission("U0DANA001", view, None)).reason == ""  # type: ignore[union-attr]
    assert parse_action({"type": "block_actions", "actions": [{"action_id": "other", "value": "x"}]}) is None
    assert parse_action({"type": "block_actions", "user": "x", "actions": []}) is None


def test_adapters_slack_imports_no_bot_graph_or_langchain() -> None:
    root = pathlib.Path(__file__).resolve().parents[2] / "adapters" / "slack"
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                forbidden = {"bot", "graph", "langgraph", "langchain", "langchain_core"}
                assert name.split(".")[0] not in forbidden, (path, name)
