"""The real Clearance HTTP server (build_app + attach_platforms) with Teams enabled, on
loopback, next to the fake Bot Framework connector."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, AsyncIterator

import aiohttp
from aiohttp import web

from bot.http.server import build_app
from bot.platforms import attach_platforms
from bot.platforms.teams import TEAMS_ADAPTER
from tests.conftest import runtime_for
from tests.teams.fakes import FakeConnector, fake_connector


@dataclass
class TeamsServer:
    url: str
    runtime: Any
    app: web.Application
    connector: FakeConnector
    http: aiohttp.ClientSession

    @property
    def adapter(self) -> Any:
        return self.app[TEAMS_ADAPTER]

    async def post(self, activity: Any, *, headers: dict[str, str] | None = None,
                   data: bytes | None = None) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"data": data} if data is not None else {"json": activity}
        async with self.http.post(f"{self.url}/api/messages", headers=headers or {}, **kwargs) as resp:
            text = await resp.text()
            try:
                body = await resp.json(content_type=None) if text else None
            except ValueError:
                body = text
            return resp.status, body

    async def settle(self) -> None:
        """Wait until the adapter's message runs and the service's decisions are done."""
        for _ in range(50):
            await self.adapter.drain()
            await self.runtime.service.drain()
            # service.drain returned with nothing left; only a run the adapter started since
            # could still be going.
            if len(self.adapter.background) == 0:
                return


@contextlib.asynccontextmanager
async def teams_server(database_url: str, *, connector: FakeConnector | None = None,
                       tools_yaml: str | None = None, tmp_path: Any = None,
                       **settings: Any) -> AsyncIterator[TeamsServer]:
    settings.setdefault("TEAMS_ALLOW_ANONYMOUS", True)
    async with contextlib.AsyncExitStack() as stack:
        if connector is None:
            connector = await stack.enter_async_context(fake_connector())
        runtime = await stack.enter_async_context(
            runtime_for(database_url, tools_yaml=tools_yaml, tmp_path=tmp_path, **settings))
        app = build_app(runtime, sweep=False)
        await attach_platforms(app, runtime.settings, runtime.service)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        http = await stack.enter_async_context(aiohttp.ClientSession())
        yield TeamsServer(f"http://127.0.0.1:{port}", runtime, app, connector, http)
