"""Teams: build the Agents SDK adapter from settings and mount it at `POST /api/messages`.

The adapter module (the Microsoft 365 Agents SDK, slow to import) is imported on attach only.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, AsyncIterator

from aiohttp import web

from adapters.base import InboundHandlers
from bot.config import Settings

if TYPE_CHECKING:
    from adapters.teams import TeamsAdapter
    from bot.flow.service import Service

log = logging.getLogger("clearance.teams")
TEAMS_ADAPTER: web.AppKey[TeamsAdapter] = web.AppKey("teams_adapter")


def describe(settings: Settings) -> str:
    if settings.teams_allow_anonymous:
        return "anonymous, local testing only"
    return f"/api/messages, JWT validated, {_tenancy(settings)}"


def _tenancy(settings: Settings) -> str:
    return f"single-tenant {settings.teams_tenant_id}" if settings.teams_tenant_id else "multi-tenant"


def build_adapter(settings: Settings, handlers: InboundHandlers) -> TeamsAdapter:
    from adapters.teams import TeamsAdapter

    password = settings.teams_app_password.get_secret_value() if settings.teams_app_password else None
    return TeamsAdapter(
        handlers,
        app_id=settings.teams_app_id,
        app_password=password,
        tenant_id=settings.teams_tenant_id,
        allow_anonymous=settings.teams_allow_anonymous,
    )


async def attach(app: web.Application, settings: Settings, service: Service,
                 handlers: InboundHandlers) -> None:
    adapter = build_adapter(settings, handlers)
    service.add_adapter(adapter)
    adapter.mount(app)
    app[TEAMS_ADAPTER] = adapter

    async def finish_runs(app: web.Application) -> AsyncIterator[None]:
        yield
        await adapter.drain()

    app.cleanup_ctx.append(finish_runs)
    if settings.teams_allow_anonymous:
        if not settings.teams_app_id:
            # Without an app id the SDK warns on every turn that its token client has none.
            logging.getLogger("microsoft_agents.hosting.core.connector.client.user_token_client").setLevel(logging.ERROR)
        log.warning("TEAMS_ALLOW_ANONYMOUS=true: /api/messages accepts unauthenticated activities "
                    "(local testing only; never expose this to the internet)")
    else:
        log.info("Teams enabled at /api/messages (JWT validated, %s)", _tenancy(settings))
