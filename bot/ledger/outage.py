"""Telling a database outage from a busy pool, fast, and saying so in few lines.

While PostgreSQL is unreachable, a statement that asks the pool for a connection waits for a
reconnect that does not come. A pool that lends nothing within `QUICK_WAIT` is either busy
(every connection out, the database fine) or cut off: one direct connection attempt, shared
by every statement waiting at that moment, tells which. Cut off, the statement fails at once
(the request is answered 503 within two seconds); busy, it waits on, up to `CONNECTION_WAIT`.

The pool logs a warning for each reconnect attempt of each of its connections (a hundred in a
15-second outage). `POOL_WARNINGS` lets the first one through (it names the cause), drops the
rest and the routine "discarding connection" lines, and the first statement that succeeds
afterwards logs the recovery once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graph.checkpoint import DictPool

log = logging.getLogger("clearance.database")
# How long a statement waits for a pooled connection before asking whether the database is up.
QUICK_WAIT = 1.0
# How long the direct attempt that asks may take: together, under two seconds.
PROBE_WAIT = 0.8
# How long a statement waits for a connection from a busy pool (the database answering): a
# click must hear "try again" within seconds (Teams gives an invoke about fifteen).
CONNECTION_WAIT = 8.0
_RECONNECT_FAILED = "error connecting in %r: %s"
_ROUTINE = ("discarding closed connection: %s", "discarding broken connection: %s")


class PoolWarnings(logging.Filter):
    """On psycopg's pool logger: one failed reconnect per outage, on one line."""

    def __init__(self) -> None:
        super().__init__()
        self.passed = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in _ROUTINE:
            return False  # the pool replaces the connection; a failure to do so is logged below
        if record.msg != _RECONNECT_FAILED:
            return True
        if self.passed:
            return False
        self.passed = True
        record.msg, record.args = " ".join(record.getMessage().split()), ()
        return True


POOL_WARNINGS = PoolWarnings()


class Outage:
    """Whether the database is known to be down, and the probe that finds out."""

    def __init__(self, pool: DictPool) -> None:
        self.pool = pool
        self.since: float | None = None
        self._probe: asyncio.Task[bool] | None = None
        logging.getLogger("psycopg.pool").addFilter(POOL_WARNINGS)  # the same filter once

    def failed(self) -> None:
        if self.since is None:
            self.since = time.monotonic()

    def succeeded(self) -> None:
        if self.since is not None:
            log.warning("database reachable again after %.1fs", time.monotonic() - self.since)
            self.since = None
        POOL_WARNINGS.passed = False

    async def reachable(self) -> bool:
        """One direct connection attempt, shared by whoever asks while it runs."""
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._connect())
        return await asyncio.shield(self._probe)

    async def _connect(self) -> bool:
        from psycopg import AsyncConnection

        conninfo = self.pool.conninfo
        if not isinstance(conninfo, str):
            return True  # computed per connection (ours never is): wait, as for a busy pool
        try:
            conn: Any = await asyncio.wait_for(AsyncConnection.connect(conninfo), timeout=PROBE_WAIT)
        except Exception:
            self.failed()
            return False
        await conn.close()
        return True
