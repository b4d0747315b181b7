"""10,000 pending approvals in 10,000 threads: what a long queue costs the server at rest, at
start-up, to list, to page and to sweep; and the query plan of every ledger statement.

    python bench/scale.py [--pending 10000] [--pg postgresql://…] [--sqlite-only] [--starts 5]

Per database: `clearance serve`'s RSS at rest and its start-up to /readyz (the median of
`--starts` fresh processes, each listed), on an empty database and then with the queue;
`clearance pending --json` (wall time, rows printed, and whether it imported LangGraph or
pydantic, from `python -X importtime`); one page of `GET /api/approvals?status=pending`; the
sweeper's pass when nothing is due. Then every statement the ledger issued while the queue was
built and worked on, EXPLAINed, each marked `index` or `SCAN` (a full table scan of a table
that grows).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]

import aiohttp  # noqa: E402

from adapters.base import Actor, Conversation, Decision, MessageRef  # noqa: E402
from bench.common import PG, ROOT, machine, rss_kb, scratch_database, serve_process, show  # noqa: E402
from bot.approvals.models import Approval, AuditEvent, CardCopy, DecisionEntry, RuleSnapshot, Status, new_approval_id  # noqa: E402
from bot.ledger.database import Database, PostgresDatabase, SqliteDatabase  # noqa: E402
from bot.ledger.ledger import Ledger  # noqa: E402
from bot.ledger.listing import print_pending  # noqa: E402
from graph import checkpoint  # noqa: E402

TOKEN = "bench-" + uuid.uuid4().hex
GROWING = ("clearance_approvals", "clearance_audit", "clearance_threads", "clearance_events")


class Recording:
    """A Database that remembers each distinct statement the ledger sends, with its first
    parameters, so the plans shown are those of the ledger's real SQL."""

    def __init__(self, db: Database, seen: dict[str, tuple[Any, ...]] | None = None) -> None:
        self.db = db
        self.dialect = getattr(db, "dialect", "")  # a transaction's statements have none
        self.seen: dict[str, tuple[Any, ...]] = {} if seen is None else seen

    def _note(self, sql: str, params: tuple[Any, ...]) -> None:
        if sql.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            self.seen.setdefault(sql, params)

    async def fetch(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        self._note(sql, params)
        return await self.db.fetch(sql, *params)

    async def fetch_values(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        self._note(sql, params)
        return await self.db.fetch_values(sql, *params)

    async def execute(self, sql: str, *params: Any) -> int:
        self._note(sql, params)
        return await self.db.execute(sql, *params)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        async with self.db.transaction() as tx:
            yield Recording(tx, self.seen)  # type: ignore[arg-type]

    async def ping(self) -> None:
        await self.db.ping()


@contextlib.asynccontextmanager
async def database(url: str) -> AsyncIterator[Database]:
    if url.startswith("postgres"):
        async with checkpoint.postgres_pool(url, max_size=16) as pool:
            yield PostgresDatabase(pool)
    else:
        db = await SqliteDatabase.open(checkpoint.sqlite_path(url))
        try:
            yield db
        finally:
            await db.close()


def _approval(i: int, now: float) -> Approval:
    actor = Actor("slack", f"T1:U{i:05d}", f"user{i}")
    conv = Conversation("slack", f"slack:T1:C1:{now:.0f}.{i:06d}", {"channel": "C1", "thread_ts": f"{i}.0"})
    return Approval(id=new_approval_id(), thread_id=conv.thread_id, interrupt_id=uuid.uuid4().hex,
                    tool_call_id=f"call_{i}", tool="deploy", args={"service": "api", "environment": "prod"},
                    requester=actor, rule=RuleSnapshot(text="anyone", approvers=("*",), expires_after=1800),
                    conversation=conv, created_at=now + i * 1e-3, expires_at=now + 1800)


async def fill(db: Database, n: int) -> None:
    """n pending approvals, each in its own thread, through the ledger's own insert; on
    SQLite inside one transaction (one commit, not n), on PostgreSQL 16 at a time."""
    ledger = Ledger(db)
    now = time.time()

    async def one(i: int) -> None:
        approval = _approval(i, now)
        await ledger.save_thread(approval.conversation, approval.requester)
        await ledger.record(approval)

    if db.dialect == "sqlite":
        await db.execute("BEGIN")
        for i in range(n):
            await one(i)
        await db.execute("COMMIT")
        return
    gate = asyncio.Semaphore(16)

    async def limited(i: int) -> None:
        async with gate:
            await one(i)

    await asyncio.gather(*(limited(i) for i in range(n)))


async def exercise(db: Recording) -> None:
    """Every ledger method once, on rows of their own, so each statement gets recorded."""
    ledger = Ledger(db)  # type: ignore[arg-type]
    now = time.time()
    a = await ledger.record(_approval(10**6, now))
    assert a is not None
    actor = Actor("slack", "T1:UAPR", "approver")
    await ledger.save_thread(a.conversation, a.requester)
    await ledger.thread(a.thread_id)
    await ledger.first_time("Ev" + uuid.uuid4().hex)
    await ledger.add_card(a.id, CardCopy(MessageRef("slack", {"ts": "1.0"})))
    await ledger.by_interrupt(a.thread_id, a.interrupt_id)
    await ledger.approvals(status=[Status.PENDING], limit=10)
    await ledger.approvals(thread_id=a.thread_id)
    await ledger.page(status=["pending"], limit=100)
    await ledger.page(status=["pending"], after=(now, a.id), limit=100)
    await ledger.page(limit=100)
    await ledger.page(thread_id=a.thread_id, limit=100)
    current = await ledger.get(a.id)
    assert current is not None
    decided = await ledger.decide(current, Status.APPROVED, (DecisionEntry(actor, Decision.APPROVE, now),))
    assert decided is not None
    await ledger.start_execution(a.id, 60)
    await ledger.renew_lease(a.id, 60)
    await ledger.finish(a.id, ok=False, result="x", unknown=True)
    await ledger.late_result(a.id, ok=True, result="y")
    await ledger.mark_detached(a.id)
    await ledger.mark_resumed(a.id)
    await ledger.resumed(a)
    await ledger.due(now)
    await ledger.audit(AuditEvent.RESUMED, a)
    await ledger.audit_trail(since=now - 60, limit=10)
    await print_pending(db, io.StringIO(), as_json=True)  # `clearance pending`'s own statements


async def explain(db: Database, sql: str, params: tuple[Any, ...]) -> str:
    if db.dialect == "postgres":
        rows = await db.fetch("EXPLAIN " + sql, *params)
        return "\n".join(str(next(iter(r.values()))) for r in rows)
    rows = await db.fetch("EXPLAIN QUERY PLAN " + sql, *params)
    return "\n".join(str(r["detail"]) for r in rows)


def uses_index(plan: str) -> bool:
    for line in plan.splitlines():
        for table in GROWING:
            if f"Seq Scan on {table}" in line:
                return False
            if line.strip().startswith(f"SCAN {table}") and "USING" not in line:
                return False
    return True


async def sweep_pass(url: str) -> float:
    """p50 seconds of the sweeper's pass over the queue with nothing due."""
    from bot.config import load_settings
    from bot.runtime import open_runtime

    async with open_runtime(load_settings(DATABASE_URL=url)) as rt:
        times = []
        for _ in range(20):
            t0 = time.perf_counter()
            assert await rt.service.sweep() == 0
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def pending_cli(url: str) -> tuple[float, int, bool, bool]:
    """`clearance pending --json`: wall seconds (best of 3), rows printed, LangGraph imported?
    pydantic imported?"""
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    best, rows = float("inf"), 0
    for _ in range(3):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "bot", "pending", "--json"], env=env, cwd=ROOT,
                             capture_output=True, text=True, check=True)
        best = min(best, time.perf_counter() - t0)
        rows = out.stdout.count("\n")
    trace = subprocess.run([sys.executable, "-X", "importtime", "-m", "bot", "pending", "--json"], env=env,
                           cwd=ROOT, capture_output=True, text=True, check=True).stderr
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in trace.splitlines()
                if line.startswith("import time:")}
    return best, rows, "langgraph" in imported, "pydantic" in imported


def _serve_env(url: str) -> dict[str, str]:
    return {"DATABASE_URL": url, "CLEARANCE_API_TOKEN": TOKEN, "CLEARANCE_SWEEP_INTERVAL": "0.5"}


async def startups(url: str, n: int) -> list[float]:
    """Seconds from spawn to the first 200 from /readyz, of n more fresh processes: one start
    on two shared cores is mostly noise."""
    times = []
    for _ in range(n):
        async with serve_process(_serve_env(url)) as (_, _, ready):
            times.append(ready)
    return times


async def server_figures(url: str) -> tuple[float, int, float]:
    """Start-up to /readyz (s), RSS at rest (kB) after two sweeps, one API page (p50 s)."""
    async with serve_process(_serve_env(url)) as (base, proc, ready):
        await asyncio.sleep(1.5)
        rss = rss_kb(proc.pid)
        times = []
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            for _ in range(20):
                t0 = time.perf_counter()
                async with http.get(base + "/api/approvals?status=pending&limit=100") as resp:
                    assert resp.status == 200, resp.status
                    await resp.read()
                times.append(time.perf_counter() - t0)
    return ready, rss, statistics.median(times)


async def bench(url: str, n: int, starts: int) -> dict[str, Any]:
    async with database(url) as raw:
        await Ledger(raw).setup()
    empty_ready, empty_rss, _ = await server_figures(url)
    empty_starts = [empty_ready] + await startups(url, starts - 1)
    async with database(url) as raw:
        t0 = time.perf_counter()
        await fill(raw, n)
        filled = time.perf_counter() - t0
        rec = Recording(raw)
        await exercise(rec)
        if raw.dialect == "postgres":
            await raw.execute("ANALYZE")
        plans = {sql: await explain(raw, sql, params) for sql, params in rec.seen.items()}
    ready, rss, page = await server_figures(url)
    ready_starts = [ready] + await startups(url, starts - 1)
    cli, rows, langgraph, pydantic = pending_cli(url)
    sweep = await sweep_pass(url)
    return {"filled_s": filled, "empty_ready": empty_starts, "empty_rss": empty_rss, "ready": ready_starts, "rss": rss,
            "page": page, "cli": cli, "cli_rows": rows, "cli_langgraph": langgraph,
            "cli_pydantic": pydantic, "sweep": sweep, "plans": plans}


def _starts(times: list[float]) -> str:
    """The median, then every start in the order measured (the first one after a change of
    the database is the coldest)."""
    return f"{statistics.median(times):.2f} (each: {', '.join(f'{t:.2f}' for t in times)})"


def report(name: str, n: int, r: dict[str, Any]) -> None:
    print(f"\n{name}: {n} pending approvals in {n} threads (inserted in {r['filled_s']:.1f} s)")
    show({
        "rss_empty_kb": r["empty_rss"], "rss_pending_kb": r["rss"],
        "rss_ratio": f"{r['rss'] / r['empty_rss']:.3f} (goal <= 1.10)",
        "startup_to_readyz_empty_s": _starts(r["empty_ready"]),
        "startup_to_readyz_s": f"{_starts(r['ready'])} (goal < 2)",
        "pending_cli_ms": f"{r['cli'] * 1000:.0f} (goal < 200)",
        "pending_cli_rows": r["cli_rows"],
        "pending_cli_imports_langgraph": r["cli_langgraph"],
        "pending_cli_imports_pydantic": r["cli_pydantic"],
        "api_page_ms": f"{r['page'] * 1000:.1f} (goal < 200)",
        "sweep_pass_ms": f"{r['sweep'] * 1000:.1f} (goal < 100)",
        "statements_explained": len(r["plans"]),
        "statements_on_an_index": sum(uses_index(p) for p in r["plans"].values()),
    })
    print(f"  EXPLAIN ({name}):")
    for sql, plan in r["plans"].items():
        mark = "index" if uses_index(plan) else "SCAN"
        print(f"  [{mark}] {' '.join(sql.split())[:150]}")
        for line in plan.splitlines():
            print(f"      {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--pg", default=PG)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--starts", type=int, default=5, help="starts of the server timed per database state")
    args = parser.parse_args()
    print(machine())
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="clearance-scale-"))
        report("SQLite", args.pending, asyncio.run(bench(f"sqlite:///{tmp}/scale.db", args.pending, args.starts)))
        if not args.sqlite_only:
            url = stack.enter_context(scratch_database(args.pg))
            report("PostgreSQL", args.pending, asyncio.run(bench(url, args.pending, args.starts)))
    print(f"  date: {time.strftime('%Y-%m-%d')}")


if __name__ == "__main__":
    main()
