"""The ledger alone, opened from settings: for commands that only read or list rows, which
must not pay for the graph, the model or the chat platforms."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

from bot.config import Settings
from bot.db import Database, PostgresDatabase, SqliteDatabase
from bot.errors import ConfigError
from bot.ledger import Ledger
from graph import checkpoint


@contextlib.asynccontextmanager
async def open_ledger(settings: Settings) -> AsyncIterator[Ledger]:
    url = settings.database_url
    async with contextlib.AsyncExitStack() as stack:
        db: Database
        if url.startswith(("postgresql://", "postgres://")):
            try:
                pool = await stack.enter_async_context(checkpoint.postgres_pool(url, max_size=2))
            except Exception as exc:
                raise ConfigError(f"DATABASE_URL: cannot connect to PostgreSQL ({type(exc).__name__})") from None
            db = PostgresDatabase(pool)
        else:
            sqlite = await SqliteDatabase.open(checkpoint.sqlite_path(url))
            stack.push_async_callback(sqlite.close)
            db = sqlite
        ledger = Ledger(db)
        await ledger.setup()
        yield ledger
