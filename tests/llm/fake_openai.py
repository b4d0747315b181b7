"""A local OpenAI-compatible chat-completions server on 127.0.0.1, scripted per test.

It speaks the wire format the real `openai` client parses: a `chat.completion` object for
plain requests, and for `"stream": true` server-sent events of `chat.completion.chunk`
objects (tool calls arrive as deltas: id and name first, then argument fragments) ending
with `data: [DONE]`. Every request is recorded (path, JSON body, headers) so tests can
assert what the model was sent. Replies are consumed in order; when the script runs out
the server answers with a plain text reply so a run always ends.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_ids = itertools.count(1)


@dataclass
class Reply:
    """One scripted answer: text, tool calls, or an HTTP error."""

    content: str | None = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""
    delay: float = 0.0  # seconds before answering: longer than the client timeout → a timeout


def text(content: str) -> Reply:
    return Reply(content=content)


def calls(*pairs: tuple[str, dict[str, Any]]) -> Reply:
    return Reply(tool_calls=list(pairs))


def slow(seconds: float, then: Reply) -> Reply:
    then.delay = seconds
    return then


def error(status: int, message: str = "server error", **headers: str) -> Reply:
    return Reply(status=status, error=message, headers=headers)


@dataclass
class Recorded:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])


class FakeOpenAI:
    def __init__(self, *script: Reply, port: int = 0) -> None:
        self.script: list[Reply] = list(script)
        self.requests: list[Recorded] = []
        self.port = port  # 0: a free one; pass the old port to come back at the same address
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, *replies: Reply) -> None:
        self.script.extend(replies)

    async def __aenter__(self) -> FakeOpenAI:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server  # aiohttp exposes the bound port only here
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Recorded(request.path, body, dict(request.headers)))
        if not request.path.endswith("/chat/completions"):
            return web.json_response({"error": {"message": "not found", "type": "invalid_request_error"}},
                                     status=404)
        problem = check_messages(list(body.get("messages") or []))
        if problem:  # what api.openai.com answers to a malformed history, before any scripted reply
            return web.json_response({"error": {"message": problem, "type": "invalid_request_error",
                                                "param": "messages", "code": None}}, status=400)
        reply = self.script.pop(0) if self.script else text("Done.")
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status != 200:
            payload = {"error": {"message": reply.error, "type": "server_error", "param": None,
                                 "code": None}}
            return web.json_response(payload, status=reply.status, headers=reply.headers)
        model = str(body.get("model", ""))
        if body.get("stream"):
            return await self._stream(request, reply, model, body)
        return web.json_response(_completion(reply, model))

    async def _stream(self, request: web.Request, reply: Reply, model: str,
                      body: dict[str, Any]) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        cid, created = f"chatcmpl-{next(_ids)}", int(time.time())

        async def send(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                     "system_fingerprint": "fp_fake",
                     "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
            await asyncio.sleep(0)  # let the client read chunk by chunk, like a real server

        await send({"role": "assistant", "content": "" if reply.content is not None else None,
                    "refusal": None})
        if reply.content:
            words = reply.content.split(" ")
            for i, word in enumerate(words):
                await send({"content": word + (" " if i < len(words) - 1 else "")})
        for index, (name, args) in enumerate(reply.tool_calls):
            await send({"tool_calls": [{"index": index, "id": _call_id(), "type": "function",
                                        "function": {"name": name, "arguments": ""}}]})
            raw = json.dumps(args)
            for start in range(0, len(raw), 7):  # arguments arrive in fragments
                await send({"tool_calls": [{"index": index, "function": {"arguments": raw[start:start + 7]}}]})
        await send({}, "tool_calls" if reply.tool_calls else "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                     "choices": [], "usage": _usage()}
            await resp.write(f"data: {json.dumps(usage)}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp


def check_messages(messages: list[dict[str, Any]]) -> str | None:
    """OpenAI's pairing rule: every assistant `tool_calls` id is answered by a `tool` message
    right after it, and a `tool` message answers a call of the assistant message before it."""
    open_ids: set[str] = set()
    for index, msg in enumerate(messages):
        role = msg.get("role")
        if role == "tool":
            if msg.get("tool_call_id") not in open_ids:
                return (f"Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                        f"message with 'tool_calls' (messages.[{index}]).")
            open_ids.discard(msg["tool_call_id"])
            continue
        if open_ids:
            return ("An assistant message with 'tool_calls' must be followed by tool messages responding "
                    "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
                    + ", ".join(sorted(open_ids)))
        if role == "assistant":
            open_ids = {c["id"] for c in msg.get("tool_calls") or []}
    if open_ids:
        return "The following tool_call_ids did not have response messages: " + ", ".join(sorted(open_ids))
    return None


def _call_id() -> str:
    return f"call_{next(_ids):06d}"


def _usage() -> dict[str, int]:
    return {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


def _completion(reply: Reply, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content, "refusal": None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": _call_id(), "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
            for name, args in reply.tool_calls
        ]
    return {
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": "tool_calls" if reply.tool_calls else "stop"}],
        "usage": _usage(),
    }
