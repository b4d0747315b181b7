"""Slack wiring (issue 3): build the Bolt adapter from settings and mount it.

The adapter gets the service's handlers as callables (adapters never import bot/).
"""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator

import aiohttp
from aiohttp import web

from adapters.slack import SlackAdapter, SlackInbound, make_client
from bot.runtime import Runtime

log = logging.getLogger("clearance.slack")
SLACK = web.AppKey("slack", SlackInbound)


async def attach_slack(app: web.Application, runtime: Runtime) -> None:
    settings = runtime.settings
    assert settings.slack_bot_token is not None  # attach_platforms checks slack_enabled
    token = settings.slack_bot_token.get_secret_value()
    signing_secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None

    adapter = SlackAdapter(make_client(token, settings.slack_api_url))

    async def has_thread(thread_id: str) -> bool:
        return await runtime.ledger.thread(thread_id) is not None

    inbound = SlackInbound(adapter, signing_secret=signing_secret,
                           on_message=runtime.service.on_message,
                           on_decision=runtime.service.on_decision, has_thread=has_thread)
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
    log.info("Slack enabled (%s)", " and ".join(
        m for m, on in (("HTTP at /slack/events", bool(signing_secret)), ("Socket Mode", bool(app_token))) if on))
