"""One approval round — message → card → decision → result — through Clearance, next to raw
LangGraph interrupt/resume on the same database, measured in one run.

    python bench/approval_round.py [--rounds 200] [--pg postgresql://postgres@127.0.0.1:5432/postgres]

Prints p50/p99 per database and the ratio of Clearance's round to raw LangGraph's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, TypedDict

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("CLEARANCE_LOG_LEVEL", "WARNING")

from langgraph.graph import END, START, StateGraph  # noqa: E402
from langgraph.types import Command, interrupt  # noqa: E402

from adapters.base import Actor, Conversation, Decision, DecisionClick, InboundMessage, MessageRef  # noqa: E402
from bench.common import machine  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.runtime import open_runtime  # noqa: E402
from graph.tools import load_registry  # noqa: E402

TOOLS = """
tools:
  - name: act
    parameters: {type: object, properties: {target: {type: string}}, required: [target]}
    aliases: ["act on {target}"]
    approval: [{approvers: ["*"], allow_self_approval: true}]
    run: {python: "noop:act"}
"""


class Silent:
    platform = "console"

    async def post_card(self, conversation, card):  # type: ignore[no-untyped-def]
        return MessageRef("console", {})

    async def update_card(self, conversation, ref, card):  # type: ignore[no-untyped-def]
        pass

    async def post_text(self, conversation, text):  # type: ignore[no-untyped-def]
        return MessageRef("console", {})

    async def update_text(self, conversation, ref, text):  # type: ignore[no-untyped-def]
        pass

    async def notify(self, conversation, actor, text):  # type: ignore[no-untyped-def]
        pass


WARMUP = 10


class S(TypedDict):
    value: str


def raw_graph(saver: Any) -> Any:
    def gate(state: S) -> dict[str, str]:
        answer = interrupt({"type": "tool-call"})
        return {"value": str(answer)}

    g = StateGraph(S)
    g.add_node("gate", gate)
    g.add_edge(START, "gate")
    g.add_edge("gate", END)
    return g.compile(checkpointer=saver)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


async def raw_round(graph: Any) -> tuple[float, float]:
    cfg = {"configurable": {"thread_id": uuid.uuid4().hex}}
    t0 = time.perf_counter()
    await graph.ainvoke({"value": ""}, cfg)
    t1 = time.perf_counter()
    await graph.ainvoke(Command(resume="ok"), cfg)
    t2 = time.perf_counter()
    return t2 - t0, t2 - t1


async def agent_round(graph: Any, i: int) -> tuple[float, float]:
    """Our agent graph driven directly (no ledger, locks, cards): what the bot adds is the
    difference between this and the full round. Also its resume alone, the graph's share
    of decision→result."""
    from langchain_core.messages import HumanMessage

    cfg = {"configurable": {"thread_id": uuid.uuid4().hex}}
    t0 = time.perf_counter()
    await graph.ainvoke({"messages": [HumanMessage(f"act on t{i}")]}, cfg)
    state = await graph.aget_state(cfg)
    intr = state.tasks[0].interrupts[0]
    value = {"type": "tool-call", "decision": "approve", "by": [], "content": "acted"}
    t1 = time.perf_counter()
    await graph.ainvoke(Command(resume={intr.id: value}), cfg)
    t2 = time.perf_counter()
    return t2 - t0, t2 - t1


async def clearance_round(rt: Any, i: int) -> tuple[float, float]:
    actor = Actor("console", "bench", "bench")
    thread = f"console:{uuid.uuid4().hex}"
    msg = InboundMessage(Conversation("console", thread), f"act on t{i}", actor)
    t0 = time.perf_counter()
    await rt.service.on_message(msg)
    (approval,) = await rt.ledger.approvals(status=["pending"], thread_id=thread)
    t1 = time.perf_counter()
    await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, actor))
    await rt.service.drain()
    t2 = time.perf_counter()
    return t2 - t0, t2 - t1


Samples = tuple[list[float], list[float]]


async def bench_database(url: str, rounds: int, tools_path: str) -> tuple[Samples, Samples, Samples]:
    """The three kinds of round interleaved, one of each per turn, on the same saver: a
    burst of outside load then weighs on all three alike, and the ratios stay comparable."""
    settings = load_settings(DATABASE_URL=url, CLEARANCE_TOOLS=tools_path)
    async with open_runtime(settings, registry=load_registry(tools_path)) as rt:
        rt.service.add_adapter(Silent())
        raw = raw_graph(rt.graph.checkpointer)
        out: tuple[Samples, Samples, Samples] = (([], []), ([], []), ([], []))
        for i in range(rounds + WARMUP):
            measured = (await clearance_round(rt, i), await raw_round(raw), await agent_round(rt.graph, i))
            if i < WARMUP:
                continue
            for (full, part), (a, b) in zip(out, measured, strict=True):
                full.append(a)
                part.append(b)
    return out


def report(name: str, clearance: Samples, raw: Samples, graph: Samples) -> None:
    full, decide = clearance
    raw_full, raw_resume = raw
    agent, agent_resume = graph
    print(f"\n{name}")
    print(f"  raw LangGraph  interrupt+resume  p50 {pct(raw_full, 50):7.2f} ms  p99 {pct(raw_full, 99):7.2f} ms"
          f"   (resume alone p50 {pct(raw_resume, 50):.2f} ms)")
    print(f"  agent graph alone (2 model turns, Send, interrupt, resume)"
          f" p50 {pct(agent, 50):7.2f} ms  p99 {pct(agent, 99):7.2f} ms")
    print(f"  Clearance      message→result    p50 {pct(full, 50):7.2f} ms  p99 {pct(full, 99):7.2f} ms")
    print(f"  Clearance      decision→result   p50 {pct(decide, 50):7.2f} ms  p99 {pct(decide, 99):7.2f} ms")
    print(f"  agent graph resume alone          p50 {pct(agent_resume, 50):7.2f} ms")
    ratio = statistics.median(decide) / statistics.median(agent_resume)
    print(f"  ratio (decision→result / agent graph resume, p50): {ratio:.2f}x (goal <= 1.3x)")
    overhead_ms = 1000 * (statistics.median(full) - statistics.median(agent))
    print(f"  ratio (Clearance round / raw round, p50): {statistics.median(full) / statistics.median(raw_full):.1f}x;"
          f" bot overhead over its own graph (p50): {overhead_ms:.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--pg", default=os.environ.get("CLEARANCE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tools = Path(tmp) / "tools.yml"
        tools.write_text(TOOLS)
        print(machine())
        print(f"{args.rounds} rounds each (after {WARMUP} unmeasured), the three kinds interleaved;"
              " alias planner as the model; no-op python executor")
        sqlite = await bench_database(f"sqlite:///{tmp}/bench.db", args.rounds, str(tools))
        report("SQLite", *sqlite)
        try:
            pg = await bench_database(args.pg, args.rounds, str(tools))
        except Exception as exc:
            print(f"\nPostgreSQL at {args.pg}: not measured ({type(exc).__name__}: {exc})")
        else:
            report("PostgreSQL (loopback)", *pg)


if __name__ == "__main__":
    asyncio.run(main())
