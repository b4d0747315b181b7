"""Listing approvals a page at a time: over the API (`next_cursor`) and in `clearance pending`,
on SQLite and PostgreSQL, with nothing skipped, repeated or silently cut."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from adapters.base import Conversation
from bot.approvals.models import Approval, DecisionEntry, DecisionKind, RuleSnapshot, Status, new_approval_id
from bot.http.server import build_app
from tests.conftest import runtime_for
from tests.policy.test_api import AUTH, TOKEN, call
from tests.policy.tools import ALICE, DANA

ROOT = Path(__file__).resolve().parent.parent.parent
PENDING = 1203


async def fill(ledger: Any, count: int) -> None:
    """`count` pending approvals, seven to a timestamp so ties straddle the page boundaries
    (a keyset on created_at alone would skip or repeat rows there), and five decided ones."""
    async def one(i: int) -> None:
        thread = f"console:t{i % 3}"
        stored = await ledger.record(Approval(
            id=new_approval_id(), thread_id=thread, interrupt_id=f"int-{i}", tool_call_id=f"call_{i}",
            tool="deploy", args={"service": "api", "n": i}, requester=ALICE, rule=RuleSnapshot(),
            conversation=Conversation("console", thread, {"session": f"t{i % 3}"}),
            created_at=1_700_000_000 + i // 7))
        if i >= count:
            await ledger.decide(stored, Status.REJECTED, (DecisionEntry(DANA, DecisionKind.REJECT, stored.created_at),))

    total = count + 5
    for start in range(0, total, 25):  # a few at a time: Postgres's pool serves them in parallel
        await asyncio.gather(*(one(i) for i in range(start, min(start + 25, total))))


async def test_pages_of_500_500_203_then_none(database_url, tmp_path) -> None:
    async with runtime_for(database_url, None, tmp_path, CLEARANCE_API_TOKEN=TOKEN) as rt:
        await fill(rt.ledger, PENDING)
        async with TestServer(build_app(rt, sweep=False), host="127.0.0.1") as server, \
                aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http:
            seen: list[dict[str, Any]] = []
            sizes, cursor = [], None
            for _ in range(10):  # bounded: three pages expected
                query = "/api/approvals?status=pending&limit=500" + (f"&cursor={cursor}" if cursor else "")
                status, body = await call(http, "GET", query)
                assert status == 200, body
                sizes.append(len(body["approvals"]))
                seen += body["approvals"]
                cursor = body["next_cursor"]
                if cursor is None:
                    break
            assert sizes == [500, 500, 203]
            ids = [a["id"] for a in seen]
            assert len(set(ids)) == PENDING and all(a["status"] == "pending" for a in seen)
            numbers = [a["args"]["n"] for a in seen]
            # Oldest first: the insertion number only grows across timestamps (ties: any order).
            assert [n // 7 for n in numbers] == sorted(n // 7 for n in numbers)
            assert set(numbers) == set(range(PENDING))

            status, body = await call(http, "GET", "/api/approvals?status=pending")
            assert status == 200 and len(body["approvals"]) == 100 and body["next_cursor"]
            status, body = await call(http, "GET", "/api/approvals")  # every status
            assert status == 200 and len(body["approvals"]) == 100


async def test_bad_paging_requests_are_refused_not_cut(tmp_path) -> None:
    async with runtime_for(f"sqlite:///{tmp_path}/c.db", None, tmp_path, CLEARANCE_API_TOKEN=TOKEN) as rt:
        await fill(rt.ledger, 3)
        async with TestServer(build_app(rt, sweep=False), host="127.0.0.1") as server, \
                aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http:
            for query, field in (("limit=501", "limit"), ("limit=0", "limit"), ("limit=x", "limit"),
                                 ("cursor=garbage!", "cursor"), ("cursor=WzFd", "cursor"),
                                 ("requester=console:dana", "requester"), ("approver=nobody", "approver"),
                                 ("status=pending,nope", "status")):
                status, body = await call(http, "GET", f"/api/approvals?{query}")
                assert status == 400 and body["error"].startswith(field), (query, body)
            status, first = await call(http, "GET", "/api/approvals?status=pending&limit=2")
            assert len(first["approvals"]) == 2 and first["next_cursor"]
            query = f"status=pending&limit=2&cursor={first['next_cursor']}"
            status, last = await call(http, "GET", f"/api/approvals?{query}")
            assert len(last["approvals"]) == 1 and last["next_cursor"] is None
            assert {a["args"]["n"] for a in first["approvals"] + last["approvals"]} == {0, 1, 2}
            assert (await call(http, "GET", "/api/approvals", headers={**AUTH, "Authorization": "Bearer x"}))[0] == 401


async def test_clearance_pending_lists_every_pending_approval(database_url, tmp_path) -> None:
    async with runtime_for(database_url, None, tmp_path) as rt:
        await fill(rt.ledger, PENDING)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TEAMS_", "OPENAI_", "AZURE_"))}
    env.update(DATABASE_URL=database_url, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-m", "bot", "pending", "--json"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == PENDING and len(set(lines)) == PENDING
