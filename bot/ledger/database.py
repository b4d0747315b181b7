"""A tiny async SQL layer over one Postgres pool (or one connection) or one SQLite file, for the ledger.

SQL is written once with `?` placeholders; Postgres gets them as `%s`. Both backends
support `INSERT … ON CONFLICT DO NOTHING` and `UPDATE … RETURNING`, which is all the ledger
needs for its atomic claims.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, AsyncIterator, Protocol, cast

from bot.ledger.outage import CONNECTION_WAIT, QUICK_WAIT, Outage
from graph.checkpoint import OneConnection, open_sqlite

if TYPE_CHECKING:
    import aiosqlite

    from graph.checkpoint import DictPool

# The errors that mean "the database cannot be reached or is restarting", as opposed to a bug
# in a query: psycopg's and sqlite's OperationalError (PoolTimeout is one too) and InterfaceError.
_OUTAGE = {("psycopg", "OperationalError"), ("psycopg", "InterfaceError"), ("sqlite3", "OperationalError")}


def is_outage(exc: BaseException) -> bool:
    """True when `exc` says the database is unreachable rather than that our SQL is wrong."""
    return any((c.__module__.split(".")[0], c.__name__) in _OUTAGE for c in type(exc).__mro__)


class Database(Protocol):
    dialect: str

    async def fetch(self, sql: str, *params: Any) -> list[dict[str, Any]]: ...

    async def fetch_values(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows as tuples in the order of the statement's columns: for a listing that copies
        thousands of rows, the dict a row costs is a good part of the row."""
        ...

    async def execute(self, sql: str, *params: Any) -> int: ...

    def transaction(self) -> contextlib.AbstractAsyncContextManager[Statements]:
        """Statements that commit together, or not at all."""
        ...

    async def ping(self) -> None: ...


class Statements(Protocol):
    """What runs inside a transaction."""

    async def fetch(self, sql: str, *params: Any) -> list[dict[str, Any]]: ...

    async def execute(self, sql: str, *params: Any) -> int: ...


class PostgresDatabase:
    dialect = "postgres"

    def __init__(self, pool: DictPool | OneConnection) -> None:
        self.pool = pool
        # A command's one connection has no pool to wait for; a server's pool is watched.
        self.outage = None if isinstance(pool, OneConnection) else Outage(pool)

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        outage = self.outage
        if outage is None:
            async with self.pool.connection(timeout=CONNECTION_WAIT) as conn:
                yield conn
            return
        try:
            async with contextlib.AsyncExitStack() as stack:
                try:
                    conn = await stack.enter_async_context(self.pool.connection(timeout=QUICK_WAIT))
                except Exception as exc:
                    # Nothing lent quickly: a busy pool over a live database is worth waiting for.
                    if not is_outage(exc) or not await outage.reachable():
                        raise
                    conn = await stack.enter_async_context(
                        self.pool.connection(timeout=CONNECTION_WAIT - QUICK_WAIT))
                yield conn
        except Exception as exc:
            if is_outage(exc):
                outage.failed()
            raise
        outage.succeeded()

    async def fetch(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        async with self._connection() as conn:
            cur = await conn.execute(self._sql(sql), params)
            return list(await cur.fetchall()) if cur.description else []

    async def fetch_values(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        from psycopg.rows import tuple_row

        async with self._connection() as conn:
            # Binary: a double arrives as its 8 bytes instead of text parsed back into a float.
            cur = conn.cursor(row_factory=tuple_row, binary=True)
            await cur.execute(self._sql(sql), params)
            return await cur.fetchall()

    async def execute(self, sql: str, *params: Any) -> int:
        async with self._connection() as conn:
            cur = await conn.execute(self._sql(sql), params)
            return cur.rowcount

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Statements]:
        async with self._connection() as conn, conn.transaction():
            yield _PostgresTransaction(conn)

    async def ping(self) -> None:
        await self.fetch("SELECT 1 AS ok")


class _PostgresTransaction:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def fetch(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        cur = await self.conn.execute(PostgresDatabase._sql(sql), params)
        return list(await cur.fetchall()) if cur.description else []

    async def execute(self, sql: str, *params: Any) -> int:
        cur = await self.conn.execute(PostgresDatabase._sql(sql), params)
        return int(cur.rowcount)


class SqliteDatabase:
    """One connection; statements run one at a time (aiosqlite has a single worker thread),
    and each write commits at once so other processes see it."""

    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> SqliteDatabase:
        from sqlite3 import Row

        conn = await open_sqlite(path, isolation_level=None)
        conn.row_factory = Row
        return cls(conn)

    async def fetch(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        async with self._lock:
            # One trip to aiosqlite's worker thread instead of three (execute, fetchall, close).
            rows = await self.conn.execute_fetchall(sql, params)
            return [dict(r) for r in rows]

    async def fetch_values(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        async with self._lock:
            cur = await self.conn.execute(sql, params)
            cur.row_factory = None  # plain tuples: rows are built as they are fetched
            rows = await cur.fetchall()
            await cur.close()
            return cast("list[tuple[Any, ...]]", list(rows))

    async def execute(self, sql: str, *params: Any) -> int:
        async with self._lock:
            return await _execute(self.conn, sql, params)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Statements]:
        """Statements that commit together: a compare-and-set and its audit row are one write
        to the disk (each commit waits for an fsync, ~0.5 ms) and never one without the other."""
        async with self._lock:
            await self.conn.execute_fetchall("BEGIN IMMEDIATE", ())
            try:
                yield SqliteTransaction(self.conn)
            except BaseException:
                await self.conn.execute_fetchall("ROLLBACK", ())
                raise
            await self.conn.execute_fetchall("COMMIT", ())

    async def ping(self) -> None:
        await self.fetch("SELECT 1 AS ok")

    async def close(self) -> None:
        await self.conn.close()


class SqliteTransaction:
    """The statements of one `SqliteDatabase.transaction`: it already holds the connection."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def fetch(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.conn.execute_fetchall(sql, params)]

    async def execute(self, sql: str, *params: Any) -> int:
        return await _execute(self.conn, sql, params)


async def _execute(conn: aiosqlite.Connection, sql: str, params: tuple[Any, ...]) -> int:
    cur = await conn.execute(sql, params)
    count = cur.rowcount
    await cur.close()
    return count
