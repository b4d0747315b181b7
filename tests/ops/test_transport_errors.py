"""Broken transport against a real `clearance serve` on loopback: a body that is not what its
Content-Encoding says, a coding or charset nobody decodes, a Content-Length that is not a
number, no such route or method, a body too large. Each is refused with its 4xx, nobody needs
to be authenticated to send one, so each costs at most one WARNING line and never a traceback
(a traceback per request is a log flood anyone can start); and every answer Clearance itself
writes is the JSON error model."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from tests.helpers import counting_tools
from tests.ops.procs import Serve, slack_env, start_serve
from tests.slack.fake_slack import FakeSlack

TOKEN = "transport-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOT_GZIP = b"definitely not gzip"
# Every endpoint a stranger can reach: the API (before its token check), Slack (before its
# signature check), Teams, health, and a path nobody serves.
ENDPOINTS = ("/api/approvals/apv_" + "x" * 22 + "/decision", "/slack/events", "/api/messages", "/healthz",
             "/nowhere")


async def raw_post(port: int, path: str, head: str, body: bytes) -> int:
    """What aiohttp's client will not send: a Content-Length that is not a number."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}Connection: close\r\n\r\n".encode() + body)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    return int(answer.split(b" ", 2)[1])


class LogWatch:
    def __init__(self, serve: Serve) -> None:
        self.serve = serve
        self.seen = len(serve.output())

    async def new_lines(self) -> list[str]:
        await asyncio.sleep(0.15)  # a drain after the answer logs after it
        out = self.serve.output()
        lines, self.seen = out[self.seen:].splitlines(), len(out)
        return [line for line in lines if line.strip()]


def assert_quiet(lines: list[str], what: str) -> None:
    assert len(lines) <= 1, (what, lines)
    assert all(" WARNING " in line for line in lines), (what, lines)
    assert not any("Traceback" in line for line in lines), (what, lines)


async def test_broken_transport_is_one_warning_and_the_json_error_model(tmp_path: Path) -> None:
    tools = tmp_path / "tools.yml"
    tools.write_text(counting_tools(tmp_path / "count", sleep=0))
    fake = await FakeSlack().start()
    serve = await start_serve(slack_env(fake, f"sqlite:///{tmp_path}/c.db", tools, CLEARANCE_API_TOKEN=TOKEN,
                                        TEAMS_ALLOW_ANONYMOUS="true"), tmp_path)
    try:
        watch = LogWatch(serve)
        await watch.new_lines()
        async with aiohttp.ClientSession() as http:

            async def post(path: str, headers: dict[str, str], body: bytes) -> tuple[int, object, str]:
                async with http.post(serve.base + path, data=body, headers=headers) as resp:
                    return resp.status, await resp.json(content_type=None), resp.content_type

            cases = (
                ({"Content-Encoding": "gzip", "Content-Type": "application/json"}, NOT_GZIP, 400),
                ({"Content-Encoding": "deflate", "Content-Type": "application/json"}, NOT_GZIP, 400),
                ({"Content-Encoding": "compress", "Content-Type": "application/json"}, b"{}", 415),
                ({"Content-Type": "application/json; charset=no-such-charset"}, b"{}", 415),
                ({"Content-Type": "application/json; charset=rot13"}, b"{}", 415),
            )
            for path in ENDPOINTS:
                for headers, body, expected in cases:
                    for attempt in range(2):  # the same again: still one line each, never more
                        status, answer, kind = await post(path, headers, body)
                        what = (path, headers, attempt)
                        assert (status, kind) == (expected, "application/json"), (what, status, answer)
                        assert isinstance(answer, dict) and isinstance(answer["error"], str), (what, answer)
                        assert_quiet(await watch.new_lines(), str(what))

                # What aiohttp cannot parse at all is answered before any handler; it still
                # costs one line, not a traceback.
                for head in ("Content-Length: abc\r\n", "Content-Length: -1\r\n",
                             "Content-Length: 4\r\nContent-Encoding: br\r\n"):
                    assert await raw_post(serve.port, path, head, b"{}{}") == 400, (path, head)
                    assert_quiet(await watch.new_lines(), f"{path} {head!r}")

            # aiohttp's own refusals speak the same model, with the right status.
            async with http.get(serve.base + "/nowhere") as resp:
                assert resp.status == 404 and await resp.json() == {"error": "not found"}
            async with http.post(serve.base + "/healthz", data=b"") as resp:
                assert resp.status == 405 and await resp.json() == {"error": "method not allowed"}
                assert "GET" in resp.headers["Allow"]
            async with http.post(serve.base + "/api/runs", data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                                 headers={**AUTH, "Content-Type": "application/json"}) as resp:
                assert resp.status == 413 and "too large" in (await resp.json())["error"]
            # A well-formed gzip body is still read as what it says.
            async with http.post(serve.base + "/api/approvals/apv_" + "x" * 22 + "/decision",
                                 data=b'{"decision": "approve"}', compress="gzip",
                                 headers={**AUTH, "Content-Type": "application/json"}) as resp:
                assert resp.status == 404 and await resp.json() == {"error": "no such approval"}
    finally:
        code = serve.stop()
        await fake.stop()
    assert code == 0, serve.output()
    assert "Traceback" not in serve.output()
