"""A user's own graph behind Clearance: decision → resume through the bot, next to the same
graph resumed directly, in one run, on SQLite and PostgreSQL.

    python bench/own_graph.py [--rounds 200] [--pg postgresql://postgres@127.0.0.1:5432/postgres]

The graph is a real `create_agent` with LangChain's `HumanInTheLoopMiddleware` (per call) on
one tool; its model is an in-process scripted chat model, so what is measured is Clearance and
LangGraph, not a network. Prints p50/p99 of each and the ratio of the two.
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("CLEARANCE_LOG_LEVEL", "WARNING")

from langchain.agents import create_agent  # noqa: E402
from langchain.agents.middleware import HumanInTheLoopMiddleware  # noqa: E402
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from langgraph.types import Command  # noqa: E402

from adapters.base import Actor, Conversation, Decision, DecisionClick, InboundMessage  # noqa: E402
from bench.approval_round import WARMUP, Silent, pct  # noqa: E402
from bench.common import machine  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.runtime import open_runtime  # noqa: E402


class Scripted(FakeMessagesListChatModel):
    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self


@tool
def act(target: str) -> str:
    """Act on a target."""
    return f"acted on {target}"


def build(checkpointer: Any) -> Any:
    """The user's graph: one gated tool call, then an answer, every round."""
    model = Scripted(responses=[
        AIMessage(content="", tool_calls=[{"id": "call_1", "name": "act", "args": {"target": "x"}}]),
        AIMessage(content="done"),
    ])
    return create_agent(model, tools=[act], checkpointer=checkpointer,
                        middleware=[HumanInTheLoopMiddleware(interrupt_on={"act": True}, interrupt_mode="per_call")])


async def direct_round(graph: Any) -> float:
    cfg = {"configurable": {"thread_id": uuid.uuid4().hex}}
    await graph.ainvoke({"messages": [HumanMessage("act on x")]}, cfg)
    state = await graph.aget_state(cfg)
    intr = state.interrupts[0]
    started = time.perf_counter()
    await graph.ainvoke(Command(resume={intr.id: {"type": "approve"}}), cfg)
    return time.perf_counter() - started


async def clearance_round(rt: Any) -> float:
    asker, decider = Actor("console", "asker", "asker"), Actor("console", "bench", "bench")
    thread = f"console:{uuid.uuid4().hex}"
    await rt.service.on_message(InboundMessage(Conversation("console", thread), "act on x", asker))
    (approval,) = await rt.ledger.approvals(status=["pending"], thread_id=thread)
    started = time.perf_counter()
    await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, decider))
    await rt.service.drain()
    return time.perf_counter() - started


async def bench_database(url: str, rounds: int) -> tuple[list[float], list[float]]:
    """Both kinds interleaved on the same checkpointer, so outside load weighs on both alike."""
    settings = load_settings(DATABASE_URL=url, CLEARANCE_GRAPH="bench.own_graph:build")
    async with open_runtime(settings) as rt:
        rt.service.add_adapter(Silent())
        direct_graph = build(rt.graph.checkpointer)
        through, direct = [], []
        for i in range(rounds + WARMUP):
            a, b = await clearance_round(rt), await direct_round(direct_graph)
            if i >= WARMUP:
                through.append(a)
                direct.append(b)
    return through, direct


def report(name: str, through: list[float], direct: list[float]) -> None:
    print(f"\n{name}")
    print(f"  graph resumed directly          p50 {pct(direct, 50):7.2f} ms  p99 {pct(direct, 99):7.2f} ms")
    print(f"  Clearance decision→resume       p50 {pct(through, 50):7.2f} ms  p99 {pct(through, 99):7.2f} ms")
    ratio = statistics.median(through) / statistics.median(direct)
    overhead = 1000 * (statistics.median(through) - statistics.median(direct))
    print(f"  ratio (through Clearance / direct, p50): {ratio:.2f}x; overhead per decision (p50): {overhead:.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--pg", default=os.environ.get("CLEARANCE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    print(machine())
    print(f"{args.rounds} rounds each (after {WARMUP} unmeasured), interleaved; create_agent + "
          "HumanInTheLoopMiddleware(per_call), scripted in-process model")
    with tempfile.TemporaryDirectory() as tmp:
        report("SQLite", *await bench_database(f"sqlite:///{tmp}/bench.db", args.rounds))
    try:
        pg = await bench_database(args.pg, args.rounds)
    except Exception as exc:
        print(f"\nPostgreSQL at {args.pg}: not measured ({type(exc).__name__}: {exc})")
    else:
        report("PostgreSQL (loopback)", *pg)


if __name__ == "__main__":
    asyncio.run(main())
