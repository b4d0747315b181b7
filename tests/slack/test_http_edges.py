"""Authentication, bad input, retries and which messages count, over real HTTP."""

from __future__ import annotations

import json
import logging
import time

import pytest

from tests.slack.fake_slack import BOT_ID, BOT_TOKEN, BOT_USER, approval_id_of
from tests.slack.harness import slack_stack
from tests.slack.payloads import (
    SECRET,
    block_actions,
    event_body,
    form,
    mention,
    message,
    new_ts,
    sign,
)
from tests.slack.test_flow import ALICE, DANA, ask

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite:///{tmp_path}/clearance.db"


async def test_forged_and_stale_signatures_get_401(sqlite_url, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    async with slack_stack(sqlite_url) as s:
        body = event_body(mention(ALICE, "deploy api v2.3 to prod"))
        forged = sign(body, secret="not-the-secret")
        stale = sign(body, timestamp=int(time.time()) - 6 * 60)
        tampered = sign(body)
        cases = [forged, stale, {}, {"X-Slack-Signature": "v0=00", "X-Slack-Request-Timestamp": "x"}]
        for headers in cases:
            resp = await s.post(body, content_type=JSON, headers=headers, signed=False)
            assert resp.status == 401, headers
        resp = await s.post(body.replace("prod", "staging"), content_type=JSON, headers=tampered, signed=False)
        assert resp.status == 401
        await s.settle()
        assert not s.fake.of("chat.postMessage"), "nothing unauthenticated reached the flow"
        await ask(s, "deploy api v2.3 to prod")  # and a real one, for the logs below
    assert SECRET not in caplog.text and BOT_TOKEN.split("-", 1)[1] not in caplog.text
    assert "401" in caplog.text or "invalid" in caplog.text.lower()  # each refusal is logged


async def test_malformed_bodies_get_4xx_never_5xx(sqlite_url) -> None:
    async with slack_stack(sqlite_url) as s:
        signed_bodies = [
            ("", JSON), ("{", JSON), ("[]", JSON), ("null", JSON), ('"x"', JSON),
            ('{"type": "event_callback"}', JSON),
            ('{"type": "event_callback", "event": "nope", "team_id": 5}', JSON),
            ('{"type": "event_callback", "event": {"type": "app_mention"}}', JSON),
            ("payload=not-json", FORM), ("payload=", FORM), ("payload=%5B%5D", FORM), ("a=b", FORM),
            (form({"type": "block_actions"}), FORM),
            (form({"type": "block_actions", "actions": "x", "user": "x", "team": 1}), FORM),
            (form({"type": "view_submission", "view": {"callback_id": "clearance_reject_reason",
                                                        "private_metadata": "{bad"}}), FORM),
            ("\x00\x01garbage", "text/plain"),
        ]
        for body, ctype in signed_bodies:
            resp = await s.post(body, content_type=ctype)
            assert resp.status < 500, (body, resp.status)
        raw = b"\xff\xfe{not utf8"
        ts = str(int(time.time()))
        import hashlib
        import hmac

        sig = "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + raw, hashlib.sha256).hexdigest()
        async with s.http.post(s.url, data=raw, headers={"Content-Type": JSON, "X-Slack-Signature": sig,
                                                          "X-Slack-Request-Timestamp": ts}) as resp:
            assert 400 <= resp.status < 500
        async with s.http.post(s.url, data=b"x" * (2 * 1024 * 1024), headers={"Content-Type": JSON}) as resp:
            assert 400 <= resp.status < 500
        # A well-formed click on an approval that does not exist: acked, then told why.
        card_ts = new_ts()
        resp = await s.interact(block_actions(DANA, "clearance_approve", "apv_" + "x" * 22,
                                              card_ts=card_ts, thread_ts=card_ts))
        assert resp.status == 200
        resp = await s.interact(block_actions(DANA, "clearance_approve", "<script>", card_ts=card_ts,
                                              thread_ts=card_ts))
        assert resp.status == 200
        await s.settle()
        texts = [c.args["text"] for c in s.fake.of("chat.postEphemeral")]
        assert sorted(texts) == ["No such approval.", "That is not a valid approval id."]
        assert not s.fake.of("chat.postMessage")


async def test_retried_event_gives_one_card_also_across_a_restart(sqlite_url) -> None:
    event = mention(ALICE, "deploy api v2.3 to prod")
    body = event_body(event, "Ev0RETRY001")
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    async with slack_stack(sqlite_url) as s:
        fake = s.fake
        await s.post(body, content_type=JSON)
        await s.post(body, content_type=JSON, headers=retry)
        await s.settle()
        assert len(fake.cards()) == 1
        async with slack_stack(sqlite_url, fake=fake) as again:  # a second process, same database
            resp = await again.post(body, content_type=JSON, headers={**retry, "X-Slack-Retry-Num": "2"})
            assert resp.status == 200
            await again.settle()
        assert len(fake.cards()) == 1


async def test_which_messages_count(sqlite_url) -> None:
    async with slack_stack(sqlite_url) as s:
        thread_ts, [card] = await ask(s, "deploy api v2.3 to prod")
        posts = len(s.fake.posts())
        ignored = [
            message(ALICE, "status"),  # top level in a channel, no mention
            message(ALICE, "status", thread_ts=new_ts()),  # a thread without a run
            message(ALICE, "status", thread_ts=thread_ts, subtype="message_changed"),
            message(ALICE, "status", thread_ts=thread_ts, subtype="channel_join"),
            message(ALICE, "status", thread_ts=thread_ts, bot_id="B0OTHER01"),
            message(BOT_USER, "status", thread_ts=thread_ts, bot_id=BOT_ID),  # our own post
            message(ALICE, f"<@{BOT_USER}> status", thread_ts=thread_ts),  # the app_mention covers it
        ]
        for event in ignored:
            assert (await s.event(event)).status == 200
        await s.settle()
        assert len(s.fake.posts()) == posts, [c.args["text"] for c in s.fake.posts()[posts:]]

        # A plain reply in the run's thread continues the run there.
        await s.event(message(DANA, "status", thread_ts=thread_ts))
        await s.settle()
        replies = s.fake.posts()[posts:]
        assert replies and all(c.args["thread_ts"] == thread_ts for c in replies)

        # A DM needs no mention; its thread is keyed by the message ts.
        dm_ts = new_ts()
        before = len(s.fake.posts())
        await s.event(message(ALICE, "status", channel="D0DM00001", channel_type="im", ts=dm_ts))
        await s.settle()
        dm = s.fake.posts()[before:]
        assert dm and all(c.args["channel"] == "D0DM00001" and c.args["thread_ts"] == dm_ts for c in dm)
        threads = await s.runtime.ledger.thread(f"slack:T0TEAM001:D0DM00001:{dm_ts}")
        assert threads is not None

        # The mention and the message event of one post are one message, not two runs.
        both_ts = new_ts()
        before = len(s.fake.posts())
        await s.event(mention(ALICE, "status", ts=both_ts))
        await s.event(message(ALICE, f"<@{BOT_USER}> status", ts=both_ts, channel_type="channel"))
        await s.settle()
        assert len(s.fake.posts()) - before == 1
        assert json.dumps(card.args)  # the original card stayed untouched


async def test_a_click_is_acked_empty_and_other_apps_buttons_are_left_to_bolt(sqlite_url) -> None:
    """Our buttons are acked without Bolt's dispatch, as Bolt acks them (an empty 200);
    a button that is not ours still goes to Bolt, which has no listener for it."""
    async with slack_stack(sqlite_url) as s:
        ts, [card] = await ask(s, "deploy api v2.3 to prod")
        approval_id = approval_id_of(card)
        for action in ("someone_elses", "clearance_approve_x", "clearance_approve"):
            body = form(block_actions(DANA, action, approval_id, card_ts=card.result["ts"], thread_ts=ts))
            async with s.http.post(s.url, data=body.encode(), headers={"Content-Type": FORM, **sign(body)}) as resp:
                answer = (resp.status, await resp.text())
            assert answer == ((200, "") if action == "clearance_approve" else (404, '{"error": "unhandled request"}'))
            if action != "clearance_approve":
                await s.settle()
                approval = await s.runtime.ledger.get(approval_id)
                assert approval is not None and approval.status.value == "pending"
        await s.settle()
        approval = await s.runtime.ledger.get(approval_id)
        assert approval is not None and approval.status.value == "done"
