"""Per-thread locks: LangGraph does not serialize two resumes of one thread, so we must.

Postgres: an advisory lock keyed by the thread id, held on a pooled connection, so it holds
across processes and replicas (and is released by the server if the holder dies).
SQLite: an asyncio lock in front of an flock on a per-thread lock file, which holds across
processes on one machine — the only place one SQLite file can be shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator, Protocol

if TYPE_CHECKING:
    from graph.checkpoint import DictPool


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class ThreadLocks(Protocol):
    def hold(self, name: str) -> contextlib.AbstractAsyncContextManager[None]: ...

    def try_hold(self, name: str) -> contextlib.AbstractAsyncContextManager[bool]: ...


class _LocalLocks:
    """In-process asyncio locks, created on demand and dropped when nobody waits."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(name, (asyncio.Lock(), 0))
        self._locks[name] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[name]
            if users <= 1:
                del self._locks[name]
            else:
                self._locks[name] = (lock, users - 1)


class FileLocks:
    def __init__(self, directory: str | None) -> None:
        self._local = _LocalLocks()
        self._dir = Path(directory) if directory else None
        if self._dir:
            self._dir.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        assert self._dir is not None
        return self._dir / (hashlib.sha256(name.encode()).hexdigest()[:32] + ".lock")

    @contextlib.asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        async with self._local.hold(name):
            if self._dir is None:
                yield
                return
            fd = os.open(self._path(name), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the flock

    @contextlib.asynccontextmanager
    async def try_hold(self, name: str) -> AsyncIterator[bool]:
        if self._dir is None:
            yield True
            return
        fd = os.open(self._path(name), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)


class AdvisoryLocks:
    def __init__(self, pool: DictPool, max_holders: int | None = None) -> None:
        self._pool = pool
        self._local = _LocalLocks()
        # A holder keeps one pooled connection for the whole run and needs more for the
        # checkpoints and the ledger meanwhile. Without a cap, a burst of runs on as many
        # threads as the pool has connections takes them all and every run starves.
        self._slots = asyncio.Semaphore(max_holders or max(1, pool.max_size // 2))

    @contextlib.asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        # The local lock first, so waiters in this process do not each hold a connection.
        async with self._local.hold(name), self._slots, self._pool.connection() as conn:
            key = lock_key(name)
            await conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            try:
                yield
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    @contextlib.asynccontextmanager
    async def try_hold(self, name: str) -> AsyncIterator[bool]:
        async with self._pool.connection() as conn:
            key = lock_key(name)
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (key,))
            row = await cur.fetchone()
            got = bool(row and row["ok"])
            try:
                yield got
            finally:
                if got:
                    await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


@contextlib.asynccontextmanager
async def schema_lock(pool: DictPool) -> AsyncIterator[None]:
    """Held while creating or altering tables: `CREATE TABLE IF NOT EXISTS` is not safe
    against itself in PostgreSQL, so replicas starting together would fail on a duplicate.
    Polled, not waited for in one statement: the checkpointer's migrations build indexes
    CONCURRENTLY, which wait for every open statement, a blocked pg_advisory_lock included."""
    async with pool.connection() as conn:
        key = lock_key("clearance:schema")
        while True:
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (key,))
            row = await cur.fetchone()
            if row and row["ok"]:
                break
            await asyncio.sleep(0.1)
        try:
            yield
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
