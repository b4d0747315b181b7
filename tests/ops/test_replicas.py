"""Two `clearance serve` replicas on one PostgreSQL, no sticky routing: each flow's mention
goes to one replica and every card's clicks race across both. Exactly one execution, one
outcome on the card and one outcome in the ledger per card; and one sweeper at a time."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import psycopg

from bot.ledger.locks import lock_key
from tests.helpers import counting_tools, executions
from tests.ops.procs import DANA, card_in, click_on, mention_on, slack_env, start_serve
from tests.slack.fake_slack import FakeSlack, approval_id_of, blocks_of

FLOWS = 6
HOLD_TOOL = """
  - name: hold
    description: A card that expires quickly
    parameters: {type: object, properties: {target: {type: string}}, required: [target]}
    aliases: ["hold {target}"]
    approval: [{approvers: ["slack:U0NOBODY1"], expires_after: 1s}]
    run: {command: ["true"]}
"""


def card_text(call) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(b["text"]["text"] for b in blocks_of(call) if b.get("type") == "section" and "text" in b)


async def statuses(url: str) -> dict[str, str]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute("SELECT id, status FROM clearance_approvals")
        return {row[0]: row[1] for row in await cur.fetchall()}


async def audit_events(url: str, approval_id: str) -> list[str]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute("SELECT event FROM clearance_audit WHERE approval_id = %s", (approval_id,))
        return [row[0] for row in await cur.fetchall()]


async def until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_two_replicas_race_clicks_and_share_one_sweeper(pg_url, tmp_path: Path) -> None:
    count = tmp_path / "count"
    tools = tmp_path / "tools.yml"
    tools.write_text(counting_tools(count, sleep=0.3) + HOLD_TOOL)
    fake = await FakeSlack().start()
    env = slack_env(fake, pg_url, tools, CLEARANCE_SWEEP_INTERVAL="0.2")
    a, b = await asyncio.gather(start_serve(env, tmp_path, "a"), start_serve(env, tmp_path, "b"))
    replicas = (a, b)
    try:
        async with aiohttp.ClientSession() as http:
            # Halves of the flows start on each replica.
            threads = await asyncio.gather(*(mention_on(http, replicas[i % 2], f"act on t{i}") for i in range(FLOWS)))

            async def all_cards() -> bool:
                return all(card_in(fake, ts) is not None for ts in threads)
            await until(all_cards, 30, "a card in every thread")
            cards = [card_in(fake, ts) for ts in threads]
            ids = [approval_id_of(c) for c in cards]

            # Every card is approved twice at the same moment, once through each replica.
            codes = await asyncio.gather(*(click_on(http, r, card, ts) for card, ts in zip(cards, threads, strict=True)
                                           for r in replicas))
            assert codes == [200] * (2 * FLOWS)

            async def all_done() -> bool:
                return set((await statuses(pg_url)).values()) == {"done"} and len(executions(count)) >= FLOWS
            await until(all_done, 60, "every card done")

            async def all_outcomes_shown() -> bool:
                return all(any("done" in card_text(u) for u in fake.updates_of(c.result["ts"])) for c in cards)
            await until(all_outcomes_shown, 30, "every card showing its outcome")
            await asyncio.sleep(1.0)  # time for any duplicate to show up

            ran = executions(count)
            assert sorted(line.split()[0] for line in ran) == sorted(ids), ran  # each approval ran once
            for card, approval_id in zip(cards, ids, strict=True):
                shown = [u for u in fake.updates_of(card.result["ts"]) if "done" in card_text(u)]
                assert len(shown) == 1, [card_text(u) for u in fake.updates_of(card.result["ts"])]
                events = await audit_events(pg_url, approval_id)
                assert events.count("approve") == 1 and events.count("executing") == 1, events
                assert events.count("done") == 1, events
            # The losing click of each race was told, privately, that the card is decided.
            told = [c for c in fake.of("chat.postEphemeral") if c.args.get("user") == DANA]
            assert len(told) == FLOWS, [c.args.get("text") for c in told]

            # One sweeper at a time: both replicas sweep only while holding the same database
            # lock. While the test holds it, an expired card stays pending on both.
            async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as holder:
                await holder.execute("SELECT pg_advisory_lock(%s)", (lock_key("clearance:sweeper"),))
                ts = await mention_on(http, a, "hold x1")

                async def held_card() -> bool:
                    return card_in(fake, ts) is not None
                await until(held_card, 30, "the expiring card")
                held = card_in(fake, ts)
                await asyncio.sleep(2.5)  # past its expiry, a dozen sweep intervals of both replicas
                assert (await statuses(pg_url))[approval_id_of(held)] == "pending"
                assert not fake.updates_of(held.result["ts"])
                await holder.execute("SELECT pg_advisory_unlock(%s)", (lock_key("clearance:sweeper"),))

            async def expired() -> bool:
                return (await statuses(pg_url))[approval_id_of(held)] == "expired"
            await until(expired, 15, "the card to expire once the lock is free")
            await asyncio.sleep(1.0)
            assert [card_text(u) for u in fake.updates_of(held.result["ts"])].count(
                card_text(fake.updates_of(held.result["ts"])[0])) == 1
            assert len(fake.updates_of(held.result["ts"])) == 1
            assert (await audit_events(pg_url, approval_id_of(held))).count("expire") == 1
    finally:
        codes = [r.stop() for r in replicas]
        await fake.stop()
    assert codes == [0, 0], a.output() + b.output()
    for r in replicas:
        assert "Traceback" not in r.output(), r.output()
