"""Inbound Slack requests built as Slack builds them: Events API envelopes, block_actions
and view_submission payloads (form-encoded `payload=`), signed with v0 HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from tests.slack.fake_slack import APP_ID, BOT_ID, BOT_USER, TEAM

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL = "C0OPS0001"
_seq = itertools.count(1)


def new_ts() -> str:
    return f"{int(time.time())}.{100000 + next(_seq):06d}"


def sign(body: str, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def event_body(event: dict[str, Any], event_id: str | None = None) -> str:
    envelope = {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": TEAM, "user_id": BOT_USER,
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
        "event_context": "4-" + uuid.uuid4().hex,
    }
    return json.dumps(envelope)


def mention(user: str, text: str, *, channel: str = CHANNEL, ts: str | None = None,
            thread_ts: str | None = None) -> dict[str, Any]:
    event = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER}> {text}",
             "ts": ts or new_ts(), "channel": channel, "event_ts": ts or new_ts(), "team": TEAM,
             "client_msg_id": str(uuid.uuid4())}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def message(user: str, text: str, *, channel: str = CHANNEL, channel_type: str = "channel",
            ts: str | None = None, thread_ts: str | None = None, **extra: Any) -> dict[str, Any]:
    stamp = ts or new_ts()
    event = {"type": "message", "user": user, "text": text, "ts": stamp, "channel": channel,
             "event_ts": stamp, "channel_type": channel_type, "team": TEAM, **extra}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def block_actions(user: str, action_id: str, approval_id: str, *, card_ts: str, thread_ts: str,
                  channel: str = CHANNEL) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "api_app_id": APP_ID,
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": card_ts, "channel_id": channel,
                      "is_ephemeral": False, "thread_ts": thread_ts},
        "trigger_id": f"{next(_seq)}.{int(time.time())}.{uuid.uuid4().hex}",
        "team": {"id": TEAM, "domain": "acme"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "ops"},
        "message": {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "ts": card_ts,
                    "thread_ts": thread_ts, "text": "Approval needed", "blocks": []},
        "state": {"values": {}},
        "response_url": "https://hooks.slack.com/actions/T0TEAM001/1/xyz",
        "actions": [{
            "action_id": action_id, "block_id": "clearance_decision", "value": approval_id,
            "text": {"type": "plain_text", "text": "Approve", "emoji": True},
            "type": "button", "action_ts": f"{time.time():.6f}",
        }],
    }


def view_submission(user: str, view: dict[str, Any], reason: str | None) -> dict[str, Any]:
    value = {"type": "plain_text_input", "value": reason}
    return {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "api_app_id": APP_ID,
        "token": "legacy-verification-token",
        "trigger_id": f"{next(_seq)}.{int(time.time())}.{uuid.uuid4().hex}",
        "view": {**view, "state": {"values": {"reason": {"reason": value}}}, "hash": "1.abc"},
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def form(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})
