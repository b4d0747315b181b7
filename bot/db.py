"""A tiny async SQL layer over one Postgres pool or one SQLite file, for the ledger.

SQL is written once with `?` placeholders; Postgres gets them as `%s`. Both backends
support `INSERT … ON CONFLICT DO NOTHING` and `UPDATE … RETURNING`, which is all the ledger
needs for its atomic claims.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol

import aiosqlite

from graph.checkpoint import open_sqlite

if TYPE_CHECKING:
    from graph.checkpoint import DictPool

# How long one ledger query waits for a pooled connection. While the database is down the pool
# waits for a reconnect that does not come: a click must hear "try again" within seconds (Teams
# gives an invoke about fifteen), not after the pool's default half minute.
CONNECTION_WAIT = 8.0
# The errors that mean "the database cannot be reached or is restarting", as opposed to a bug
# in a query: psycopg's and sqlite's OperationalError (PoolTimeout is one too) and InterfaceError.
_OUTAGE = {("psycopg", "OperationalError"), ("psycopg", "InterfaceError"), ("sqlite3", "OperationalError")}


def is_outage(exc: BaseException) -> bool:
    """True when `exc` says the database is unreachable rather than that our SQL is wrong."""
    return any((c.__module__.split(".")[0], c.__name__) in _OUTAGE for c in type(exc).__mro__)


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
        async with self.pool.connection(timeout=CONNECTION_WAIT) as conn:
            cur = await conn.execute(self._sql(sql), params)
            return list(await cur.fetchall()) if cur.description else []

    async def execute(self, sql: str, *params: Any) -> int:
        async with self.pool.connection(timeout=CONNECTION_WAIT) as conn:
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
            # One trip to aiosqlite's worker thread instead of three (execute, fetchall, close).
            rows = await self.conn.execute_fetchall(sql, params)
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
