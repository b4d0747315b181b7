"""A tiny async SQL layer over one Postgres pool or one SQLite file, for the ledger.

SQL is written once with `?` placeholders; Postgres gets them as `%s`. Both backends
support `INSERT … ON CONFLICT DO NOTHING` and `UPDATE … RETURNING`, which is all the ledger
needs for its atomic claims.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import aiosqlite

from graph.checkpoint import DictPool, open_sqlite


class Database(Protocol):
    dialect: str

    async def fetch(self, sql: str, *params: Any) -> list[dict[str, Any]]: ...

    async def execute(self, sql: str, *params: Any) -> int: ...

    async def ping(self) -> None: ...


class PostgresDatabase:
    dialect = "postgres"

    def __init__(self, pool: DictPool) -> None:
        self.pool = pool

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    async def fetch(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(self._sql(sql), params)
            return list(await cur.fetchall()) if cur.description else []

    async def execute(self, sql: str, *params: Any) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(self._sql(sql), params)
            return cur.rowcount

    async def ping(self) -> None:
        await self.fetch("SELECT 1 AS ok")


class SqliteDatabase:
    """One connection; statements run one at a time (aiosqlite has a single worker thread),
    and each write commits at once so other processes see it."""

    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> SqliteDatabase:
        conn = await open_sqlite(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        return cls(conn)

    async def fetch(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        async with self._lock:
            cur = await self.conn.execute(sql, params)
            rows = await cur.fetchall()
            await cur.close()
            return [dict(r) for r in rows]

    async def execute(self, sql: str, *params: Any) -> int:
        async with self._lock:
            cur = await self.conn.execute(sql, params)
            count = cur.rowcount
            await cur.close()
            return count

    async def ping(self) -> None:
        await self.fetch("SELECT 1 AS ok")

    async def close(self) -> None:
        await self.conn.close()
