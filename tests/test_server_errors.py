"""The server's one error model, over real HTTP on 127.0.0.1: a raised `HttpError` becomes its
JSON answer, unparseable input is a 400, and an internal slip is a logged 500, never a 400
that blames the client."""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.errors import HttpError
from bot.http.server import build_app
from tests.conftest import console_message, runtime_for
from tests.policy.test_api import AUTH, TOKEN
from tests.policy.tools import policy_tools


async def reads_json(request: web.Request) -> web.Response:
    return web.json_response({"got": await request.json()})


async def internal_key_error(request: web.Request) -> web.Response:
    return web.json_response({"value": {}["missing"]})


async def internal_type_error(request: web.Request) -> web.Response:
    return web.json_response({"value": len(5)})  # type: ignore[arg-type]


async def refuses(request: web.Request) -> web.Response:
    raise HttpError(429, "slow down", headers={"Retry-After": "7"}, retry_in=7)


async def raw_post(port: int, path: str, headers: str, body: bytes) -> tuple[int, bytes]:
    """A request aiohttp's client would not send: a body that is not what its headers say."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
            f"{headers}Connection: close\r\n\r\n")
    writer.write(head.encode() + body)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


async def test_one_error_model(tmp_path, caplog) -> None:
    async with runtime_for(f"sqlite:///{tmp_path}/c.db", policy_tools(tmp_path / "runs.txt"), tmp_path,
                           CLEARANCE_API_TOKEN=TOKEN) as rt:
        app = build_app(rt, sweep=False)
        for path, handler in (("/t/json", reads_json), ("/t/key", internal_key_error),
                              ("/t/type", internal_type_error), ("/t/refuse", refuses)):
            app.router.add_post(path, handler)
        await rt.service.on_message(console_message("deploy api to prod"))
        [approval] = await rt.ledger.approvals(status=["pending"])
        async with TestServer(app, host="127.0.0.1") as server, \
                aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http:

            async def post(path: str, **kwargs: object) -> tuple[int, object, aiohttp.ClientResponse]:
                async with http.post(path, **kwargs) as resp:  # type: ignore[arg-type]
                    return resp.status, await resp.json(), resp

            assert (await post("/t/json", data=b'{"a": 1}'))[:2] == (200, {"got": {"a": 1}})
            for bad in (b"{not json", b"\xff\xfe{}"):
                assert (await post("/t/json", data=bad))[:2] == (400, {"error": "bad request"})

            status, body, resp = await post("/t/refuse")
            assert (status, body) == (429, {"error": "slow down", "retry_in": 7})
            assert resp.headers["Retry-After"] == "7"

            caplog.clear()
            with caplog.at_level(logging.ERROR, logger="clearance.server"):
                for path in ("/t/key", "/t/type"):
                    assert (await post(path))[:2] == (500, {"error": "internal error"}), path
            logged = [r for r in caplog.records if r.name == "clearance.server" and r.levelno == logging.ERROR]
            assert [r.exc_info[1].__class__ for r in logged if r.exc_info] == [KeyError, TypeError]

            # A body that is not what its Content-Encoding says is the client's fault, on the API too.
            status, raw = await raw_post(server.port, f"/api/approvals/{approval.id}/decision",  # type: ignore[arg-type]
                                         f"Authorization: {AUTH['Authorization']}\r\n"
                                         "Content-Type: application/json\r\nContent-Encoding: gzip\r\n",
                                         b"definitely not gzip")
            assert status == 400 and json.loads(raw) == {"error": "body: does not decode as its Content-Encoding says"}
            assert (await rt.ledger.get(approval.id)).decisions == ()  # type: ignore[union-attr]
