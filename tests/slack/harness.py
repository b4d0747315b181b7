"""The real server (bot.http.server + bot.platforms, real Bolt) on loopback against FakeSlack."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, AsyncIterator

import aiohttp
from aiohttp.test_utils import TestServer

from bot.http.server import build_app
from bot.platforms import attach_platforms
from bot.platforms.slack import SLACK
from tests.conftest import runtime_for
from tests.slack.fake_slack import APP_TOKEN, BOT_TOKEN, FakeSlack
from tests.slack.payloads import SECRET, event_body, form, sign


@dataclass
class Stack:
    fake: FakeSlack
    runtime: Any
    server: TestServer | None
    http: aiohttp.ClientSession
    app: Any

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/slack/events"))

    async def post(self, body: str, *, content_type: str, headers: dict[str, str] | None = None,
                   signed: bool = True) -> aiohttp.ClientResponse:
        h = {"Content-Type": content_type, **(sign(body) if signed else {}), **(headers or {})}
        async with self.http.post(self.url, data=body.encode(), headers=h) as resp:
            await resp.read()
            return resp

    async def event(self, event: dict[str, Any], event_id: str | None = None,
                    headers: dict[str, str] | None = None) -> aiohttp.ClientResponse:
        return await self.post(event_body(event, event_id), content_type="application/json",
                               headers=headers)

    async def interact(self, payload: dict[str, Any]) -> aiohttp.ClientResponse:
        return await self.post(form(payload), content_type="application/x-www-form-urlencoded")

    async def settle(self) -> None:
        """Wait for the Slack listeners' tasks and the service's background work."""
        inbound = self.app[SLACK]
        for _ in range(50):
            await inbound.drain()
            await self.runtime.service.drain()
            # The service's drain returned with nothing left of its own and nothing has run
            # since; if the adapter has nothing either, both are idle.
            if not len(inbound.background):
                return
        raise TimeoutError("background work did not settle")


@contextlib.asynccontextmanager
async def slack_stack(database_url: str, *, tools_yaml: str | None = None, tmp_path: Any = None,
                      http: bool = True, socket: bool = False,
                      fake: FakeSlack | None = None, **extra: Any) -> AsyncIterator[Stack]:
    own_fake = fake is None
    fake = fake or await FakeSlack().start()
    settings: dict[str, Any] = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": fake.api_url, **extra}
    if http:
        settings["SLACK_SIGNING_SECRET"] = SECRET
    if socket:
        settings["SLACK_APP_TOKEN"] = APP_TOKEN
    try:
        async with runtime_for(database_url, tools_yaml, tmp_path, **settings) as runtime:
            app = build_app(runtime, sweep=False)
            await attach_platforms(app, runtime.settings, runtime.service)
            server = TestServer(app, host="127.0.0.1", port=0)
            await server.start_server()
            try:
                async with aiohttp.ClientSession() as session:
                    stack = Stack(fake, runtime, server, session, app)
                    yield stack
                    await stack.settle()
            finally:
                await server.close()
    finally:
        if own_fake:
            await fake.stop()
