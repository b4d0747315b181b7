"""Decisions per second through `clearance serve`, next to raw LangGraph resumes per second at
the same concurrency on the same PostgreSQL, with and without the saver's per-instance lock.

    python bench/throughput.py [--cards 200] [--in-flight 50] [--pg postgresql://…]

Each configuration gets a scratch database. N mentions arrive over signed HTTP and become N
pending cards (fake Slack in its own process); then N clicks, one per card, are posted with
`--in-flight` outstanding at a time, spread over the replicas. A decision counts when its
approval is done and its run resumed: the click, the claim, the card updates, the (no-op)
execution, the resume of the agent graph and its answer. decisions/s = N / (last resume -
first click). Raw: a one-node interrupt graph, N threads interrupted, then resumed with the
same number in flight on a pool of the server's size.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, TypedDict

sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]

import aiohttp  # noqa: E402

from bench.common import PG, machine, pct, scratch_database, serve_process, show  # noqa: E402
from bench.slack_click_ack import fake_slack_process  # noqa: E402
from bot.ledger.database import PostgresDatabase  # noqa: E402
from bot.ledger.ledger import Ledger  # noqa: E402
from graph import checkpoint  # noqa: E402
from tests.slack.fake_slack import BOT_TOKEN  # noqa: E402
from tests.slack.payloads import SECRET, block_actions, event_body, form, mention, new_ts, sign  # noqa: E402

TOOLS = """
tools:
  - name: act
    parameters: {type: object, properties: {target: {type: string}}, required: [target]}
    aliases: ["act on {target}"]
    approval: [{approvers: ["*"], allow_self_approval: false}]
    run: {python: "noop:act"}
"""


class S(TypedDict):
    value: str


def raw_graph(saver: Any) -> Any:
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import interrupt

    def gate(state: S) -> dict[str, str]:
        return {"value": str(interrupt({"type": "tool-call"}))}

    g = StateGraph(S)
    g.add_node("gate", gate)
    g.add_edge(START, "gate")
    g.add_edge("gate", END)
    return g.compile(checkpointer=saver)


async def raw_resumes(url: str, n: int, in_flight: int, *, stock_lock: bool) -> float:
    """Raw LangGraph resumes/s: N threads at their interrupt, resumed `in_flight` at a time."""
    from langgraph.types import Command

    async with checkpoint.postgres_pool(url) as pool, checkpoint.postgres_saver(pool, stock_lock=stock_lock) as saver:
        graph = raw_graph(saver)
        cfgs = [{"configurable": {"thread_id": uuid.uuid4().hex}} for _ in range(n)]
        gate = asyncio.Semaphore(in_flight)

        async def start(cfg: Any) -> None:
            async with gate:
                await graph.ainvoke({"value": ""}, cfg)

        async def resume(cfg: Any) -> None:
            async with gate:
                await graph.ainvoke(Command(resume="ok"), cfg)

        await asyncio.gather(*(start(c) for c in cfgs))
        t0 = time.perf_counter()
        await asyncio.gather(*(resume(c) for c in cfgs))
        return n / (time.perf_counter() - t0)


async def _wait_for(ledger: Ledger, ids: set[str] | None, n: int, *, pending: bool, timeout: float) -> list[Any]:
    deadline = time.perf_counter() + timeout
    while True:
        if pending:
            rows = await ledger.db.fetch("SELECT id FROM clearance_approvals WHERE status = 'pending' "
                                         "AND cards <> '[]'")
            if len(rows) >= n:
                return [await ledger.get(r["id"]) for r in rows]
        else:
            rows = await ledger.db.fetch("SELECT id, resumed_at FROM clearance_approvals "
                                         "WHERE status = 'done' AND resumed_at IS NOT NULL")
            if len(rows) >= n:
                return rows
        if time.perf_counter() > deadline:
            raise RuntimeError(f"timed out waiting: {len(rows)} of {n}")
        await asyncio.sleep(0.02)


async def clearance(url: str, tools: str, n: int, in_flight: int, replicas: int, *,
                    stock_lock: bool = False) -> dict[str, float]:
    """decisions/s and click → resumed latencies through `replicas` serve processes."""
    async with contextlib.AsyncExitStack() as stack:
        api_url = await stack.enter_async_context(fake_slack_process())
        env = {"DATABASE_URL": url, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SECRET,
               "SLACK_API_URL": api_url, "CLEARANCE_TOOLS": tools}
        servers = [(await stack.enter_async_context(serve_process(env, stock_lock=stock_lock)))[0]
                   for _ in range(replicas)]
        pool = await stack.enter_async_context(checkpoint.postgres_pool(url, max_size=4))
        ledger = Ledger(PostgresDatabase(pool))
        http = await stack.enter_async_context(aiohttp.ClientSession())
        gate = asyncio.Semaphore(in_flight)

        async def post(server: str, body: str, content_type: str) -> None:
            async with gate, http.post(server + "/slack/events", data=body.encode(),
                                       headers={"Content-Type": content_type, **sign(body)}) as resp:
                assert resp.status == 200, resp.status

        await asyncio.gather(*(post(servers[i % replicas],
                                    event_body(mention(f"U0REQ{i:04d}", f"act on t{i}", ts=new_ts())),
                                    "application/json") for i in range(n)))
        cards = await _wait_for(ledger, None, n, pending=True, timeout=60 + n)
        sent: dict[str, float] = {}

        async def click(i: int, approval: Any) -> None:
            body = form(block_actions(f"U0APR{i:04d}", "clearance_approve", approval.id,
                                      card_ts=approval.cards[0].ref.data["ts"],
                                      thread_ts=approval.conversation.data["thread_ts"]))
            sent[approval.id] = time.time()
            await post(servers[i % replicas], body, "application/x-www-form-urlencoded")

        t0 = time.time()
        await asyncio.gather(*(click(i, a) for i, a in enumerate(cards)))
        done = await _wait_for(ledger, None, n, pending=False, timeout=60 + n)
        last = max(r["resumed_at"] for r in done)
        lat = [r["resumed_at"] - sent[r["id"]] for r in done if r["id"] in sent]
        return {"decisions_per_s": n / (last - t0), "p50_ms": pct(lat, 0.5), "p99_ms": pct(lat, 0.99)}


async def run(n: int, in_flight: int, pg: str, only_one: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        tools = Path(tmp) / "tools.yml"
        tools.write_text(TOOLS)
        out: dict[str, Any] = {}
        for name, kwargs in (("one", {"replicas": 1}), ("stock_lock", {"replicas": 1, "stock_lock": True}),
                             ("two", {"replicas": 2})):
            if only_one and name != "one":
                continue
            with scratch_database(pg) as url:
                out[name] = await clearance(url, str(tools), n, in_flight, **kwargs)  # type: ignore[arg-type]
        for name, stock in (("raw", False), ("raw_stock_lock", True)):
            with scratch_database(pg) as url:
                out[name] = await raw_resumes(url, n, in_flight, stock_lock=stock)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=200)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--pg", default=PG)
    parser.add_argument("--profile-one", action="store_true",
                        help="one replica only, no comparisons (with CLEARANCE_BENCH_PROFILE=path)")
    args = parser.parse_args()
    print(machine())
    if args.profile_one:
        print(asyncio.run(run(args.cards, args.in_flight, args.pg, only_one=True))["one"])
        return
    print(f"throughput: {args.cards} pending cards, {args.in_flight} clicks in flight, PostgreSQL (loopback)")
    r = asyncio.run(run(args.cards, args.in_flight, args.pg))
    one, two, stock = r["one"], r["two"], r["stock_lock"]
    show({
        "raw_langgraph_resumes_per_s": round(r["raw"], 1),
        "raw_langgraph_stock_lock_resumes_per_s": round(r["raw_stock_lock"], 1),
        "raw_lock_lifted_vs_stock_lock": f"{r['raw'] / r['raw_stock_lock']:.2f}x",
        "clearance_decisions_per_s": round(one["decisions_per_s"], 1),
        "clearance_click_to_resumed_p50_ms": round(one["p50_ms"], 1),
        "clearance_click_to_resumed_p99_ms": round(one["p99_ms"], 1),
        "clearance_stock_lock_decisions_per_s": round(stock["decisions_per_s"], 1),
        "clearance_two_replicas_decisions_per_s": round(two["decisions_per_s"], 1),
        "ratio_clearance_vs_raw": f"{one['decisions_per_s'] / r['raw']:.2f} (goal >= 0.90)",
        "ratio_clearance_vs_raw_stock_lock": f"{one['decisions_per_s'] / r['raw_stock_lock']:.2f}x (goal >= 1.5x)",
        "ratio_clearance_lock_lifted_vs_stock_lock":
            f"{one['decisions_per_s'] / stock['decisions_per_s']:.2f}x",
        "ratio_two_replicas_vs_one": f"{two['decisions_per_s'] / one['decisions_per_s']:.2f}x (goal >= 1.6x)",
        "date": time.strftime("%Y-%m-%d"),
    })


if __name__ == "__main__":
    main()
