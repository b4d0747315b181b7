"""A database made before reminders and escalation existed gets their columns in place."""

from __future__ import annotations

from bot.ledger import schema
from bot.ledger.database import SqliteDatabase
from bot.ledger.ledger import Ledger


async def test_old_table_gains_reminder_and_escalation_columns(tmp_path) -> None:
    db = await SqliteDatabase.open(str(tmp_path / "old.db"))
    try:
        old = schema.SCHEMA[0].replace("reminded_at DOUBLE PRECISION,", "").replace(
            "escalated_steps INTEGER NOT NULL DEFAULT 0,", "")
        assert "reminded_at" not in old
        await db.execute(old)
        await Ledger(db).setup()
        columns = {r["name"] for r in await db.fetch("PRAGMA table_info(clearance_approvals)")}
        assert {"reminded_at", "escalated_steps"} <= columns
    finally:
        await db.close()
