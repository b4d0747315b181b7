"""The Agent Server goes away and comes back: readiness says so, a message is answered "the
agent server is unreachable; I will retry" and kept, decisions are recorded and their resume
sent once it is back; nothing is lost, nothing runs twice. Then two `clearance serve` replicas
on one PostgreSQL race on the last card of a batch: the server's run is resumed once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from adapters.base import Actor, Decision, DecisionClick, Outcome
from bot.approvals.models import Status
from bot.approvals.replies import SERVER_UNREACHABLE
from bot.http.server import build_app
from tests.agent_server.conftest import ran
from tests.agent_server.devserver import DevServer
from tests.conftest import console_message, runtime_for
from tests.llm.fake_openai import FakeOpenAI, calls, text
from tests.ops.procs import card_in, click_on, mention_on, slack_env, start_serve
from tests.slack.fake_slack import FakeSlack

DANA = Actor("console", "dana", "dana")
DEPLOY = ("deploy", {"service": "api", "version": "v2.3", "environment": "prod"})
RESTART = ("restart", {"service": "web", "environment": "prod"})


async def test_the_server_stopped_and_started_again(database_url, model: FakeOpenAI, agent_server: DevServer,
                                                    tmp_path: Path) -> None:
    model.add(calls(DEPLOY, RESTART), text("Both done."), text("Everything is green."))
    async with runtime_for(database_url, tmp_path=tmp_path, CLEARANCE_LANGGRAPH_URL=agent_server.url) as rt:
        async with TestServer(build_app(rt, sweep=False), host="127.0.0.1") as web, aiohttp.ClientSession() as http:
            await rt.service.on_message(console_message("ship and restart"))
            assert len(rt.recorder.cards) == 2
            await asyncio.to_thread(agent_server.stop)

            async with http.get(str(web.make_url("/readyz"))) as resp:
                assert resp.status == 503 and (await resp.json())["agent_server"] == "unreachable"
            for approval in await rt.ledger.approvals(status=[Status.PENDING]):
                result = await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA))
                assert result.outcome is Outcome.ACCEPTED  # recorded while the server is away
            await rt.service.drain()
            await rt.service.on_message(console_message("how is everything?", user="erin"))
            assert rt.recorder.texts[-1] == SERVER_UNREACHABLE
            assert ran(tmp_path) == []

            await agent_server.start()
            async with http.get(str(web.make_url("/readyz"))) as resp:
                assert resp.status == 200 and (await resp.json())["agent_server"] == "reachable"
            real = rt.service.clock
            rt.service.clock = lambda: real() + 30  # the resumes are due
            await rt.service.sweep()
            await rt.service.drain()
            await rt.service.sweep()
            assert sorted(ran(tmp_path)) == ["deployed api v2.3 to prod", "restarted web in prod"]
            assert "Both done." in rt.recorder.texts
            assert rt.recorder.texts[-1] == "Everything is green."  # the kept message ran, after the cards
            assert model.requests[-1].messages[-1]["content"] == "how is everything?"
            assert len(model.requests) == 3


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_replicas_race_on_the_last_card(database_url, model: FakeOpenAI, agent_server: DevServer,
                                                  tmp_path: Path) -> None:
    model.add(calls(DEPLOY, RESTART), text("Deployed and restarted."))
    fake = await FakeSlack().start()
    env = slack_env(fake, database_url, tmp_path / "none.yml", CLEARANCE_LANGGRAPH_URL=agent_server.url,
                    CLEARANCE_SWEEP_INTERVAL="0.3", CLEARANCE_INBOX_INTERVAL="0")
    env.pop("CLEARANCE_TOOLS")
    replicas = list(await asyncio.gather(start_serve(env, tmp_path, "a"), start_serve(env, tmp_path, "b")))
    try:
        async with aiohttp.ClientSession() as http:
            ts = await mention_on(http, replicas[0], "ship api and restart web")
            for _ in range(300):
                cards = [c for c in fake.cards() if c.args.get("thread_ts") == ts]
                if len(cards) == 2:
                    break
                await asyncio.sleep(0.1)
            first, last = cards
            assert await click_on(http, replicas[1], first, ts) == 200
            await asyncio.sleep(0.5)
            assert await asyncio.gather(*(click_on(http, r, last, ts) for r in replicas)) == [200, 200]
            for _ in range(300):
                if "Deployed and restarted." in [c.args.get("text") for c in fake.posts()]:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.5)  # time for a second resume to show up
            answers = [c.args.get("text") for c in fake.posts() if c.args.get("text") == "Deployed and restarted."]
            assert len(answers) == 1
            assert sorted(ran(tmp_path)) == ["deployed api v2.3 to prod", "restarted web in prod"]
            assert len(model.requests) == 2
            assert card_in(fake, ts) is not None
    finally:
        codes = [r.stop() for r in replicas]
        await fake.stop()
    assert codes == [0, 0], "".join(r.output() for r in replicas)
    for r in replicas:
        assert "Traceback" not in r.output(), r.output()
