"""A local stand-in for Slack: the Web API methods the bot calls, answered as Slack does,
and a Socket Mode websocket. Records every call. Listens on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import WSMsgType, web

TEAM = "T0TEAM001"
BOT_USER = "U0BOT0001"
BOT_ID = "B0BOT0001"
APP_ID = "A0APP0001"
BOT_TOKEN = "xoxb-1-test-bot-token"
APP_TOKEN = "xapp-1-A0APP0001-test-app-token"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str
    result: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.fail_429: dict[str, int] = {}  # method → how many times to answer 429 first
        self.fail_503: dict[str, int] = {}  # method → how many times to answer 503 (an outage) first
        self.users: dict[str, str] = {}  # id → display name for users.info
        self.emails: dict[str, str] = {}  # id → profile email for users.info
        self.groups: dict[str, list[str]] = {}  # user group id → member ids, for usergroups.users.list
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.sockets: list[web.WebSocketResponse] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.socket_opened = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/link", self._socket)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- Web API -----------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                args.update(await request.json())
            else:
                args.update(dict(await request.post()))
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth else str(args.pop("token", ""))
        args.pop("token", None)
        call = Call(method, args, token)
        self.calls.append(call)
        if self.fail_429.get(method, 0) > 0:
            self.fail_429[method] -= 1
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": "1"})
        if self.fail_503.get(method, 0) > 0:
            self.fail_503[method] -= 1
            return web.Response(status=503, text="upstream unavailable")
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler: Callable[[dict[str, Any]], dict[str, Any]] | None = getattr(
            self, "m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        call.result = {"ok": True, **handler(args)}
        return web.json_response(call.result)

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": "https://acme.slack.com/", "team": "Acme", "user": "clearance",
                "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": False}

    def m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        ts = self._next_ts()
        message = {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "ts": ts,
                   "text": args.get("text", ""), "blocks": args.get("blocks", [])}
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        return {"channel": args["channel"], "ts": ts, "message": message}

    def m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"channel": args["channel"], "ts": args["ts"], "text": args.get("text", "")}

    def m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"message_ts": self._next_ts()}

    def m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        return {"view": {**view, "id": "V" + uuid.uuid4().hex[:10].upper(), "team_id": TEAM,
                         "app_id": APP_ID, "bot_id": BOT_ID}}

    def m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = str(args.get("users", ""))
        return {"channel": {"id": "D" + users.replace(",", "")[1:][:10].upper(), "is_im": True}}

    def m_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        ts = str(args.get("message_ts", "")).replace(".", "")
        return {"channel": args.get("channel"), "permalink": f"https://acme.slack.com/archives/{args.get('channel')}/p{ts}"}

    def m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        # Slack keeps one home view per user and app: its id is stable across publishes.
        return {"view": {**view, "id": "VH" + str(args.get("user_id", ""))[1:].upper(), "team_id": TEAM,
                         "app_id": APP_ID, "bot_id": BOT_ID}}

    def m_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"users": self.groups.get(str(args.get("usergroup", "")), [])}

    def m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        uid = str(args.get("user", ""))
        name = self.users.get(uid, uid.lower())
        profile = {"display_name": name, "real_name": name.title(),
                   **({"email": self.emails[uid]} if uid in self.emails else {})}
        return {"user": {"id": uid, "team_id": TEAM, "name": name, "real_name": name.title(), "profile": profile}}

    def m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"ws://127.0.0.1:{self.port}/link?ticket={uuid.uuid4()}&app_id={APP_ID}"}

    # -- Socket Mode -------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1,
                            "debug_info": {"host": "fake", "approximate_connection_time": 3600},
                            "connection_info": {"app_id": APP_ID}})
        self.socket_opened.set()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                data = json.loads(msg.data)
                if "envelope_id" in data:
                    self.acks[data["envelope_id"]] = data
        if ws in self.sockets:
            self.sockets.remove(ws)
        return ws

    async def send_envelope(self, kind: str, payload: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        """Push one envelope (events_api | interactive) and wait for the client's ack."""
        envelope_id = str(uuid.uuid4())
        await asyncio.wait_for(self.socket_opened.wait(), timeout)
        await self.sockets[-1].send_json({"envelope_id": envelope_id, "type": kind, "payload": payload,
                                          "accepts_response_payload": kind == "interactive",
                                          "retry_attempt": 0, "retry_reason": ""})
        deadline = time.monotonic() + timeout
        while envelope_id not in self.acks:
            if time.monotonic() > deadline:
                raise TimeoutError(f"envelope {envelope_id} was not acked")
            await asyncio.sleep(0.01)
        return self.acks[envelope_id]

    # -- queries -----------------------------------------------------------------------------

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def posts(self) -> list[Call]:
        return [c for c in self.of("chat.postMessage") if c.result]

    def texts(self) -> list[str]:
        """Plain messages posted (not cards), in order."""
        return [c.args.get("text", "") for c in self.posts() if not _has_buttons(c.args)]

    def updates_of(self, ts: str) -> list[Call]:
        return [c for c in self.of("chat.update") if c.args.get("ts") == ts]

    def cards(self) -> list[Call]:
        return [c for c in self.posts() if _has_buttons(c.args)]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("condition not met; calls: " + ", ".join(c.method for c in self.calls))
            await asyncio.sleep(0.02)


def _has_buttons(args: dict[str, Any]) -> bool:
    blocks = args.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return any(b.get("type") == "actions" for b in blocks)


def blocks_of(call: Call) -> list[dict[str, Any]]:
    blocks = call.args.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def approval_id_of(call: Call) -> str:
    for block in blocks_of(call):
        if block.get("type") == "actions":
            return block["elements"][0]["value"]
    raise AssertionError("not a card")


async def _serve_until_stdin_closes() -> None:
    """`python -m tests.slack.fake_slack`: print the port, serve until stdin closes (the
    benchmark runs Slack in its own process, as in production)."""
    fake = await FakeSlack().start()
    print(fake.port, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, __import__("sys").stdin.read)
    await fake.stop()


if __name__ == "__main__":
    asyncio.run(_serve_until_stdin_closes())
