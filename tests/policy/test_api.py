"""The approvals API over real HTTP on 127.0.0.1: auth, listing, decisions with the same rules
and claim as a click, and results from external workers."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator

import aiohttp
from aiohttp.test_utils import TestServer

from adapters.base import CardStatus, Decision, DecisionClick
from bot.approvals.models import Status
from bot.http.server import build_app
from tests.conftest import console_message, runtime_for
from tests.policy.tools import DANA, ERIN, cfg, policy_tools, runs_of, tool_messages

TOKEN = "s3cret-api-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@contextlib.asynccontextmanager
async def served(database_url: str, tmp_path, **settings: Any) -> AsyncIterator[tuple[Any, Any]]:  # type: ignore[no-untyped-def]
    settings.setdefault("CLEARANCE_API_TOKEN", TOKEN)
    async with runtime_for(database_url, policy_tools(tmp_path / "runs.txt"), tmp_path, **settings) as rt:
        async with TestServer(build_app(rt, sweep=False), host="127.0.0.1") as server, \
                aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http:
            yield rt, http


async def call(http: aiohttp.ClientSession, method: str, path: str, *, headers: dict | None = AUTH,
               **kwargs: Any) -> tuple[int, Any]:
    async with http.request(method, path, headers=headers, **kwargs) as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body


async def test_token_is_required_and_compared(tmp_path) -> None:
    async with served(f"sqlite:///{tmp_path}/c.db", tmp_path) as (rt, http):
        await rt.service.on_message(console_message("deploy api to prod"))
        [approval] = await rt.ledger.approvals(status=["pending"])
        for headers in (None, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                        {"Authorization": f"Basic {TOKEN}"}):
            assert (await call(http, "GET", "/api/approvals", headers=headers))[0] == 401
            status, _ = await call(http, "POST", f"/api/approvals/{approval.id}/decision", headers=headers,
                                   json={"decision": "approve", "by": "ci"})
            assert status == 401
        assert (await rt.ledger.get(approval.id)).decisions == ()  # type: ignore[union-attr]


async def test_api_is_off_without_a_token(tmp_path) -> None:
    async with served(f"sqlite:///{tmp_path}/c.db", tmp_path, CLEARANCE_API_TOKEN="") as (rt, http):
        assert (await call(http, "GET", "/api/approvals"))[0] == 404
        status, text = await call(http, "GET", "/metrics", headers=None)
        assert status == 200 and "clearance_approvals_requested" in text


async def test_list_get_and_decide_like_a_click(database_url, tmp_path) -> None:
    runs = tmp_path / "runs.txt"
    tools_approvers = '["api:ci", "console:dana"]'
    async with runtime_for(database_url, policy_tools(runs, approvers=tools_approvers), tmp_path,
                           CLEARANCE_API_TOKEN=TOKEN) as rt:
        async with TestServer(build_app(rt, sweep=False), host="127.0.0.1") as server, \
                aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http:
            await rt.service.on_message(console_message("deploy api to prod"))
            [approval] = await rt.ledger.approvals(status=["pending"])
            base = f"/api/approvals/{approval.id}"

            status, body = await call(http, "GET", "/api/approvals?status=pending")
            assert status == 200 and [a["id"] for a in body["approvals"]] == [approval.id]
            assert set(body["approvals"][0]) == {"id", "thread_id", "tool", "args", "status", "requested_by",
                                                 "rule", "decisions", "created_at", "expires_at", "result",
                                                 "revision"}
            assert (await call(http, "GET", "/api/approvals?status=done"))[1] == {"approvals": [], "next_cursor": None}
            for query in ("status=bogus", "limit=abc", "limit=0", "limit=100000"):
                assert (await call(http, "GET", f"/api/approvals?{query}"))[0] == 400, query
            status, one = await call(http, "GET", base)
            assert status == 200 and one["args"] == {"service": "api", "environment": "prod"}
            assert (await call(http, "GET", "/api/approvals/apv_" + "x" * 22))[0] == 404
            assert (await call(http, "GET", "/api/approvals/nope"))[0] == 404

            # Bad bodies are the client's fault: 400, never 500.
            for bad in ({"data": b"not json"}, {"data": b"\xff\xfe{"}, {"json": ["approve"]},
                        {"json": {"decision": "maybe", "by": "ci"}},
                        {"json": {"decision": "approve"}}, {"json": {"decision": "approve", "by": "a b"}},
                        {"json": {"decision": "approve", "by": "ci", "reason": 5}}):
                assert (await call(http, "POST", f"{base}/decision", **bad))[0] == 400, bad

            # api:bob is not among the approvers: 403, nothing recorded.
            status, body = await call(http, "POST", f"{base}/decision", json={"decision": "approve", "by": "bob"})
            assert status == 403 and "not an approver" in body["error"]
            assert (await call(http, "POST", "/api/approvals/apv_" + "y" * 22 + "/decision",
                               json={"decision": "approve", "by": "ci"}))[0] == 404

            # api:ci and a click by dana race for the two approvals of the quorum.
            api_call = call(http, "POST", f"{base}/decision", json={"decision": "approve", "by": "ci"})
            click = rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA))
            (status, body), clicked = await asyncio.gather(api_call, click)
            assert status == 200 and body["id"] == approval.id
            assert {d["by"]["id"] for d in body["decisions"]} <= {"ci", "dana"}
            await rt.service.drain()
            assert len(runs_of(runs)) == 1

            status, body = await call(http, "POST", f"{base}/decision",
                                      json={"decision": "reject", "by": "ci", "reason": "too late"})
            assert status == 409 and "Already approved" in body["error"]
            assert body["approval"]["status"] == "done"
            status, one = await call(http, "GET", base)
            assert one["result"].startswith("deployed api to prod")
            trail = [r for r in await rt.ledger.audit_trail() if r["approval_id"] == approval.id]
            api_row = next(r for r in trail if r["actor"] == "api:ci")
            assert api_row["event"] == "approve" and api_row["detail"]["platform"] == "api"


async def test_external_worker_posts_the_result(database_url, tmp_path) -> None:
    async with served(database_url, tmp_path) as (rt, http):
        await rt.service.on_message(console_message("migrate api"))
        [approval] = await rt.ledger.approvals(status=["pending"])
        base = f"/api/approvals/{approval.id}"
        result = {"content": "migrated 3 tables", "status": "ok", "by": "ci-runner"}

        status, body = await call(http, "POST", f"{base}/result", json=result)
        assert status == 409 and "not approved" in body["error"]  # still pending
        assert (await call(http, "POST", "/api/approvals/apv_" + "z" * 22 + "/result", json=result))[0] == 404
        assert (await call(http, "POST", f"{base}/result", json={"content": 5}))[0] == 400
        assert (await call(http, "POST", f"{base}/result", json={"content": "x", "status": "meh"}))[0] == 400

        status, body = await call(http, "POST", f"{base}/decision", json={"decision": "approve", "by": "ci"})
        assert status == 200 and body["status"] == "approved"
        await rt.service.drain()
        waiting = rt.recorder.updates[-1]
        assert waiting.status is CardStatus.WAITING_WORKER
        assert (await rt.ledger.get(approval.id)).status is Status.APPROVED  # type: ignore[union-attr]
        assert (await rt.service.sweep()) == 0  # the sweeper leaves a waiting external call alone

        status, body = await call(http, "POST", f"{base}/result", json=result)
        assert status == 200 and body["status"] == "done" and body["result"] == "migrated 3 tables"
        await rt.service.drain()
        assert rt.recorder.updates[-1].status is CardStatus.DONE
        [msg] = tool_messages(await rt.graph.aget_state(cfg(approval.thread_id)))
        assert msg.status == "success" and msg.content == "migrated 3 tables"

        status, body = await call(http, "POST", f"{base}/result", json={"content": "again", "status": "error"})
        assert status == 409 and "already done" in body["error"]
        assert (await rt.ledger.get(approval.id)).result == "migrated 3 tables"  # type: ignore[union-attr]
        done_row = [r for r in await rt.ledger.audit_trail() if r["event"] == "done"][-1]
        assert done_row["actor"] == "api:ci-runner"


async def test_two_results_at_once_one_wins(database_url, tmp_path) -> None:
    async with served(database_url, tmp_path) as (rt, http):
        await rt.service.on_message(console_message("migrate worker"))
        [approval] = await rt.ledger.approvals(status=["pending"])
        await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA))
        await rt.service.drain()
        path = f"/api/approvals/{approval.id}/result"
        answers = await asyncio.gather(*(call(http, "POST", path, json={"content": f"r{i}"}) for i in range(4)))
        assert sorted(status for status, _ in answers) == [200, 409, 409, 409]
        await rt.service.drain()
        assert len(tool_messages(await rt.graph.aget_state(cfg(approval.thread_id)))) == 1


async def test_result_for_a_tool_clearance_runs_itself_is_refused(tmp_path) -> None:
    async with served(f"sqlite:///{tmp_path}/c.db", tmp_path) as (rt, http):
        await rt.service.on_message(console_message("deploy api to prod"))
        [approval] = await rt.ledger.approvals(status=["pending"])
        status, body = await call(http, "POST", f"/api/approvals/{approval.id}/result", json={"content": "x"})
        assert status == 409 and "not an external tool" in body["error"]


async def test_metrics_count_requests_decisions_and_executions(tmp_path) -> None:
    async with served(f"sqlite:///{tmp_path}/c.db", tmp_path) as (rt, http):
        await rt.service.on_message(console_message("deploy api to prod"))
        await rt.service.on_message(console_message("deploy web to prod", session="u"))
        first, second = await rt.ledger.approvals(status=["pending"])
        for actor in (DANA, ERIN):
            await rt.service.on_decision(DecisionClick(first.id, Decision.APPROVE, actor))
        await rt.service.on_decision(DecisionClick(second.id, Decision.REJECT, DANA))
        await rt.service.drain()
        status, text = await call(http, "GET", "/metrics", headers=None)
        assert status == 200
        assert 'clearance_approvals_requested_total{tool="deploy"} 2.0' in text
        assert 'clearance_approvals_decided_total{outcome="approved",tool="deploy"} 1.0' in text
        assert 'clearance_approvals_decided_total{outcome="rejected",tool="deploy"} 1.0' in text
        assert 'clearance_executions_total{status="done",tool="deploy"} 1.0' in text
        assert 'clearance_decision_latency_seconds_count{tool="deploy"} 2.0' in text
        assert "clearance_approvals_pending 0.0" in text
