"""The ledger's tables, and the keyset page every listing of them reads.

Guarantees kept here:
- creating the tables is idempotent (`IF NOT EXISTS` throughout), so every replica runs it at
  start and none needs to know whether another already did;
- a database made by an earlier version keeps working: columns added since are added in
  place (rows written before a column existed read with its default: `ledger_rows`);
- nothing here imports the approval models, so a command that only lists rows opens and
  sets up the ledger without them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.ledger.database import Database

# Pending approvals whose rule reminds or escalates (the rule is stored as JSON; the snapshot
# decides the rest). Indexed with this very predicate, and queried with it word for word: a
# planner uses a partial index only for a query whose condition is the index's own.
REACHING = """status = 'pending' AND (rule LIKE '%"remind_every": %' OR rule LIKE '%"escalate": [{%')"""

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS clearance_approvals (
        id TEXT PRIMARY KEY,
        thread_id TEXT NOT NULL,
        interrupt_id TEXT NOT NULL,
        tool_call_id TEXT NOT NULL,
        tool TEXT NOT NULL,
        args TEXT NOT NULL,
        requester TEXT NOT NULL,
        rule TEXT NOT NULL,
        conversation TEXT NOT NULL,
        status TEXT NOT NULL,
        decisions TEXT NOT NULL DEFAULT '[]',
        cards TEXT NOT NULL DEFAULT '[]',
        result TEXT,
        result_status TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION,
        updated_at DOUBLE PRECISION NOT NULL,
        lease_until DOUBLE PRECISION,
        resumed_at DOUBLE PRECISION,
        detached_at DOUBLE PRECISION,
        seq INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL DEFAULT 0,
        external INTEGER NOT NULL DEFAULT 0,
        revision INTEGER NOT NULL DEFAULT 1,
        edits TEXT NOT NULL DEFAULT '[]',
        preview TEXT,
        preview_ok INTEGER NOT NULL DEFAULT 1,
        preview_revision INTEGER NOT NULL DEFAULT 0,
        reminded_at DOUBLE PRECISION,
        escalated_steps INTEGER NOT NULL DEFAULT 0,
        undelivered INTEGER NOT NULL DEFAULT 0,
        deliver_after DOUBLE PRECISION,
        delivery_attempts INTEGER NOT NULL DEFAULT 0,
        dialect TEXT NOT NULL DEFAULT 'tool-call',
        batch_of TEXT,
        part INTEGER NOT NULL DEFAULT 0,
        parts INTEGER NOT NULL DEFAULT 1,
        allowed TEXT,
        description TEXT NOT NULL DEFAULT '',
        runs_in_graph INTEGER NOT NULL DEFAULT 0,
        UNIQUE (thread_id, interrupt_id)
    )""",
    "CREATE INDEX IF NOT EXISTS clearance_approvals_status ON clearance_approvals (status)",
    # Pages of a status, oldest first, seek on this index instead of sorting the table.
    "CREATE INDEX IF NOT EXISTS clearance_approvals_page ON clearance_approvals (status, created_at, id)",
    # Pages of every status.
    "CREATE INDEX IF NOT EXISTS clearance_approvals_created ON clearance_approvals (created_at, id)",
    # The sweeper's queries: each a range on one status, so a pass costs what is due, not
    # what is pending. Outcomes not yet handed to their run are few; decided history is not.
    "CREATE INDEX IF NOT EXISTS clearance_approvals_expiry ON clearance_approvals (status, expires_at)",
    "CREATE INDEX IF NOT EXISTS clearance_approvals_lease ON clearance_approvals (status, lease_until)",
    """CREATE INDEX IF NOT EXISTS clearance_approvals_unresumed ON clearance_approvals (status, updated_at)
       WHERE resumed_at IS NULL""",
    # Cards whose post or update a chat platform refused: few, and looked for on every sweep.
    """CREATE INDEX IF NOT EXISTS clearance_approvals_undelivered ON clearance_approvals (deliver_after)
       WHERE undelivered <> 0""",
    # Pending approvals whose rule reminds or escalates: few, and read on every sweep.
    f"CREATE INDEX IF NOT EXISTS clearance_approvals_reaching ON clearance_approvals (created_at) WHERE {REACHING}",
    """CREATE TABLE IF NOT EXISTS clearance_threads (
        thread_id TEXT PRIMARY KEY,
        conversation TEXT NOT NULL,
        last_actor TEXT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS clearance_events (
        event_id TEXT PRIMARY KEY,
        seen_at DOUBLE PRECISION NOT NULL
    )""",
    # Runs started outside a chat, by their idempotency key.
    """CREATE TABLE IF NOT EXISTS clearance_runs (
        key TEXT PRIMARY KEY,
        thread_id TEXT,
        link TEXT,
        created_at DOUBLE PRECISION NOT NULL
    )""",
    # Decisions waiting for their clicker's fresh identity-provider login (step-up rules).
    """CREATE TABLE IF NOT EXISTS clearance_step_ups (
        token TEXT PRIMARY KEY,
        approval_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        decision TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        actor TEXT NOT NULL,
        conversation TEXT,
        place TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        state TEXT UNIQUE,
        nonce TEXT,
        verifier TEXT,
        started_at DOUBLE PRECISION,
        used_at DOUBLE PRECISION
    )""",
    # Chat thread ↔ LangGraph Agent Server thread, when the agent runs on one.
    """CREATE TABLE IF NOT EXISTS clearance_remote_threads (
        thread_id TEXT PRIMARY KEY,
        server_thread TEXT NOT NULL UNIQUE,
        created_at DOUBLE PRECISION NOT NULL
    )""",
]
_ADDED_COLUMNS = [
    ("detached_at", "DOUBLE PRECISION"),
    ("revision", "INTEGER NOT NULL DEFAULT 1"),
    ("edits", "TEXT NOT NULL DEFAULT '[]'"),
    ("preview", "TEXT"),
    ("preview_ok", "INTEGER NOT NULL DEFAULT 1"),
    ("preview_revision", "INTEGER NOT NULL DEFAULT 0"),
    ("reminded_at", "DOUBLE PRECISION"),
    ("escalated_steps", "INTEGER NOT NULL DEFAULT 0"),
    ("undelivered", "INTEGER NOT NULL DEFAULT 0"),
    ("deliver_after", "DOUBLE PRECISION"),
    ("delivery_attempts", "INTEGER NOT NULL DEFAULT 0"),
    # How the agent asked (the interrupt's dialect, a batch's shared interrupt and the card's
    # place in it, the decisions it accepts) and whether its own tool does the work.
    ("dialect", "TEXT NOT NULL DEFAULT 'tool-call'"),
    ("batch_of", "TEXT"),
    ("part", "INTEGER NOT NULL DEFAULT 0"),
    ("parts", "INTEGER NOT NULL DEFAULT 1"),
    ("allowed", "TEXT"),
    ("description", "TEXT NOT NULL DEFAULT ''"),
    ("runs_in_graph", "INTEGER NOT NULL DEFAULT 0"),
]
_AUDIT = {
    "sqlite": "id INTEGER PRIMARY KEY AUTOINCREMENT",
    "postgres": "id BIGSERIAL PRIMARY KEY",
}


def page_query(columns: str, where: list[str], params: list[Any], after: tuple[float, str] | None,
               limit: int) -> tuple[str, list[Any]]:
    """One page of approvals, oldest first, strictly after the key `after` = (created_at, id)
    of the previous page's last row, and one row more than `limit` so the caller knows whether
    another page follows without a COUNT. Keyset, not OFFSET: a row decided between two pages
    never shifts the next page, and `(created_at, id) > (?, ?)` is a range an index on
    (created_at, id) can seek to."""
    where = list(where)
    params = list(params)
    if after is not None:
        where.append("(created_at, id) > (?, ?)")
        params += [after[0], after[1]]
    sql = f"SELECT {columns} FROM clearance_approvals"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + " ORDER BY created_at, id LIMIT ?", [*params, limit + 1]


def _statements(dialect: str) -> list[str]:
    return [
        *SCHEMA,
        f"""CREATE TABLE IF NOT EXISTS clearance_audit (
            {_AUDIT[dialect]},
            at DOUBLE PRECISION NOT NULL,
            approval_id TEXT,
            thread_id TEXT,
            event TEXT NOT NULL,
            actor TEXT,
            detail TEXT NOT NULL DEFAULT '{{}}'
        )""",
        # `clearance audit --since`: a range, not the whole trail.
        "CREATE INDEX IF NOT EXISTS clearance_audit_at ON clearance_audit (at)",
        # Messages that arrived while a graph that cannot set its calls aside waited on cards:
        # each runs, in arrival order, once the thread's cards are decided.
        f"""CREATE TABLE IF NOT EXISTS clearance_queue (
            {_AUDIT[dialect]},
            thread_id TEXT NOT NULL,
            conversation TEXT NOT NULL,
            actor TEXT NOT NULL,
            text TEXT NOT NULL,
            queued_at DOUBLE PRECISION NOT NULL,
            started_at DOUBLE PRECISION
        )""",
        """CREATE INDEX IF NOT EXISTS clearance_queue_waiting ON clearance_queue (thread_id, id)
           WHERE started_at IS NULL""",
    ]


_CREATES = re.compile(r"CREATE (?:TABLE|INDEX) IF NOT EXISTS (\w+)")


async def create_tables(db: Database) -> None:
    statements = _statements(db.dialect)
    if await _complete(db, [name for stmt in statements for name in _CREATES.findall(stmt)]):
        return
    for stmt in statements:
        await db.execute(stmt)
    await _add_columns(db)


async def _complete(db: Database, names: list[str]) -> bool:
    """Whether every table, index and added column is there already: one query, where going
    through the statements again takes one each (on PostgreSQL, a round trip and a lock each),
    which a command that lists rows and exits would mostly spend on that."""
    columns = [name for name, _ in _ADDED_COLUMNS]
    if db.dialect == "postgres":
        sql = ("SELECT (SELECT count(*) FROM unnest(?::text[]) AS n WHERE to_regclass(n) IS NOT NULL) AS objects, "
               "(SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('clearance_approvals') "
               "AND attname = ANY(?::text[]) AND NOT attisdropped) AS columns")
        params: list[Any] = [names, columns]
    else:
        sql = (f"SELECT (SELECT count(*) FROM sqlite_master WHERE name IN ({','.join('?' * len(names))})) AS objects, "
               "(SELECT count(*) FROM pragma_table_info('clearance_approvals') "
               f"WHERE name IN ({','.join('?' * len(columns))})) AS columns")
        params = [*names, *columns]
    row = (await db.fetch(sql, *params))[0]
    return bool(row["objects"] == len(names) and row["columns"] == len(columns))


async def _add_columns(db: Database) -> None:
    """Columns added since the table was first created, added in place: a database made
    by an earlier version keeps working."""
    if db.dialect == "postgres":
        for name, kind in _ADDED_COLUMNS:
            await db.execute(f"ALTER TABLE clearance_approvals ADD COLUMN IF NOT EXISTS {name} {kind}")
        return
    present = {r["name"] for r in await db.fetch("PRAGMA table_info(clearance_approvals)")}
    for name, kind in _ADDED_COLUMNS:
        if name not in present:
            await db.execute(f"ALTER TABLE clearance_approvals ADD COLUMN {name} {kind}")
