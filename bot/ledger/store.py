"""The ledger's database alone, opened from DATABASE_URL: for commands that only read or list
rows, which must not pay for the graph, the model, the chat platforms, or a pool."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, AsyncIterator

from bot.errors import ConfigError
from bot.ledger.database import Database, PostgresDatabase, SqliteDatabase
from bot.ledger.schema import create_tables
from graph import checkpoint

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.ledger.ledger import Ledger


@contextlib.asynccontextmanager
async def open_database(url: str) -> AsyncIterator[Database]:
    """The database with the ledger's tables created or brought up to date, as at every start.
    PostgreSQL over one connection: these commands run one statement at a time."""
    async with contextlib.AsyncExitStack() as stack:
        db: Database
        if url.startswith(("postgresql://", "postgres://")):
            try:
                conn = await stack.enter_async_context(checkpoint.postgres_connection(url))
            except checkpoint.PostgresUnreachable as exc:
                raise ConfigError(f"DATABASE_URL: {exc}") from None
            db = PostgresDatabase(conn)
        else:
            sqlite = await SqliteDatabase.open(checkpoint.sqlite_path(url))
            stack.push_async_callback(sqlite.close)
            db = sqlite
        await create_tables(db)
        yield db


@contextlib.asynccontextmanager
async def open_ledger(settings: Settings) -> AsyncIterator[Ledger]:
    from bot.ledger.ledger import Ledger

    async with open_database(settings.database_url) as db:
        yield Ledger(db)
