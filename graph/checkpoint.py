"""Checkpointer factory from DATABASE_URL: Postgres over a pool we configure, or SQLite; and
the same connections for commands that only read the ledger (one Postgres connection, no pool)."""

from __future__ import annotations

import contextlib
import logging
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator

if TYPE_CHECKING:
    # LangGraph loads only with a saver, psycopg only with PostgreSQL and aiosqlite only with
    # SQLite: listing the ledger pays for one driver and nothing else.
    import aiosqlite
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
    from psycopg import AsyncConnection
    from psycopg.rows import DictRow
    from psycopg_pool import AsyncConnectionPool

    # Every pooled connection returns rows as dicts (the saver and the ledger both read by column name).
    DictPool = AsyncConnectionPool[AsyncConnection[DictRow]]


def sqlite_path(url: str) -> str:
    """sqlite:///./clearance.db → ./clearance.db; sqlite:////abs/path → /abs/path;
    sqlite:///:memory: → :memory:."""
    path = url.removeprefix("sqlite://")
    if path.startswith("/"):
        path = path[1:] if not path.startswith("//") else path[1:]
    return path or "clearance.db"


async def open_sqlite(path: str, **options: Any) -> aiosqlite.Connection:
    """A SQLite connection as every part of Clearance uses it: WAL so a second process (a
    CLI, another replica) reads while we write, and a generous busy timeout instead of
    'database is locked' under contention."""
    import aiosqlite

    conn = await aiosqlite.connect(path, timeout=30, **options)
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA busy_timeout=30000")
    return conn


CONNECT_TIMEOUT = 5  # seconds for the first connection: a wrong address fails in seconds, not minutes


class PostgresUnreachable(Exception):
    """The first connection failed; `where` is host:port, `cause` the server's or the
    network's reason in one line (never the password)."""

    def __init__(self, where: str, cause: str) -> None:
        super().__init__(f"cannot connect to PostgreSQL at {where}: {cause}")
        self.where = where
        self.cause = cause


def _cause(exc: BaseException) -> str:
    """libpq's message names every address it tried, over several lines; keep the reason."""
    text = str(exc).strip()
    first = next((line for line in text.splitlines() if line.strip()), type(exc).__name__)
    reason = first.rsplit(" failed: ", 1)[-1].strip()
    reason = reason.removeprefix("FATAL:").strip()
    return (reason[:1].lower() + reason[1:]) if reason[:2] != reason[:2].upper() else reason


def _settings() -> dict[str, Any]:
    """What every connection of ours is set up with: what AsyncPostgresSaver needs
    (autocommit, no prepared statements, dict rows)."""
    from psycopg.rows import dict_row

    return {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}


async def _connect(url: str, **settings: Any) -> AsyncConnection[Any]:
    """One direct connection, or PostgresUnreachable saying why."""
    from psycopg import AsyncConnection, conninfo

    try:
        info = conninfo.conninfo_to_dict(url)
    except Exception as exc:
        raise PostgresUnreachable("?", f"not a valid PostgreSQL URL ({type(exc).__name__})") from None
    where = f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}"
    timeout = int(str(info.get("connect_timeout") or CONNECT_TIMEOUT))
    try:
        return await AsyncConnection.connect(url, connect_timeout=timeout, **settings)
    except Exception as exc:
        raise PostgresUnreachable(where, _cause(exc)) from None


async def _first_connection(url: str) -> None:
    """One direct attempt before the pool opens: the pool retries in the background and
    ends with a bare PoolTimeout, while this says why at once."""
    conn = await _connect(url)
    await conn.close()


# A connection handed back less than this long ago is lent again unchecked: under load every
# statement would otherwise pay a second round trip for a `SELECT 1`, and a connection that
# just worked is the one least likely to have died. One idle longer is checked first.
FRESH_SECONDS = 1.0
_returned: weakref.WeakKeyDictionary[AsyncConnection[DictRow], float] = weakref.WeakKeyDictionary()


async def _check(conn: AsyncConnection[DictRow]) -> None:
    if time.monotonic() - _returned.get(conn, float("-inf")) < FRESH_SECONDS:
        return
    await conn.execute("SELECT 1")


async def _returning(conn: AsyncConnection[DictRow]) -> None:
    _returned[conn] = time.monotonic()


@contextlib.asynccontextmanager
async def postgres_pool(url: str, *, max_size: int = 20) -> AsyncIterator[DictPool]:
    """The settings AsyncPostgresSaver needs (autocommit, no prepared statements, dict
    rows), plus health checks and recycling
    so a restarted database or a dropped idle connection never reaches a request."""
    from psycopg import AsyncConnection
    from psycopg.rows import DictRow
    from psycopg_pool import AsyncConnectionPool

    pool: DictPool = AsyncConnectionPool(
        url,
        connection_class=AsyncConnection[DictRow],
        min_size=2,
        max_size=max_size,
        max_idle=300,
        max_lifetime=1800,
        check=_check,
        reset=_returning,
        open=False,
        kwargs=_settings(),
    )
    await _first_connection(url)
    # The database answered a moment ago: a failure now is rare, and the pool's own retry
    # warnings (one per attempt) would bury the one line that matters.
    pool_log = logging.getLogger("psycopg.pool")
    level = pool_log.level
    pool_log.setLevel(logging.ERROR)
    try:
        await pool.open(wait=True, timeout=15)
    finally:
        pool_log.setLevel(level)
    try:
        yield pool
    finally:
        await pool.close()


class OneConnection:
    """One connection lent like a pool lends its connections, for a short command that runs
    one statement at a time: no pool workers, no health checks, one handshake instead of
    three (the first attempt and the pool's two)."""

    def __init__(self, conn: AsyncConnection[DictRow]) -> None:
        self.conn = conn

    @contextlib.asynccontextmanager
    async def connection(self, timeout: float | None = None) -> AsyncIterator[AsyncConnection[DictRow]]:
        yield self.conn


@contextlib.asynccontextmanager
async def postgres_connection(url: str) -> AsyncIterator[OneConnection]:
    """One connection set up like the pool's; PostgresUnreachable, saying why, when it fails."""
    conn = await _connect(url, **_settings())
    try:
        yield OneConnection(conn)
    finally:
        await conn.close()


def strict_serializer() -> JsonPlusSerializer:
    """Checkpoints revive only LangGraph's allow-list of safe types (messages, Send,
    Interrupt, datetimes…): whoever can write to the database must not be able to make a
    resume import and call arbitrary code."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    return JsonPlusSerializer(allowed_msgpack_modules=None, pickle_fallback=False)


class _NoLock:
    """An async context manager that excludes nothing."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


@contextlib.asynccontextmanager
async def postgres_saver(pool: DictPool, *, stock_lock: bool = False) -> AsyncIterator[BaseCheckpointSaver]:
    """AsyncPostgresSaver over the pool, without its per-instance asyncio.Lock. The lock
    guards one shared connection; over a pool (which the saver accepts only without a
    pipeline) every checkpoint read and write borrows its own connection, so the lock only
    serializes independent threads' checkpoints behind one another and caps throughput.
    Two resumes of one thread are kept apart by the thread locks, not by the saver.
    `stock_lock`: keep the lock (benchmarks compare the two)."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    saver = AsyncPostgresSaver(pool, serde=strict_serializer())
    if not stock_lock:
        assert saver.pipe is None  # a pipeline shares one connection: the lock would be needed
        saver.lock = _NoLock()  # type: ignore[assignment]
    await saver.setup()
    yield saver


@contextlib.asynccontextmanager
async def sqlite_saver(path: str) -> AsyncIterator[BaseCheckpointSaver]:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = await open_sqlite(path)
    try:
        saver = AsyncSqliteSaver(conn, serde=strict_serializer())
        await saver.setup()
        yield saver
    finally:
        await conn.close()
