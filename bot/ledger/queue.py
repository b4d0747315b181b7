"""Messages that wait for a thread's cards: a graph that cannot set its waiting calls aside
(any graph but the bundled agent) gets new input only once every card it waits on is decided.

Guarantees kept here:
- a queued message is durable: a restart keeps it, and it still runs, in arrival order;
- a message is taken once (a compare-and-set on `started_at`), so two replicas draining
  one thread never run it twice.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable

from adapters.base import Actor, Conversation
from bot.ledger.database import Database
from bot.ledger.rows import conversation_json, conversation_of


@dataclass(frozen=True)
class Queued:
    id: int
    conversation: Conversation
    actor: Actor
    text: str


class MessageQueue:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def put(self, conv: Conversation, actor: Actor, text: str) -> int:
        """Queue a message; returns how many messages of the thread now wait (this one included)."""
        await self.db.execute(
            "INSERT INTO clearance_queue (thread_id, conversation, actor, text, queued_at) VALUES (?, ?, ?, ?, ?)",
            conv.thread_id, conversation_json(conv), json.dumps(actor.to_record()), text, self.clock())
        return await self.waiting(conv.thread_id)

    async def waiting(self, thread_id: str) -> int:
        rows = await self.db.fetch(
            "SELECT COUNT(*) AS n FROM clearance_queue WHERE thread_id = ? AND started_at IS NULL", thread_id)
        return int(rows[0]["n"])

    async def take(self, thread_id: str) -> Queued | None:
        """The thread's oldest waiting message, taken: nobody else will run it."""
        for _ in range(10):
            rows = await self.db.fetch(
                "SELECT * FROM clearance_queue WHERE thread_id = ? AND started_at IS NULL ORDER BY id LIMIT 1",
                thread_id)
            if not rows:
                return None
            taken = await self.db.execute(
                "UPDATE clearance_queue SET started_at = ? WHERE id = ? AND started_at IS NULL",
                self.clock(), rows[0]["id"])
            if taken:
                return _queued(rows[0])
        return None

    async def release(self, item: Queued) -> None:
        """Give a taken message back, first in line again: its run could not start."""
        await self.db.execute("UPDATE clearance_queue SET started_at = NULL WHERE id = ?", item.id)

    async def threads(self) -> list[str]:
        """Threads with messages waiting, for the sweeper to run once nothing blocks them."""
        rows = await self.db.fetch("SELECT DISTINCT thread_id FROM clearance_queue WHERE started_at IS NULL")
        return [str(r["thread_id"]) for r in rows]


def _queued(row: dict[str, Any]) -> Queued:
    return Queued(int(row["id"]), conversation_of(row["conversation"]), Actor.from_json(json.loads(row["actor"])),
                  str(row["text"]))
