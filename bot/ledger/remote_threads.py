"""Which LangGraph Agent Server thread each chat thread runs on, kept in Clearance's database so
every replica, and every restart, finds the same one."""

from __future__ import annotations

import time
from typing import Callable

from bot.ledger.database import Database


class RemoteThreads:
    """The runner's `ThreadMap`: first writer wins, so two replicas that both created a server
    thread for one chat thread agree on one of them."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def server_thread(self, thread_id: str) -> str | None:
        rows = await self.db.fetch("SELECT server_thread FROM clearance_remote_threads WHERE thread_id = ?", thread_id)
        return str(rows[0]["server_thread"]) if rows else None

    async def chat_thread(self, server_thread: str) -> str | None:
        rows = await self.db.fetch("SELECT thread_id FROM clearance_remote_threads WHERE server_thread = ?",
                                   server_thread)
        return str(rows[0]["thread_id"]) if rows else None

    async def remember(self, thread_id: str, server_thread: str) -> str:
        await self.db.execute(
            "INSERT INTO clearance_remote_threads (thread_id, server_thread, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING", thread_id, server_thread, self.clock())
        return await self.server_thread(thread_id) or server_thread
