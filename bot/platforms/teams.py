"""Teams wiring (issue 4): build the Agents SDK adapter from settings and mount it at
`POST /api/messages`. The adapter gets the service's handlers, never the service."""

from __future__ import annotations

import logging

from aiohttp import web

from adapters.teams import TeamsAdapter
from bot.runtime import Runtime

log = logging.getLogger("clearance.teams")
TEAMS_ADAPTER = web.AppKey("teams_adapter", TeamsAdapter)


def build_teams_adapter(runtime: Runtime) -> TeamsAdapter:
    settings = runtime.settings
    password = settings.teams_app_password.get_secret_value() if settings.teams_app_password else None
    return TeamsAdapter(
        on_message=runtime.service.on_message,
        on_decision=runtime.service.on_decision,
        app_id=settings.teams_app_id,
        app_password=password,
        tenant_id=settings.teams_tenant_id,
        allow_anonymous=settings.teams_allow_anonymous,
    )


async def attach_teams(app: web.Application, runtime: Runtime) -> None:
    settings = runtime.settings
    adapter = build_teams_adapter(runtime)
    runtime.service.add_adapter(adapter)
    adapter.mount(app)
    app[TEAMS_ADAPTER] = adapter

    async def finish_runs(app: web.Application):  # type: ignore[no-untyped-def]
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
        mode = f"single-tenant {settings.teams_tenant_id}" if settings.teams_tenant_id else "multi-tenant"
        log.info("Teams enabled at /api/messages (JWT validated, %s)", mode)
