"""`slack:group:S…` approvers, resolved through a fake Slack Web API on 127.0.0.1 that answers
`usergroups.users.list` in Slack's documented shape."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.base import Actor, Decision, DecisionClick, Outcome
from bot.platforms.slack_groups import SlackGroupResolver
from tests.policy.tools import one_card, runs_of

TOKEN = "xoxb-test-token"
GROUPS = {"S0ONCALL": ["U1ONCALL", "U2ONCALL"], "S0EMPTY": []}
ONCALL = Actor("slack", "U1ONCALL", "oncall-one")
OUTSIDER = Actor("slack", "U9OTHER", "outsider")


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def users_list(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if request.method == "POST":
            params.update(await request.post())
        group = str(params.get("usergroup", ""))
        self.calls.append(group)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if group not in GROUPS:
            return web.json_response({"ok": False, "error": "no_such_subteam"})
        return web.json_response({"ok": True, "users": GROUPS[group]})


@contextlib.asynccontextmanager
async def fake_slack() -> AsyncIterator[tuple[FakeSlack, str]]:
    fake = FakeSlack()
    app = web.Application()
    app.router.add_route("*", "/api/usergroups.users.list", fake.users_list)
    async with TestServer(app, host="127.0.0.1") as server:
        yield fake, str(server.make_url("/api/"))


async def test_membership_is_resolved_and_cached_for_a_short_time() -> None:
    now = [1000.0]
    async with fake_slack() as (fake, url):
        resolver = SlackGroupResolver(TOKEN, base_url=url, ttl=30, clock=lambda: now[0])
        listed = ["slack:U0SOMEONE", "slack:group:S0ONCALL", "slack:group:S0EMPTY"]
        assert await resolver(ONCALL, listed) == frozenset({"S0ONCALL"})
        assert await resolver(OUTSIDER, listed) == frozenset()
        assert sorted(fake.calls) == ["S0EMPTY", "S0ONCALL"]  # the second actor hit the cache
        now[0] += 31
        assert await resolver(ONCALL, ["slack:group:S0ONCALL"]) == frozenset({"S0ONCALL"})
        assert fake.calls.count("S0ONCALL") == 2  # refreshed after the TTL


async def test_failures_fail_closed_and_are_not_cached() -> None:
    async with fake_slack() as (fake, url):
        resolver = SlackGroupResolver(TOKEN, base_url=url)
        for _ in range(2):
            assert await resolver(ONCALL, ["slack:group:S0GONE"]) == frozenset()
        assert fake.calls == ["S0GONE", "S0GONE"]
        wrong = SlackGroupResolver("xoxb-wrong", base_url=url)
        assert await wrong(ONCALL, ["slack:group:S0ONCALL"]) == frozenset()
        teams = Actor("teams", "U1ONCALL")  # same id on another platform is someone else
        assert await resolver(teams, ["slack:group:S0ONCALL"]) == frozenset()
        assert len(fake.calls) == 3


async def test_group_approvers_through_the_service(tmp_path) -> None:
    async with fake_slack() as (fake, url):
        # With Slack configured the runtime wires the resolver to SLACK_API_URL.
        slack = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": "signing-secret", "SLACK_API_URL": url}
        async with one_card(f"sqlite:///{tmp_path}/c.db", tmp_path, settings=slack, quorum=1,
                            approvers='["slack:group:S0ONCALL"]') as (rt, approval, runs):
            assert isinstance(rt.service.group_resolver, SlackGroupResolver)
            # Clicked on the card as posted (chat clicks count only from a posted copy).
            [place] = (await rt.ledger.get(approval.id)).places
            refused = await rt.service.on_decision(
                DecisionClick(approval.id, Decision.APPROVE, OUTSIDER, place=place))
            assert refused.outcome is Outcome.NOT_ALLOWED
            assert "not an approver" in refused.message
            accepted = await rt.service.on_decision(
                DecisionClick(approval.id, Decision.APPROVE, ONCALL, place=place))
            await rt.service.drain()
            assert accepted.outcome is Outcome.ACCEPTED
            assert len(runs_of(runs)) == 1
            assert fake.calls == ["S0ONCALL"]  # the outsider's lookup was cached for the member's click
