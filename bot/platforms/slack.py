"""Slack: build the Bolt adapter from settings and mount it (HTTP at `POST /slack/events`,
Socket Mode, or both), and resolve `slack:group:S…` approvers.

The adapter module (Bolt, slack_sdk's Socket Mode client) is imported on attach only.
Group membership changes rarely and a click must be answered within seconds, so members
are cached for a short TTL. A failed lookup counts as "not a member" and is not cached: an
approval rule must fail closed, and the next click tries again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, AsyncIterator, Callable

import aiohttp
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import Actor, InboundHandlers
from bot.config import Settings

if TYPE_CHECKING:
    from adapters.slack import SlackInbound
    from bot.runtime import Runtime

log = logging.getLogger("clearance.slack")
SLACK: web.AppKey[SlackInbound] = web.AppKey("slack")
GROUP_PREFIX = "slack:group:"


def describe(settings: Settings) -> str:
    modes = [m for m, on in (("HTTP at /slack/events", bool(settings.slack_signing_secret)),
                             ("Socket Mode", bool(settings.slack_app_token))) if on]
    return " and ".join(modes)


async def attach(app: web.Application, runtime: Runtime, handlers: InboundHandlers) -> None:
    from adapters.slack import SlackAdapter, SlackInbound, make_client

    settings = runtime.settings
    assert settings.slack_bot_token is not None  # the registry attaches Slack only when it is enabled
    token = settings.slack_bot_token.get_secret_value()
    signing_secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None

    adapter = SlackAdapter(make_client(token, settings.slack_api_url))
    inbound = SlackInbound(adapter, handlers, signing_secret=signing_secret)
    runtime.service.add_adapter(adapter)
    app[SLACK] = inbound
    if signing_secret:
        app.router.add_post("/slack/events", inbound.handle_http)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        # One HTTP session for every Web API call: keep-alive instead of a handshake per post.
        session = aiohttp.ClientSession()
        adapter.client.session = session
        try:
            who = await asyncio.wait_for(adapter.client.auth_test(), timeout=10)
            log.info("Slack: connected as %s in team %s", who.get("user_id"), who.get("team_id"))
        except Exception as exc:  # Slack may be briefly unreachable: Bolt retries on first use
            log.warning("Slack: auth.test failed at start (%s)", type(exc).__name__)
        if app_token:
            await inbound.start_socket_mode(app_token)
            log.info("Slack: Socket Mode connected")
        yield
        await inbound.close()
        adapter.client.session = None
        await session.close()

    app.cleanup_ctx.append(lifecycle)
    log.info("Slack enabled (%s)", describe(settings))


def group_resolver(settings: Settings) -> SlackGroupResolver:
    assert settings.slack_bot_token is not None  # the registry asks only when Slack is enabled
    return SlackGroupResolver(settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url)


class SlackGroupResolver:
    """A Service `group_resolver`: of the listed approvers, the group ids the actor is in
    (through `usergroups.users.list`)."""

    def __init__(self, token: str, *, base_url: str = "https://slack.com/api/", ttl: float = 60.0,
                 timeout: int = 5, clock: Callable[[], float] = time.monotonic) -> None:
        if not base_url.endswith("/"):
            base_url += "/"
        self.client = AsyncWebClient(token=token, base_url=base_url, timeout=timeout)
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    async def __call__(self, actor: Actor, approvers: list[str]) -> frozenset[str]:
        if actor.platform != "slack":
            return frozenset()  # Slack groups hold Slack users only
        groups = [a[len(GROUP_PREFIX):] for a in approvers if a.startswith(GROUP_PREFIX)]
        found = set()
        for group in groups:
            members = await self.members(group)
            if members is not None and actor.id in members:
                found.add(group)
        return frozenset(found)

    async def members(self, group: str) -> frozenset[str] | None:
        """The group's user ids (cached), or None when Slack could not tell us."""
        now = self.clock()
        cached = self._cache.get(group)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            response = await self.client.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:
            log.warning("usergroups.users.list %s failed: %s", group, exc.response.get("error", "unknown"))
            return None
        except Exception as exc:  # network, timeout, a proxy's HTML page: fail closed, say what kind
            log.warning("usergroups.users.list %s failed: %s", group, type(exc).__name__)
            return None
        users = response.get("users") or []
        members = frozenset(u for u in users if isinstance(u, str))
        self._cache[group] = (now + self.ttl, members)
        return members
