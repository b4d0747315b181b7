"""The ledger's tables, and how a stored row becomes an `Approval`.

Guarantees kept here:
- creating the tables is idempotent (`IF NOT EXISTS` throughout), so every replica runs it at
  start and none needs to know whether another already did;
- a database made by an earlier version keeps working: columns added since are added in
  place, and rows written before a column existed read with that column's default;
- the mapping is pure: no I/O, so reading a row can never change one.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.base import Actor, Conversation
from bot.db import Database
from bot.models import Approval, CardCopy, DecisionEntry, EditEntry, RuleSnapshot, Status

_SCHEMA = [
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
]
_AUDIT = {
    "sqlite": "id INTEGER PRIMARY KEY AUTOINCREMENT",
    "postgres": "id BIGSERIAL PRIMARY KEY",
}


def _conv_json(conv: Conversation) -> str:
    return json.dumps({"platform": conv.platform, "thread_id": conv.thread_id, "data": dict(conv.data)})


def _conv(text: str) -> Conversation:
    data = json.loads(text)
    return Conversation(platform=data["platform"], thread_id=data["thread_id"], data=data.get("data") or {})


def _copies(data: Any) -> tuple[CardCopy, ...]:
    if isinstance(data, dict):  # rows written before copies had places: {platform: ref data}
        data = [{"platform": k, "data": v} for k, v in data.items() if isinstance(v, dict)]
    return tuple(CardCopy.from_json(c) for c in data if isinstance(c, dict))


def _row(row: dict[str, Any]) -> Approval:
    return Approval(
        id=row["id"],
        thread_id=row["thread_id"],
        interrupt_id=row["interrupt_id"],
        tool_call_id=row["tool_call_id"],
        tool=row["tool"],
        args=json.loads(row["args"]),
        requester=Actor.from_json(json.loads(row["requester"])),
        rule=RuleSnapshot.from_json(json.loads(row["rule"])),
        conversation=_conv(row["conversation"]),
        status=Status(row["status"]),
        decisions=tuple(DecisionEntry.from_json(d) for d in json.loads(row["decisions"])),
        cards=_copies(json.loads(row["cards"])),
        result=row["result"],
        result_status=row["result_status"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        updated_at=row["updated_at"],
        lease_until=row["lease_until"],
        resumed_at=row["resumed_at"],
        detached_at=row.get("detached_at"),
        seq=row["seq"],
        version=row["version"],
        external=bool(row["external"]),
        revision=int(row.get("revision") or 1),
        edits=tuple(EditEntry.from_json(e) for e in json.loads(row.get("edits") or "[]") if isinstance(e, dict)),
        preview=row.get("preview"),
        preview_ok=bool(row.get("preview_ok", 1)),
        preview_revision=int(row.get("preview_revision") or 0),
        reminded_at=row.get("reminded_at"),
        escalated_steps=int(row.get("escalated_steps") or 0),
        undelivered=int(row.get("undelivered") or 0),
    )


async def create_tables(db: Database) -> None:
    for stmt in _SCHEMA:
        await db.execute(stmt)
    await db.execute(
        f"""CREATE TABLE IF NOT EXISTS clearance_audit (
            {_AUDIT[db.dialect]},
            at DOUBLE PRECISION NOT NULL,
            approval_id TEXT,
            thread_id TEXT,
            event TEXT NOT NULL,
            actor TEXT,
            detail TEXT NOT NULL DEFAULT '{{}}'
        )"""
    )
    # `clearance audit --since`: a range, not the whole trail.
    await db.execute("CREATE INDEX IF NOT EXISTS clearance_audit_at ON clearance_audit (at)")
    await _add_columns(db)


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
