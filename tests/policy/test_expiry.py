"""Expiry: the sweeper marks the approval expired, updates the card, tells the model, and a
late click is refused — also when the process restarted in between."""

from __future__ import annotations

import asyncio
import time

from aiohttp.test_utils import TestServer

from adapters.base import CardStatus, Decision, DecisionClick, Outcome
from bot.approvals.models import Status
from tests.conftest import console_message, runtime_for
from tests.policy.tools import DANA, ERIN, cfg, one_card, policy_tools, runs_of, tool_messages


async def _wait_past(expires_at: float | None) -> None:
    assert expires_at is not None
    await asyncio.sleep(max(0.0, expires_at - time.time()) + 0.2)


async def _assert_expired_everywhere(rt, approval_id: str, runs) -> None:  # type: ignore[no-untyped-def]
    stored = await rt.ledger.get(approval_id)
    assert stored is not None and stored.status is Status.EXPIRED and stored.resumed_at is not None
    assert rt.recorder.updates[-1].status is CardStatus.EXPIRED
    [msg] = tool_messages(await rt.graph.aget_state(cfg(stored.thread_id)))
    assert msg.status == "error" and msg.content.startswith("Expired")
    late = await rt.service.on_decision(DecisionClick(approval_id, Decision.APPROVE, ERIN))
    assert late.outcome is Outcome.ALREADY_DECIDED and "expired" in late.message
    assert runs_of(runs) == []
    events = [r["event"] for r in await rt.ledger.audit_trail() if r["approval_id"] == approval_id]
    assert events[0] == "requested" and "expire" in events


async def test_sweeper_expires_updates_card_and_tells_the_model(database_url, tmp_path) -> None:
    async with one_card(database_url, tmp_path, expires="1s") as (rt, approval, runs):
        await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA))  # 1 of 2
        await rt.service.drain()
        await _wait_past(approval.expires_at)
        assert await rt.service.sweep() >= 1
        await rt.service.drain()
        await _assert_expired_everywhere(rt, approval.id, runs)
        assert "expired" in rt.recorder.texts[-1].lower()  # the model's answer mentions it


async def test_expiry_survives_a_restart(database_url, tmp_path) -> None:
    runs = tmp_path / "runs.txt"
    tools = policy_tools(runs, expires="1s")
    async with runtime_for(database_url, tools, tmp_path) as rt:
        await rt.service.on_message(console_message("deploy api to prod"))
        [approval] = await rt.ledger.approvals(status=["pending"])
    await _wait_past(approval.expires_at)  # nobody runs while the process is down
    async with runtime_for(database_url, tools, tmp_path) as rt:
        assert await rt.service.sweep() >= 1
        await rt.service.drain()
        await _assert_expired_everywhere(rt, approval.id, runs)


async def test_click_after_expiry_before_the_sweep_is_refused_and_expires_it(tmp_path) -> None:
    async with one_card(f"sqlite:///{tmp_path}/c.db", tmp_path, quorum=1, expires="1s") as (rt, approval, runs):
        await _wait_past(approval.expires_at)
        late = await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA))
        assert late.outcome is Outcome.EXPIRED and "expired" in late.message
        await rt.service.drain()  # the refused click expires it at once, without the sweeper
        await _assert_expired_everywhere(rt, approval.id, runs)


async def test_server_sweeper_runs_in_the_background(tmp_path) -> None:
    from bot.http.server import build_app

    runs = tmp_path / "runs.txt"
    async with runtime_for(f"sqlite:///{tmp_path}/c.db", policy_tools(runs, expires="1s"), tmp_path,
                           CLEARANCE_SWEEP_INTERVAL=0.2) as rt:
        await rt.service.on_message(console_message("deploy api to prod"))
        [approval] = await rt.ledger.approvals(status=["pending"])
        app = build_app(rt)


        async with TestServer(app, host="127.0.0.1"):
            for _ in range(50):  # bounded: 10 s at most
                stored = await rt.ledger.get(approval.id)
                if stored is not None and stored.resumed_at is not None:
                    break
                await asyncio.sleep(0.2)
        await rt.service.drain()
        await _assert_expired_everywhere(rt, approval.id, runs)


async def test_only_one_replica_sweeps_at_a_time(database_url, tmp_path) -> None:
    """Two runtimes on one database stand for two replicas: the sweeper's try-lock admits one."""
    tools = policy_tools(tmp_path / "runs.txt")
    async with runtime_for(database_url, tools, tmp_path) as one, runtime_for(database_url, tools, tmp_path) as two:
        async with one.locks.try_hold("clearance:sweeper") as first:
            async with two.locks.try_hold("clearance:sweeper") as second:
                assert first and not second
        async with two.locks.try_hold("clearance:sweeper") as after:
            assert after  # released when the leader's pass ends
