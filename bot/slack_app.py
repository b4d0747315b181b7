"""Slack wiring (issue 3): build the Bolt adapter from settings and mount it."""

from __future__ import annotations

from aiohttp import web

from bot.runtime import Runtime


async def attach_slack(app: web.Application, runtime: Runtime) -> None:
    raise NotImplementedError("the Slack adapter is not built yet")
