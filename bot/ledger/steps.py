"""The ledger's side of reaching the approvers: each reminder and escalation step is a
compare-and-set on the approval's row, taken once whatever the number of sweepers."""

from __future__ import annotations

import json

from adapters.base import Conversation
from bot.approvals.models import Approval, RuleSnapshot, Status
from bot.ledger.ledger import Ledger
from bot.ledger.rows import approval_of, conversation_of
from bot.ledger.schema import REACHING


async def claim_reminder(ledger: Ledger, approval: Approval, now: float, every: float) -> Approval | None:
    """Take the reminder due now, once: the last reminder (or the request) is at least
    `every` old. The new mark is `now`, so after downtime there is one catch-up reminder,
    not one per missed interval; a second sweeper finds it taken."""
    rows = await ledger.db.fetch(
        """UPDATE clearance_approvals SET reminded_at = ?
           WHERE id = ? AND status = ? AND COALESCE(reminded_at, created_at) <= ? RETURNING *""",
        now, approval.id, Status.PENDING.value, now - every)
    return approval_of(rows[0]) if rows else None


async def claim_escalation(ledger: Ledger, approval: Approval, step: int, rule: RuleSnapshot) -> Approval | None:
    """Take escalation step `step` (0-based), once and in order, widening the rule. The
    version moves, so a click evaluated against the narrower rule re-reads the row."""
    rows = await ledger.db.fetch(
        """UPDATE clearance_approvals SET rule = ?, escalated_steps = ?, version = version + 1
           WHERE id = ? AND status = ? AND escalated_steps = ? RETURNING *""",
        json.dumps(rule.to_json()), step + 1, approval.id, Status.PENDING.value, step)
    return approval_of(rows[0]) if rows else None


async def reaching(ledger: Ledger) -> list[Approval]:
    """Pending approvals whose rule reminds or escalates: a pass reads those, however long
    the queue of the others."""
    # SQLite, without statistics, would rather walk the status index over the whole queue.
    hint = " INDEXED BY clearance_approvals_reaching" if ledger.db.dialect == "sqlite" else ""
    rows = await ledger.db.fetch(f"SELECT * FROM clearance_approvals{hint} WHERE {REACHING}")
    return [a for a in map(approval_of, rows) if a.rule.remind_every or len(a.rule.escalate) > a.escalated_steps]


async def latest_conversation(ledger: Ledger, platform: str) -> Conversation | None:
    """The last conversation the bot saw on `platform` (what reaching someone there from
    another platform's thread starts from: Teams needs its service URL and tenant)."""
    rows = await ledger.db.fetch(
        "SELECT conversation FROM clearance_threads WHERE thread_id LIKE ? ORDER BY updated_at DESC LIMIT 1",
        platform + ":%")
    return conversation_of(rows[0]["conversation"]) if rows else None


async def conversation_at(ledger: Ledger, platform: str, where: str) -> Conversation | None:
    """The last conversation the bot saw on `platform` whose id is `where` (a Teams conversation:
    its reference says whether it is a channel, and which service URL answers for it)."""
    rows = await ledger.db.fetch(
        "SELECT conversation FROM clearance_threads WHERE thread_id LIKE ? ORDER BY updated_at DESC LIMIT 500",
        platform + ":%")
    for row in rows:
        conv = conversation_of(row["conversation"])
        if str(conv.data.get("conversation_id", "")).split(";messageid=")[0] == where:
            return conv
    return None
