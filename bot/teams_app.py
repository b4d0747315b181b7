"""Teams wiring (issue 4): build the Agents SDK adapter from settings and mount it."""

from __future__ import annotations

from aiohttp import web

from bot.runtime import Runtime


async def attach_teams(app: web.Application, runtime: Runtime) -> None:
    raise NotImplementedError("the Teams adapter is not built yet")
