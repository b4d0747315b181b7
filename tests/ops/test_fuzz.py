"""Fuzzing the real HTTP server (Slack, Teams and the approvals API mounted together, on
loopback): thousands of mutated but validly signed / authenticated requests — wrong types,
huge fields, unicode, missing fields, deep nesting. Every answer is 2xx or 4xx, the server
stays healthy, and no approval in the ledger changes."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any, Awaitable, Callable

import aiohttp
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.approvals.models import Status
from bot.http.server import build_app
from bot.platforms import attach_platforms
from tests.conftest import runtime_for
from tests.helpers import counting_tools
from tests.slack.fake_slack import BOT_TOKEN, TEAM, FakeSlack
from tests.slack.payloads import (
    CHANNEL,
    SECRET,
    block_actions,
    event_body,
    form,
    mention,
    message,
    sign,
    view_submission,
)
from tests.teams import fakes as teams

EXAMPLES = 300
API_TOKEN = "fuzz-api-token-0042"
NOBODY = "slack:U0NOBODY1"  # the only approver: no fuzzed request can decide anything
PROTECTED = {"serviceUrl"}  # a mutated serviceUrl would send the bot's replies off this machine


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value] if depth % 2 else {"a": value}
    return value


SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=8), inner, max_size=4), max_leaves=12) | st.sampled_from([
        "x" * 300_000, "\u202e\u0000\U0001f600\ud7ff" * 2000, _nested(400), _nested(401), -(2**80), 1e308,
        "", [], {}, "apv_" + "0" * 26, "<@U0BOT0001> act on x", "act on y",
    ])


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    for key, value in items:
        if key in PROTECTED:
            continue
        found.append((*prefix, key))
        found.extend(_paths(value, (*prefix, key)))
    return found


@st.composite
def mutated(draw: st.DrawFn, doc: Any) -> Any:
    """`doc` after one to four edits: a value replaced, a key dropped, or a key added."""
    doc = json.loads(json.dumps(doc))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        op = draw(st.sampled_from(["set", "drop", "add"]))
        if op == "set":
            parent[path[-1]] = copy.deepcopy(draw(VALUES))  # later edits must not touch a shared constant
        elif op == "drop":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = copy.deepcopy(draw(VALUES))
    return doc


def fuzz(strategy: st.SearchStrategy[Any], send: Callable[[Any], Awaitable[int]],
         loop: asyncio.AbstractEventLoop) -> list[int]:
    """Run hypothesis in this (worker) thread; requests go through the server's loop."""
    seen: list[int] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def one(value: Any) -> None:
        status = asyncio.run_coroutine_threadsafe(send(value), loop).result(timeout=60)
        seen.append(status)
        assert status < 500, (status, json.dumps(value)[:500])

    one()
    return seen


async def test_fuzzed_requests_never_500_nor_change_the_ledger(tmp_path) -> None:
    tools = counting_tools(tmp_path / "count", sleep=0).replace('approvers: ["*"]', f'approvers: ["{NOBODY}"]')
    fake = await FakeSlack().start()
    async with teams.fake_connector() as connector, runtime_for(
        f"sqlite:///{tmp_path}/c.db", tools, tmp_path, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake.api_url, TEAMS_ALLOW_ANONYMOUS=True, CLEARANCE_API_TOKEN=API_TOKEN,
    ) as runtime:
        app = build_app(runtime, sweep=False)
        await attach_platforms(app, runtime.settings, runtime.service)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        loop = asyncio.get_running_loop()
        try:
            async with aiohttp.ClientSession() as http:
                async def post(path: str, body: str | bytes, headers: dict[str, str]) -> int:
                    data = body.encode() if isinstance(body, str) else body
                    async with http.post(base + path, data=data, headers=headers) as resp:
                        await resp.read()
                        return resp.status

                async def slack(body: str, kind: str) -> int:
                    return await post("/slack/events", body, {"Content-Type": kind, **sign(body)})

                # The seed: one pending card, in a Slack thread.
                thread = "1700000000.000100"
                assert await slack(event_body(mention("U0ALICE01", "act on seed", ts=thread)),
                                   "application/json") == 200
                for _ in range(200):
                    await asyncio.sleep(0.05)
                    if fake.cards():
                        break
                [seed] = await runtime.ledger.approvals()
                card_ts = fake.cards()[0].result["ts"]
                before = seed.to_public()

                events = st.one_of(
                    mutated(json.loads(event_body(mention("U0ALICE01", "act on x", thread_ts=thread)))),
                    mutated(json.loads(event_body(message("U0ALICE01", "look", thread_ts=thread)))),
                )

                async def send_event(doc: Any) -> int:
                    return await slack(json.dumps(doc), "application/json")

                meta = {"a": seed.id, "team": TEAM, "c": CHANNEL, "t": thread, "p": [TEAM, CHANNEL, card_ts]}
                reject_view = {"id": "V1", "type": "modal", "callback_id": "clearance_reject_reason",
                               "private_metadata": json.dumps(meta)}
                clicks = st.one_of(
                    mutated(block_actions("U0DANA001", "clearance_approve", seed.id, card_ts=card_ts,
                                          thread_ts=thread)),
                    mutated(block_actions("U0DANA001", "clearance_reject", seed.id, card_ts=card_ts,
                                          thread_ts=thread)),
                    mutated(view_submission("U0DANA001", reject_view, "no")),
                )

                async def send_click(doc: Any) -> int:
                    return await slack(form(doc), "application/x-www-form-urlencoded")

                activities = st.one_of(
                    mutated(teams.message(connector.url, "act on z")),
                    mutated(teams.card_action(connector.url, seed.id, "approve")),
                    mutated(teams.card_action(connector.url, seed.id, "reject", reason="r")),
                )

                async def send_activity(doc: Any) -> int:
                    return await post("/api/messages", json.dumps(doc), {"Content-Type": "application/json"})

                auth = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
                api = st.one_of(
                    st.tuples(st.just("decision"), mutated({"decision": "approve", "by": "ops", "reason": "ok"})),
                    st.tuples(st.just("result"), mutated({"status": "ok", "content": "done", "by": "worker"})),
                    st.tuples(st.sampled_from(["decision", "result"]), VALUES),
                )

                async def send_api(pair: tuple[str, Any]) -> int:
                    return await post(f"/api/approvals/{seed.id}/{pair[0]}", json.dumps(pair[1]), auth)

                statuses: list[int] = []
                for strategy, send in ((events, send_event), (clicks, send_click),
                                       (activities, send_activity), (api, send_api)):
                    statuses += await asyncio.to_thread(fuzz, strategy, send, loop)
                assert len(statuses) >= 4 * EXAMPLES
                assert any(s == 200 for s in statuses) and any(400 <= s < 500 for s in statuses)

                async with http.get(base + "/healthz") as resp:
                    assert resp.status == 200
                async with http.get(base + "/readyz") as resp:
                    assert resp.status == 200
        finally:
            await runner.cleanup()
            await runtime.service.drain()
            await fake.stop()
        after = await runtime.ledger.get(seed.id)
        assert after is not None and after.to_public() == before
        assert {a.status for a in await runtime.ledger.approvals()} == {Status.PENDING}
