"""Decisions per second through a LangGraph Agent Server (a real `langgraph dev`), with one and
two Clearance replicas in front of it, next to the same server's resumes sent directly with
the SDK at the same concurrency, in one run.

    python bench/agent_server.py [--cards 60] [--in-flight 10] [--pg postgresql://…]

N chat threads each get a card (a create_agent + HumanInTheLoopMiddleware run on the server,
its model the local OpenAI-compatible fake); then the N decisions are made with `--in-flight`
outstanding, spread over the replicas (each its own runtime and pool on one PostgreSQL). A
decision counts when its run is resumed on the server and the answer posted. Direct: N server
threads interrupted, then resumed with the SDK, the same number in flight.
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
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]

from langgraph_sdk import get_client  # noqa: E402

from adapters.base import Actor, Conversation, Decision, DecisionClick, InboundMessage  # noqa: E402
from bench.approval_round import Silent  # noqa: E402
from bench.common import PG, machine, scratch_database  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.runtime import open_runtime  # noqa: E402
from tests.agent_server.devserver import DevServer  # noqa: E402
from tests.llm.fake_openai import FakeOpenAI, calls  # noqa: E402

RESTART = ("restart", {"service": "web", "environment": "prod"})
ASKER, DECIDER = Actor("console", "asker", "asker"), Actor("console", "bench", "bench")


async def bounded(jobs: list[Any], in_flight: int) -> None:
    gate = asyncio.Semaphore(in_flight)

    async def one(job: Any) -> None:
        async with gate:
            await job

    await asyncio.gather(*(one(j) for j in jobs))


async def through_clearance(url: str, server: DevServer, model: FakeOpenAI, cards: int, in_flight: int,
                            replicas: int) -> float:
    model.add(*[calls(RESTART) for _ in range(cards)])
    async with contextlib.AsyncExitStack() as stack:
        runtimes = []
        for _ in range(replicas):
            settings = load_settings(DATABASE_URL=url, CLEARANCE_LANGGRAPH_URL=server.url,
                                     CLEARANCE_LOG_LEVEL="WARNING")
            rt = await stack.enter_async_context(open_runtime(settings))
            rt.service.add_adapter(Silent())
            runtimes.append(rt)
        threads = [f"console:{uuid.uuid4().hex}" for _ in range(cards)]
        await bounded([runtimes[0].service.on_message(InboundMessage(Conversation("console", t), "restart web",
                                                                     ASKER)) for t in threads], in_flight)
        pending = await runtimes[0].ledger.approvals(status=["pending"], limit=cards * 2)
        assert len(pending) == cards, len(pending)

        async def decide(i: int, approval_id: str) -> None:
            rt = runtimes[i % replicas]
            await rt.service.on_decision(DecisionClick(approval_id, Decision.APPROVE, DECIDER))

        started = time.perf_counter()
        await bounded([decide(i, a.id) for i, a in enumerate(pending)], in_flight)
        for rt in runtimes:
            await rt.service.drain()
        took = time.perf_counter() - started
        done = [a for a in await runtimes[0].ledger.approvals(limit=cards * 2) if a.resumed_at is not None]
        assert len(done) == cards, f"{len(done)} of {cards} resumed"
        return cards / took


async def direct(server: DevServer, model: FakeOpenAI, cards: int, in_flight: int) -> float:
    model.add(*[calls(RESTART) for _ in range(cards)])
    client = get_client(url=server.url, api_key=None)

    async def interrupted() -> tuple[str, str]:
        thread = await client.threads.create()
        run = await client.runs.create(thread["thread_id"], "agent",
                                       input={"messages": [{"role": "user", "content": "restart web"}]})
        await client.runs.join(thread["thread_id"], run["run_id"])
        state = await client.threads.get_state(thread["thread_id"])
        return str(thread["thread_id"]), str(state["tasks"][0]["interrupts"][0]["id"])

    waiting = [await interrupted() for _ in range(cards)]

    async def resume(thread_id: str, interrupt_id: str) -> None:
        run = await client.runs.create(thread_id, "agent",
                                       command={"resume": {interrupt_id: {"decisions": [{"type": "approve"}]}}})
        await client.runs.join(thread_id, run["run_id"])

    started = time.perf_counter()
    await bounded([resume(t, i) for t, i in waiting], in_flight)
    return cards / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=60)
    parser.add_argument("--in-flight", type=int, default=10)
    parser.add_argument("--pg", default=PG)
    args = parser.parse_args()
    print(machine())
    print(f"{args.cards} decisions, {args.in_flight} in flight; a real langgraph dev (in-memory runtime, one worker "
          "process) serving create_agent + HumanInTheLoopMiddleware; fake OpenAI on loopback")
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeOpenAI() as model:
            server = DevServer(Path(tmp), {"AGENT_SERVER_OPENAI": model.base_url,
                                           "AGENT_SERVER_RAN": str(Path(tmp) / "ran.txt")})
            await server.start()
            try:
                raw = await direct(server, model, args.cards, args.in_flight)
                results = {}
                for replicas in (1, 2):
                    with scratch_database(args.pg) as url:
                        results[replicas] = await through_clearance(url, server, model, args.cards, args.in_flight,
                                                                    replicas)
            finally:
                server.stop()
    print(f"  resumes/s sent directly to the server (SDK):      {raw:7.1f}")
    for replicas, rate in results.items():
        print(f"  decisions/s through Clearance, {replicas} replica{'s' if replicas > 1 else ' '}:    {rate:7.1f}"
              f"   (x{rate / raw:.2f} of direct)")
    print(f"  two replicas / one: x{results[2] / results[1]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
