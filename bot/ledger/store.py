"""Opening the database DATABASE_URL names: the one place that chooses PostgreSQL or SQLite.

Two ways in. `open_store(url, for_runs=True)` (serve, console, check) gives the ledger's
database, LangGraph's checkpointer and the per-thread locks over a pool, with the schema set
up under a lock that replicas starting together take in turn. `open_database(url)` (pending,
audit) gives the ledger's database alone, over one connection: those commands run one
statement at a time and must not pay for the graph, the model, the chat platforms or a pool.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator

from bot.errors import ConfigError
from bot.ledger.database import Database, PostgresDatabase, SqliteDatabase
from bot.ledger.locks import AdvisoryLocks, FileLocks, ThreadLocks, schema_lock
from bot.ledger.schema import create_tables
from graph import checkpoint

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.ledger.ledger import Ledger


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


@dataclass(frozen=True)
class Store:
    db: Database
    locks: ThreadLocks
    checkpointer: Any  # LangGraph's BaseCheckpointSaver, on the same database


@contextlib.asynccontextmanager
async def open_store(url: str) -> AsyncIterator[Store]:
    """The database, checkpointer and locks for running graphs, the ledger's tables created or
    brought up to date."""
    async with contextlib.AsyncExitStack() as stack:
        if is_postgres(url):
            pool = await _enter(stack, checkpoint.postgres_pool(url))
            db: Database = PostgresDatabase(pool)
            async with schema_lock(pool):
                saver = await stack.enter_async_context(checkpoint.postgres_saver(pool))
                await create_tables(db)
            yield Store(db, AdvisoryLocks(pool), saver)
            return
        path = checkpoint.sqlite_path(url)
        if path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"DATABASE_URL: cannot create {path} ({exc.strerror})") from None
        saver = await stack.enter_async_context(checkpoint.sqlite_saver(path))
        sqlite = await SqliteDatabase.open(path)
        stack.push_async_callback(sqlite.close)
        await create_tables(sqlite)
        yield Store(sqlite, FileLocks(None if path == ":memory:" else path + ".locks"), saver)


@contextlib.asynccontextmanager
async def open_database(url: str) -> AsyncIterator[Database]:
    """The ledger's database alone, its tables created or brought up to date, as at every start.
    PostgreSQL over one connection: these commands run one statement at a time."""
    async with contextlib.AsyncExitStack() as stack:
        db: Database
        if is_postgres(url):
            db = PostgresDatabase(await _enter(stack, checkpoint.postgres_connection(url)))
        else:
            sqlite = await SqliteDatabase.open(checkpoint.sqlite_path(url))
            stack.push_async_callback(sqlite.close)
            db = sqlite
        await create_tables(db)
        yield db


async def _enter(stack: contextlib.AsyncExitStack, opening: contextlib.AbstractAsyncContextManager[Any]) -> Any:
    """A PostgreSQL pool or connection, held by `stack`; a server that cannot be reached is one
    line naming DATABASE_URL."""
    try:
        return await stack.enter_async_context(opening)
    except checkpoint.PostgresUnreachable as exc:
        raise ConfigError(f"DATABASE_URL: {exc}") from None
    except Exception as exc:
        raise ConfigError(f"DATABASE_URL: cannot connect to PostgreSQL ({type(exc).__name__})") from None


@contextlib.asynccontextmanager
async def open_ledger(settings: Settings) -> AsyncIterator[Ledger]:
    from bot.ledger.ledger import Ledger

    async with open_database(settings.database_url) as db:
        yield Ledger(db)
