"""The database goes away under a running `clearance serve` and comes back: readiness says
so within two seconds, a click and a message during the outage are answered with one clear
"try again in a moment" (never silence), and everything works again without a restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from bot.approvals.replies import UNAVAILABLE
from tests import pg_cluster
from tests.helpers import counting_tools, executions
from tests.ops.procs import DANA, Serve, card_in, click_on, mention_on, slack_env, start_serve
from tests.slack.fake_slack import FakeSlack


async def ready(http: aiohttp.ClientSession, serve: Serve) -> tuple[int, float]:
    start = time.monotonic()
    async with http.get(serve.base + "/readyz") as resp:
        await resp.read()
        return resp.status, time.monotonic() - start


async def until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.mark.skipif(not pg_cluster.available(), reason="needs Debian's postgresql package")
async def test_database_outage_drill(tmp_path: Path) -> None:
    count = tmp_path / "count"
    tools = tmp_path / "tools.yml"
    tools.write_text(counting_tools(count, sleep=0))
    fake = await FakeSlack().start()
    with pg_cluster.cluster() as pg:
        serve = await start_serve(slack_env(fake, pg.url, tools, CLEARANCE_SWEEP_INTERVAL="0.5"), tmp_path)
        try:
            async with aiohttp.ClientSession() as http:
                assert (await ready(http, serve))[0] == 200
                first = await mention_on(http, serve, "act on one")

                async def first_card() -> bool:
                    return card_in(fake, first) is not None
                await until(first_card, 30, "the first card")
                card = card_in(fake, first)

                await asyncio.to_thread(pg.stop)
                status, took = await ready(http, serve)
                assert status == 503 and took < 3.0, (status, took)

                # A click and a message during the outage: both acked, then answered.
                assert await click_on(http, serve, card, first) == 200
                second = await mention_on(http, serve, "act on two")

                async def told() -> bool:
                    return any(c.args.get("user") == DANA and c.args.get("text") == UNAVAILABLE
                               for c in fake.of("chat.postEphemeral"))
                await until(told, 20, "the clicker to be told to try again")

                async def answered() -> bool:
                    return any(c.args.get("thread_ts") == second and c.args.get("text") == UNAVAILABLE
                               for c in fake.posts())
                await until(answered, 20, "the message to be answered")
                assert (await ready(http, serve))[0] == 503
                assert not executions(count)

                await asyncio.to_thread(pg.start)

                async def back() -> bool:
                    return (await ready(http, serve))[0] == 200
                await until(back, 60, "readiness after the database is back")

                # Same process, no restart: the click and the message work now.
                assert await click_on(http, serve, card, first) == 200
                await until(lambda: asyncio.sleep(0, len(executions(count)) == 1), 30, "the approved call to run")
                again = await mention_on(http, serve, "act on two")

                async def second_card() -> bool:
                    return card_in(fake, again) is not None
                await until(second_card, 30, "a card for the repeated message")
                await asyncio.sleep(0.5)
                assert len(executions(count)) == 1
        finally:
            code = serve.stop()
            await fake.stop()
    assert code == 0, serve.output()
    out = serve.output()
    assert "database unavailable" in out  # operators get a log line for each refusal
