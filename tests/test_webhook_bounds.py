"""Webhooks reach only the configured receiver and read a bounded answer: real aiohttp
receivers on 127.0.0.1, one that redirects elsewhere and ones that answer too much."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import AsyncIterator

from aiohttp import web
from aiohttp.test_utils import TestServer

from graph.executors import MAX_RESPONSE_BYTES, execute
from graph.tools import ToolSpec, load_registry

MIB = 1024 * 1024


@contextlib.asynccontextmanager
async def serving(handler: object) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/hook", handler)  # type: ignore[arg-type]
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("/hook"))


def hook_tool(tmp_path: Path, url: str) -> ToolSpec:
    path = tmp_path / "tools.yml"
    path.write_text(f'tools:\n  - name: hook\n    run: {{webhook: {{url: "{url}", retries: 2}}, timeout: 20s}}\n')
    spec = load_registry(path).get("hook")
    assert spec is not None
    return spec


async def test_a_redirect_is_a_failure_and_is_not_followed(tmp_path) -> None:
    elsewhere: list[bytes] = []
    first: list[bytes] = []

    async def second(request: web.Request) -> web.Response:
        elsewhere.append(await request.read())
        return web.Response(text="should never be reached")

    async with serving(second) as second_url:
        async def redirecting(request: web.Request) -> web.Response:
            first.append(await request.read())
            raise web.HTTPTemporaryRedirect(second_url)  # 307: a client following it re-POSTs the body

        async with serving(redirecting) as url:
            result = await execute(hook_tool(tmp_path, url), {"a": 1}, idempotency_key="apv_r", approved_by=[])
    assert not result.ok and result.exit_code == 307
    assert "not followed" in result.content and second_url in result.content
    assert len(first) == 1 and elsewhere == []  # neither followed nor retried


async def _stream(request: web.Request, size: int, *, stall: bool, length: bool) -> web.StreamResponse:
    response = web.StreamResponse()
    if length:
        response.content_length = size
    await response.prepare(request)
    chunk = b"x" * (64 * 1024)
    sent = 0
    while sent < size:
        await response.write(chunk[: size - sent])
        sent += min(len(chunk), size - sent)
    if stall:  # never finish: a client that reads "the rest" waits until its timeout
        await asyncio.sleep(30)
    await response.write_eof()
    return response


async def test_an_answer_over_1_mib_fails_without_reading_the_rest(tmp_path) -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        return await _stream(request, 5 * MIB, stall=True, length=False)

    async with serving(huge) as url:
        started = time.monotonic()
        result = await execute(hook_tool(tmp_path, url), {}, idempotency_key="apv_big", approved_by=[])
        took = time.monotonic() - started
    assert not result.ok and result.content == "HTTP 200: response larger than 1 MiB"
    assert took < 10  # it stopped at the limit instead of waiting for the end (20 s timeout)


async def test_a_declared_length_over_1_mib_is_refused_before_reading(tmp_path) -> None:
    async def declared(request: web.Request) -> web.StreamResponse:
        return await _stream(request, 5 * MIB, stall=True, length=True)

    async with serving(declared) as url:
        result = await execute(hook_tool(tmp_path, url), {}, idempotency_key="apv_len", approved_by=[])
    assert not result.ok and "response larger than 1 MiB" in result.content


async def test_exactly_1_mib_is_accepted(tmp_path) -> None:
    assert MAX_RESPONSE_BYTES == MIB

    async def full(request: web.Request) -> web.StreamResponse:
        return await _stream(request, MIB, stall=False, length=False)

    async with serving(full) as url:
        spec = hook_tool(tmp_path, url)
        result = await execute(spec, {}, idempotency_key="apv_1m", approved_by=[])
    assert result.ok and result.content.startswith("xxxx")  # then truncated to max_output for display
