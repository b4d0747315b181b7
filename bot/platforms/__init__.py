"""Mount the chat platforms that the settings enable onto the HTTP app.

Each platform's wiring lives in its own module (bot/platforms/slack.py, bot/platforms/teams.py) so the
adapters stay leaves: they receive the service's handlers, never the service itself.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.runtime import Runtime

log = logging.getLogger("clearance")


async def attach_platforms(app: web.Application, runtime: Runtime) -> None:
    settings = runtime.settings
    if settings.slack_enabled:
        from bot.platforms.slack import attach_slack

        await attach_slack(app, runtime)
    if settings.teams_enabled:
        from bot.platforms.teams import attach_teams

        await attach_teams(app, runtime)
