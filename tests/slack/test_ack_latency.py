"""Invariant 4: Slack gets its ack at once, whatever the agent or the tool is doing. A slow
read-only tool runs inside the graph; a slow approved tool runs after the click."""

from __future__ import annotations

import asyncio
import time

from adapters.slack.bolt import ACK_PRIORITY
from adapters.slack.parse import APPROVE_ACTION
from bot.platforms.slack import SLACK
from tests.slack.fake_slack import approval_id_of
from tests.slack.harness import slack_stack
from tests.slack.payloads import block_actions, mention, new_ts

SLOW = """
tools:
  - name: inspect
    description: A slow read-only check
    parameters: {type: object, properties: {}}
    aliases: ["inspect"]
    approval: [{required: false}]
    run: {command: ["sleep", "4"], timeout: 30s}
  - name: migrate
    description: A slow risky job
    parameters: {type: object, properties: {}}
    aliases: ["migrate"]
    approval: [{approvers: ["*"]}]
    run: {command: ["sh", "-c", "sleep 4; echo migrated"], timeout: 30s}
"""
ALICE, DANA = "U0ALICE01", "U0DANA001"


async def test_mention_is_acked_while_a_slow_tool_runs_in_the_graph(tmp_path) -> None:
    async with slack_stack(f"sqlite:///{tmp_path}/c.db", tools_yaml=SLOW, tmp_path=tmp_path) as s:
        start = time.perf_counter()
        resp = await s.event(mention(ALICE, "<@U0BOT0001> inspect", ts=new_ts()))
        assert resp.status == 200
        assert time.perf_counter() - start < 1.0
        await s.settle()
        assert any("inspect: done" in (c.args.get("text") or "") for c in s.fake.of("chat.postMessage"))


async def test_click_is_acked_while_the_approved_tool_runs(tmp_path) -> None:
    async with slack_stack(f"sqlite:///{tmp_path}/c.db", tools_yaml=SLOW, tmp_path=tmp_path) as s:
        ts = new_ts()
        await s.event(mention(ALICE, "<@U0BOT0001> migrate", ts=ts))
        await s.settle()
        (card,) = s.fake.cards()
        payload = block_actions(DANA, APPROVE_ACTION, approval_id_of(card), card_ts=card.result["ts"], thread_ts=ts)
        start = time.perf_counter()
        resp = await s.interact(payload)
        assert resp.status == 200
        assert time.perf_counter() - start < 1.0
        await s.settle()
        (approval,) = await s.runtime.ledger.approvals()
        assert approval.status.value == "done" and approval.result == "migrated"


async def test_work_after_a_click_waits_for_quiet_but_never_past_the_ack_priority(tmp_path) -> None:
    """Background work holds back while a request is being answered, and starts as soon as
    requests stop, or after ACK_PRIORITY at most however long they go on; all the work
    waiting is released together."""
    async with slack_stack(f"sqlite:///{tmp_path}/c.db") as s:
        inbound, loop = s.app[SLACK], asyncio.get_running_loop()
        started: list[float] = []

        async def work() -> None:
            started.append(loop.time())

        # A lone request, then quiet: the work starts well before the ACK_PRIORITY bound.
        assert (await s.post("{}", content_type="application/json", signed=False)).status == 401
        spawned = loop.time()
        inbound.spawn(work())
        await inbound.drain()
        assert started and started[0] - spawned < ACK_PRIORITY

        # A request that stays in flight (its body never ends): the work waits the full
        # ACK_PRIORITY, then goes ahead anyway.
        started.clear()
        assert s.server is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", s.server.port)
        writer.write(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"X-Slack-Request-Timestamp: 1\r\nX-Slack-Signature: v0=00\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n")
        await writer.drain()
        while not inbound._inflight:  # the handler is reading the body
            await asyncio.sleep(0.001)
        spawned = loop.time()
        for _ in range(200):
            inbound.spawn(work())
        await inbound.drain()
        assert len(started) == 200
        assert ACK_PRIORITY <= min(started) - spawned and max(started) - spawned < ACK_PRIORITY + 0.5
        writer.close()
