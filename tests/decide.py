"""Decide one approval from a separate OS process: `python -m tests.decide ID USER [reject]`.
Prints the outcome; used by the two-process race and restart tests."""

from __future__ import annotations

import asyncio
import sys

from adapters.base import Actor, Decision, DecisionClick
from bot.config import load_settings
from bot.runtime import open_runtime


async def main(approval_id: str, user: str, verb: str) -> None:
    async with open_runtime(load_settings()) as runtime:
        decision = Decision.REJECT if verb == "reject" else Decision.APPROVE
        result = await runtime.service.on_decision(
            DecisionClick(approval_id, decision, Actor("console", user, user), "from a process"))
        await runtime.service.drain()
        print(result.outcome.value, result.message, flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "approve"))
