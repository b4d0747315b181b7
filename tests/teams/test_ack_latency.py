"""Invariant 4 for Teams: the HTTP answer to a message and the invoke response to a click
come at once, whatever the agent or the tool is doing."""

from __future__ import annotations

import time

from tests.slack.test_ack_latency import SLOW
from tests.teams.conftest import teams_server
from tests.teams.fakes import message


async def test_message_and_invoke_answered_while_slow_tools_run(tmp_path) -> None:
    async with teams_server(f"sqlite:///{tmp_path}/c.db", tools_yaml=SLOW, tmp_path=tmp_path) as srv:
        url = srv.connector.url
        start = time.monotonic()
        status, _ = await srv.post(message(url, "inspect"))
        assert status in (200, 201, 202) and time.monotonic() - start < 1.0
        await srv.settle()
        await srv.post(message(url, "migrate"))
        await srv.settle()
        (card,) = srv.connector.cards()
        approval_id = card.body["attachments"][0]["content"]["actions"][0]["data"]["approval_id"]
        start = time.monotonic()
        status, body = await srv.post(srv.connector.click(approval_id, "approve", user="dana"))
        assert status == 200 and time.monotonic() - start < 1.0
        assert body["statusCode"] == 200
        await srv.settle()
        assert (await srv.runtime.ledger.get(approval_id)).status.value == "done"
