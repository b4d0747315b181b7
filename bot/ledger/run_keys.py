"""Idempotency keys of runs started outside a chat (`POST /api/runs`, `clearance run`): the same
key never starts a second run, across retries, replicas and restarts."""

from __future__ import annotations

import time
from typing import Callable

from bot.ledger.database import Database


class RunKeys:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def claim(self, key: str) -> bool:
        """True for the first caller with this key: it starts the run; the others read it."""
        return await self.db.execute(
            "INSERT INTO clearance_runs (key, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING", key, self.clock()) == 1

    async def fill(self, key: str, thread_id: str, link: str) -> None:
        await self.db.execute("UPDATE clearance_runs SET thread_id = ?, link = ? WHERE key = ?", thread_id, link, key)

    async def release(self, key: str) -> None:
        """The run could not be started: the key may be used again."""
        await self.db.execute("DELETE FROM clearance_runs WHERE key = ? AND thread_id IS NULL", key)

    async def get(self, key: str) -> tuple[str, str] | None:
        rows = await self.db.fetch("SELECT thread_id, link FROM clearance_runs WHERE key = ?", key)
        if not rows or rows[0]["thread_id"] is None:
            return None
        return str(rows[0]["thread_id"]), str(rows[0]["link"] or "")
