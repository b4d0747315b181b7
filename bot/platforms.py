"""Mount the chat platforms that the settings enable onto the HTTP app."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.runtime import Runtime

log = logging.getLogger("clearance")


async def attach_platforms(app: web.Application, runtime: Runtime) -> None:
    """Slack and Teams plug in here (each adapter mounts its own routes)."""
    settings = runtime.settings
    if settings.slack_enabled:
        log.warning("Slack is configured but this build has no Slack adapter yet")
    if settings.teams_enabled:
        log.warning("Teams is configured but this build has no Teams adapter yet")
