"""Slack: build the Bolt adapter from settings and mount it (HTTP at `POST /slack/events`,
Socket Mode, or both), and resolve `slack:group:S…` approvers.

Slack's SDKs (Bolt, slack_sdk's Web API and Socket Mode clients) are imported by the two
factories below only, when Slack is on: a server without Slack never loads them, and
`clearance check` and `pending` do not either.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, AsyncIterator

import aiohttp
from aiohttp import web

from adapters.base import InboundHandlers
from bot.config import Settings

if TYPE_CHECKING:
    from adapters.slack import SlackInbound
    from bot.flow.service import Service
    from bot.platforms.slack_groups import SlackGroupResolver

log = logging.getLogger("clearance.slack")
SLACK: web.AppKey[SlackInbound] = web.AppKey("slack")


def describe(settings: Settings) -> str:
    modes = [m for m, on in (("HTTP at /slack/events", bool(settings.slack_signing_secret)),
                             ("Socket Mode", bool(settings.slack_app_token))) if on]
    return " and ".join(modes)


async def attach(app: web.Application, settings: Settings, service: Service,
                 handlers: InboundHandlers) -> None:
    from adapters.slack import SlackAdapter, SlackInbound, make_client

    assert settings.slack_bot_token is not None  # the registry attaches Slack only when it is enabled
    token = settings.slack_bot_token.get_secret_value()
    signing_secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None

    adapter = SlackAdapter(make_client(token, settings.slack_api_url))
    inbound = SlackInbound(adapter, handlers, signing_secret=signing_secret)
    service.add_adapter(adapter)
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
    from bot.platforms.slack_groups import SlackGroupResolver

    assert settings.slack_bot_token is not None  # the registry asks only when Slack is enabled
    return SlackGroupResolver(settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url)
