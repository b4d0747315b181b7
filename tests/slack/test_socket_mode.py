"""Socket Mode end to end: apps.connections.open at SLACK_API_URL, the websocket URL it
returns, envelopes acked, a card posted, a click handled."""

from __future__ import annotations

import json
import logging

from tests.slack.fake_slack import APP_TOKEN, BOT_TOKEN, approval_id_of
from tests.slack.harness import slack_stack
from tests.slack.payloads import block_actions, event_body, mention, new_ts
from tests.slack.test_flow import ALICE, DANA, check_limits, outcome_text


async def test_socket_mode_events_and_clicks(database_url, caplog) -> None:
    caplog.set_level(logging.DEBUG)  # even at DEBUG, no token reaches the logs
    async with slack_stack(database_url, http=False, socket=True) as s:
        opened = s.fake.of("apps.connections.open")
        assert opened and opened[0].token == APP_TOKEN
        # Socket Mode only (no signing secret): nothing is served over HTTP.
        async with s.http.post(s.url, data=b"{}") as resp:
            assert resp.status == 404

        ts = new_ts()
        envelope = json.loads(event_body(mention(ALICE, "deploy api v2.3 to prod", ts=ts)))
        ack = await s.fake.send_envelope("events_api", envelope)
        assert set(ack) == {"envelope_id"}
        await s.settle()
        [card] = s.fake.cards()
        assert card.args["thread_ts"] == ts

        click = block_actions(DANA, "clearance_approve", approval_id_of(card), card_ts=card.result["ts"],
                              thread_ts=ts)
        ack = await s.fake.send_envelope("interactive", click)
        assert "envelope_id" in ack
        await s.settle()
        updates = s.fake.updates_of(card.result["ts"])
        assert updates and f"Approved by <@{DANA}>" in outcome_text(updates[0])
        assert "Running deploy…" in s.fake.texts()
        check_limits(s)
    for secret in (APP_TOKEN, BOT_TOKEN, APP_TOKEN.split("-", 1)[1], BOT_TOKEN.split("-", 1)[1]):
        assert secret not in caplog.text
