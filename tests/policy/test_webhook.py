"""The webhook executor against a local receiver that verifies what a real one should: the
HMAC signature over "{timestamp}.{raw body}", a fresh timestamp, and the idempotency key."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import socket
import time
from pathlib import Path
from typing import Any, AsyncIterator

from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.base import Decision, DecisionClick
from graph.executors import execute
from graph.tools import ToolSpec, load_registry
from tests.policy.tools import DANA, cfg, one_card, policy_tools, tool_messages

SECRET = "hook-secret"


class Receiver:
    """Answers 503 to the first `fail_first` valid requests, 401 to a bad signature."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.seen: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        stamp = request.headers.get("X-Clearance-Timestamp", "")
        given = request.headers.get("X-Clearance-Signature", "")
        expected = "sha256=" + hmac.new(SECRET.encode(), f"{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
        fresh = stamp.isdigit() and abs(time.time() - int(stamp)) < 300
        body = json.loads(raw)
        self.seen.append({"key": request.headers.get("Idempotency-Key"), "body": body,
                          "valid": fresh and hmac.compare_digest(given, expected)})
        if not self.seen[-1]["valid"]:
            return web.json_response({"error": "bad signature"}, status=401)
        if self.seen[-1]["key"] != body["approval_id"]:
            return web.json_response({"error": "idempotency key mismatch"}, status=400)
        if len(self.seen) <= self.fail_first:
            return web.Response(status=503, text="busy")
        return web.Response(text=f"notified about {body['args']['service']}")


@contextlib.asynccontextmanager
async def receiving(fail_first: int = 0) -> AsyncIterator[tuple[Receiver, str]]:
    receiver = Receiver(fail_first)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    async with TestServer(app, host="127.0.0.1") as server:
        yield receiver, str(server.make_url("/hook"))


def notify_tool(tmp_path: Path, url: str) -> ToolSpec:
    path = tmp_path / "hook-tools.yml"
    path.write_text(policy_tools(tmp_path / "runs.txt", webhook_url=url))
    spec = load_registry(path).get("notify")
    assert spec is not None
    return spec


async def test_signed_and_retried_on_5xx_with_the_same_key(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    async with receiving(fail_first=1) as (receiver, url):
        result = await execute(notify_tool(tmp_path, url), {"service": "api"}, idempotency_key="apv_k1",
                               approved_by=["console:dana"])
    assert result.ok and result.content == "notified about api" and result.exit_code == 200
    assert [s["valid"] for s in receiver.seen] == [True, True]
    assert [s["key"] for s in receiver.seen] == ["apv_k1", "apv_k1"]
    assert receiver.seen[0]["body"] == {"tool": "notify", "args": {"service": "api"},
                                        "approval_id": "apv_k1", "approved_by": ["console:dana"]}


async def test_a_4xx_is_not_retried(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", "not-the-receivers-secret")
    async with receiving() as (receiver, url):
        result = await execute(notify_tool(tmp_path, url), {"service": "api"}, idempotency_key="apv_k2",
                               approved_by=[])
    assert not result.ok and result.exit_code == 401 and "bad signature" in result.content
    assert len(receiver.seen) == 1 and not receiver.seen[0]["valid"]


async def test_connection_errors_are_retried_then_reported(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = notify_tool(tmp_path, f"http://127.0.0.1:{port}/hook")
    result = await execute(spec, {"service": "api"}, idempotency_key="apv_k3", approved_by=[])
    assert not result.ok and "after 3 attempts" in result.content


async def test_approved_webhook_call_end_to_end(database_url, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    async with receiving(fail_first=1) as (receiver, url):
        async with one_card(database_url, tmp_path, text="notify web", webhook_url=url) as (rt, approval, _):
            await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA))
            await rt.service.drain()
            [msg] = tool_messages(await rt.graph.aget_state(cfg(approval.thread_id)))
            assert msg.status == "success" and msg.content == "notified about web"
            assert {s["key"] for s in receiver.seen} == {approval.id}
            assert receiver.seen[-1]["body"]["approved_by"] == ["console:dana"]
            done = [r for r in await rt.ledger.audit_trail() if r["event"] == "done"]
            assert done[-1]["detail"]["exit_code"] == 200
