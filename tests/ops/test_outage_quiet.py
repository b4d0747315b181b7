"""A 15-second PostgreSQL outage under a real `clearance serve`: every API request meanwhile is
answered 503 in the JSON error model, with Retry-After, within two seconds; readiness says the
database is down; the log holds one line per refused request and per failed sweep, one line
of the pool's reconnect warnings and one recovery line, and no traceback."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from bot.approvals.replies import UNAVAILABLE
from tests import pg_cluster
from tests.helpers import counting_tools
from tests.ops.procs import slack_env, start_serve
from tests.slack.fake_slack import FakeSlack

TOKEN = "outage-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OUTAGE = 15.0


@pytest.mark.skipif(not pg_cluster.available(), reason="needs Debian's postgresql package")
async def test_an_outage_is_quick_503s_and_few_lines(tmp_path: Path) -> None:
    tools = tmp_path / "tools.yml"
    tools.write_text(counting_tools(tmp_path / "count", sleep=0))
    fake = await FakeSlack().start()
    with pg_cluster.cluster() as pg:
        serve = await start_serve(slack_env(fake, pg.url, tools, CLEARANCE_API_TOKEN=TOKEN,
                                            CLEARANCE_SWEEP_INTERVAL="0.5"), tmp_path)
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(serve.base + "/api/approvals", headers=AUTH) as resp:
                    assert resp.status == 200
                await asyncio.sleep(1.5)  # the pool's connections idle: the first request checks them
                before = len(serve.output())

                await asyncio.to_thread(pg.stop)
                refused, slowest, end = 0, 0.0, time.monotonic() + OUTAGE
                while time.monotonic() < end:
                    start = time.monotonic()
                    async with http.get(serve.base + "/api/approvals", headers=AUTH) as resp:
                        took = time.monotonic() - start
                        assert resp.status == 503, resp.status
                        assert await resp.json() == {"error": UNAVAILABLE}
                        assert resp.headers["Retry-After"].isdigit()
                    refused += 1
                    slowest = max(slowest, took)
                    async with http.get(serve.base + "/readyz") as resp:
                        ready = await resp.json()
                        assert resp.status == 503 and ready["database"] == "unreachable", ready
                        assert isinstance(ready["error"], str)
                    refused += 1
                    await asyncio.sleep(0.5)
                assert slowest < 2.0, slowest
                during = serve.output()[before:].splitlines()

                await asyncio.to_thread(pg.start)
                deadline = time.monotonic() + 60
                while True:
                    async with http.get(serve.base + "/api/approvals", headers=AUTH) as resp:
                        if resp.status == 200:
                            break
                    assert time.monotonic() < deadline, "the API never came back"
                    await asyncio.sleep(0.5)
        finally:
            code = serve.stop()
            await fake.stop()
    assert code == 0, serve.output()
    out = serve.output()
    assert "Traceback" not in out, out
    lines = [line for line in during if line.strip()]
    pool = [line for line in lines if " psycopg.pool: " in line]
    sweeps = [line for line in lines if "sweep failed" in line]
    assert len(pool) <= 1, pool
    assert all("database unavailable" in line for line in sweeps), sweeps
    # One line per refused request (the API's and readiness's), one per failed sweep (which
    # backs off), the pool's one: nothing else.
    assert len(lines) <= refused + len(sweeps) + len(pool), lines
    assert len(sweeps) <= 6, sweeps
    assert out.count("database reachable again") == 1, out
