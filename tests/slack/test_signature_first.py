"""The signature is checked on the raw bytes before anything is parsed, over real HTTP:
garbage, huge or absurdly nested bodies get 401 when unsigned or wrongly signed, 400 when
signed but unparsable, and never a 500. It is the only check (Bolt's own is off), so a
click on a real card that is not signed as Slack signs it decides nothing."""

from __future__ import annotations

import logging
import time
from urllib.parse import quote

import pytest

from adapters.slack.parse import APPROVE_ACTION, REJECT_ACTION
from tests.slack.fake_slack import approval_id_of
from tests.slack.harness import slack_stack
from tests.slack.payloads import SECRET, block_actions, form, mention, new_ts, sign

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
DEEP = 100_000
NESTED_JSON = "[" * DEEP + "]" * DEEP
NESTED_FORM = "payload=" + quote("[" * DEEP + "]" * DEEP)
NESTED_OBJECT = '{"type": "block_actions", "actions": ' + "[" * DEEP + "]" * DEEP + "}"


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite:///{tmp_path}/clearance.db"


BODIES = [
    (NESTED_FORM, FORM),
    (NESTED_JSON, JSON),
    (NESTED_OBJECT, JSON),
    ("payload=" + quote('{"type": "block_actions", "user": ' * 5000), FORM),
    ("\x00\x01garbage" * 1000, "text/plain"),
    ("x" * 900_000, JSON),
    ("{" * 500_000, JSON),
]


def _wrong(body: str) -> list[dict[str, str]]:
    now = int(time.time())
    return [
        {},  # no signature at all
        sign(body, secret="not-the-secret"),
        sign(body, timestamp=now - 6 * 60),  # correct HMAC, stale timestamp
        sign(body, timestamp=now + 6 * 60),
        {**sign(body), "X-Slack-Signature": "v0=" + "0" * 64},
        {**sign(body), "X-Slack-Request-Timestamp": "12ab"},
        {**sign(body), "X-Slack-Request-Timestamp": "\u0661\u0662"},  # digits, but not ASCII
        {"X-Slack-Signature": "v0=00", "X-Slack-Request-Timestamp": str(now)},
    ]


async def test_unsigned_or_wrongly_signed_bodies_get_401_unparsed(sqlite_url, caplog) -> None:
    caplog.set_level(logging.WARNING)
    async with slack_stack(sqlite_url) as s:
        for body, ctype in BODIES:
            for headers in _wrong(body):
                resp = await s.post(body, content_type=ctype, headers=headers, signed=False)
                assert resp.status == 401, (body[:40], headers, resp.status)
        # Bytes that are not UTF-8 cannot carry Slack's signature (it signs text).
        raw = b"payload=\xff\xfe" + b"[" * 1000
        async with s.http.post(s.url, data=raw, headers={"Content-Type": FORM, **sign("payload=")}) as resp:
            assert resp.status == 401
        # Missing headers are refused before the body is read, however large.
        async with s.http.post(s.url, data=b"[" * (3 * 1024 * 1024), headers={"Content-Type": JSON}) as resp:
            assert resp.status == 401
        await s.settle()
        assert not s.fake.calls or all(c.method == "auth.test" for c in s.fake.calls)
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text
    assert SECRET not in caplog.text


async def test_signed_but_unparsable_bodies_get_400(sqlite_url) -> None:
    async with slack_stack(sqlite_url) as s:
        cases = [*BODIES, ("[]", JSON), ("payload=%5B%5D", FORM), ("a=b", FORM), ("", JSON),
                 ('{"no": "type"}', JSON), ("payload=not-json", FORM)]
        for body, ctype in cases:
            resp = await s.post(body, content_type=ctype)
            assert resp.status == 400, (body[:40], resp.status)
        # Well signed but over the size limit: refused as too large, never read whole.
        body = "x" * (1024 * 1024 + 1)
        resp = await s.post(body, content_type=JSON)
        assert resp.status == 413
        await s.settle()
        assert not [c for c in s.fake.calls if c.method != "auth.test"]


async def test_a_click_not_signed_by_slack_decides_nothing(sqlite_url) -> None:
    async with slack_stack(sqlite_url) as s:
        ts = new_ts()
        assert (await s.event(mention("U0ALICE01", "deploy api v2.3 to prod", ts=ts))).status == 200
        await s.settle()
        (card,) = s.fake.cards()
        approval_id = approval_id_of(card)
        calls = len(s.fake.calls)
        for action in (APPROVE_ACTION, REJECT_ACTION):
            body = form(block_actions("U0DANA001", action, approval_id, card_ts=card.result["ts"], thread_ts=ts))
            for headers in _wrong(body):
                resp = await s.post(body, content_type=FORM, headers=headers, signed=False)
                assert resp.status == 401, (action, headers, resp.status)
            # Signed, then changed on the way (another approval id, the same signature).
            tampered = body.replace(approval_id[-4:], "0000")
            resp = await s.post(tampered, content_type=FORM, headers=sign(body), signed=False)
            assert resp.status == 401
        await s.settle()
        approval = await s.runtime.ledger.get(approval_id)
        assert approval is not None and approval.status.value == "pending"
        assert len(s.fake.calls) == calls, [c.method for c in s.fake.calls[calls:]]
        # The same click, signed: decided.
        body = form(block_actions("U0DANA001", APPROVE_ACTION, approval_id, card_ts=card.result["ts"], thread_ts=ts))
        assert (await s.post(body, content_type=FORM)).status == 200
        await s.settle()
        approval = await s.runtime.ledger.get(approval_id)
        assert approval is not None and approval.status.value == "done"
