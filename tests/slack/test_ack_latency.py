"""Invariant 4: Slack gets its ack at once, whatever the agent or the tool is doing. A slow
read-only tool runs inside the graph; a slow approved tool runs after the click."""

from __future__ import annotations

import time

from adapters.slack.parse import APPROVE_ACTION
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
