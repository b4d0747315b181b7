"""The approval ledger and audit trail, in the same database as the checkpoints.

Every state change is a compare-and-set on (`id`, `version`) or on `status`, so two clicks,
two approvers or two replicas racing on one approval produce exactly one winner.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable, Iterable

from adapters.base import Actor, Conversation
from bot.db import Database
from bot.models import Approval, DecisionEntry, Status

log = logging.getLogger("clearance.ledger")
# Called after every audit row with (event, approval, detail): metrics hang off this, so every
# path that changes an approval (click, API, sweeper, worker) is counted exactly once.
AuditListener = Callable[[str, "Approval | None", "dict[str, Any]"], None]

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
        cards TEXT NOT NULL DEFAULT '{}',
        result TEXT,
        result_status TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION,
        updated_at DOUBLE PRECISION NOT NULL,
        lease_until DOUBLE PRECISION,
        resumed_at DOUBLE PRECISION,
        seq INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL DEFAULT 0,
        external INTEGER NOT NULL DEFAULT 0,
        UNIQUE (thread_id, interrupt_id)
    )""",
    "CREATE INDEX IF NOT EXISTS clearance_approvals_status ON clearance_approvals (status)",
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
_AUDIT = {
    "sqlite": "id INTEGER PRIMARY KEY AUTOINCREMENT",
    "postgres": "id BIGSERIAL PRIMARY KEY",
}


def _conv_json(conv: Conversation) -> str:
    return json.dumps({"platform": conv.platform, "thread_id": conv.thread_id, "data": dict(conv.data)})


def _conv(text: str) -> Conversation:
    data = json.loads(text)
    return Conversation(platform=data["platform"], thread_id=data["thread_id"], data=data.get("data") or {})


def _row(row: dict[str, Any]) -> Approval:
    return Approval(
        id=row["id"],
        thread_id=row["thread_id"],
        interrupt_id=row["interrupt_id"],
        tool_call_id=row["tool_call_id"],
        tool=row["tool"],
        args=json.loads(row["args"]),
        requester=Actor.from_json(json.loads(row["requester"])),
        rule=json.loads(row["rule"]),
        conversation=_conv(row["conversation"]),
        status=Status(row["status"]),
        decisions=tuple(DecisionEntry.from_json(d) for d in json.loads(row["decisions"])),
        cards=json.loads(row["cards"]),
        result=row["result"],
        result_status=row["result_status"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        updated_at=row["updated_at"],
        lease_until=row["lease_until"],
        resumed_at=row["resumed_at"],
        seq=row["seq"],
        version=row["version"],
        external=bool(row["external"]),
    )


class Ledger:
    def __init__(self, db: Database, clock: Any = time.time) -> None:
        self.db = db
        self.clock = clock
        self.listeners: list[AuditListener] = []

    async def setup(self) -> None:
        for stmt in _SCHEMA:
            await self.db.execute(stmt)
        await self.db.execute(
            f"""CREATE TABLE IF NOT EXISTS clearance_audit (
                {_AUDIT[self.db.dialect]},
                at DOUBLE PRECISION NOT NULL,
                approval_id TEXT,
                thread_id TEXT,
                event TEXT NOT NULL,
                actor TEXT,
                detail TEXT NOT NULL DEFAULT '{{}}'
            )"""
        )

    # -- approvals ---------------------------------------------------------------------------

    async def record(self, approval: Approval) -> Approval | None:
        """Insert a pending approval and return it as stored (with its per-thread number);
        None if this interrupt already has one (a re-run)."""
        a = approval
        rows = await self.db.fetch(
            """INSERT INTO clearance_approvals (id, thread_id, interrupt_id, tool_call_id, tool,
                 args, requester, rule, conversation, status, created_at, expires_at,
                 updated_at, seq, external)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                 (SELECT COUNT(*) + 1 FROM clearance_approvals WHERE thread_id = ?), ?)
               ON CONFLICT (thread_id, interrupt_id) DO NOTHING RETURNING *""",
            a.id, a.thread_id, a.interrupt_id, a.tool_call_id, a.tool, json.dumps(a.args),
            json.dumps(a.requester.to_json()), json.dumps(a.rule), _conv_json(a.conversation),
            a.status.value, a.created_at, a.expires_at, a.created_at, a.thread_id, int(a.external),
        )
        if not rows:
            return None
        await self.audit("requested", a, actor=a.requester, detail={"tool": a.tool, "args": a.args})
        return _row(rows[0])

    async def get(self, approval_id: str) -> Approval | None:
        rows = await self.db.fetch("SELECT * FROM clearance_approvals WHERE id = ?", approval_id)
        return _row(rows[0]) if rows else None

    async def by_interrupt(self, thread_id: str, interrupt_id: str) -> Approval | None:
        rows = await self.db.fetch(
            "SELECT * FROM clearance_approvals WHERE thread_id = ? AND interrupt_id = ?",
            thread_id, interrupt_id,
        )
        return _row(rows[0]) if rows else None

    async def approvals(self, *, status: Iterable[str] | None = None, thread_id: str | None = None,
                   limit: int = 500) -> list[Approval]:
        where, params = [], []
        statuses = list(status or [])
        if statuses:
            where.append("status IN (" + ",".join("?" * len(statuses)) + ")")
            params += statuses
        if thread_id:
            where.append("thread_id = ?")
            params.append(thread_id)
        sql = "SELECT * FROM clearance_approvals"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at, seq LIMIT ?"
        return [_row(r) for r in await self.db.fetch(sql, *params, limit)]

    async def decide(self, before: Approval, status: Status, decisions: tuple[DecisionEntry, ...]) -> Approval | None:
        """Compare-and-set on version: None if someone else changed the row first."""
        now = self.clock()
        rows = await self.db.fetch(
            """UPDATE clearance_approvals SET status = ?, decisions = ?, version = version + 1,
                 updated_at = ? WHERE id = ? AND version = ? RETURNING *""",
            status.value, json.dumps([d.to_json() for d in decisions]), now, before.id, before.version,
        )
        if not rows:
            return None
        after = _row(rows[0])
        last = decisions[-1]
        await self.audit(last.decision, after, actor=last.actor,
                         detail={"reason": last.reason, "status": status.value,
                                 "platform": last.actor.platform, "name": last.actor.name})
        return after

    async def start_execution(self, approval_id: str, lease_seconds: float) -> Approval | None:
        """approved → executing, once. The winner runs the call; everyone else must not."""
        now = self.clock()
        rows = await self.db.fetch(
            """UPDATE clearance_approvals SET status = 'executing', lease_until = ?,
                 version = version + 1, updated_at = ?
               WHERE id = ? AND status = 'approved' AND external = 0 RETURNING *""",
            now + lease_seconds, now, approval_id,
        )
        if not rows:
            return None
        after = _row(rows[0])
        await self.audit("executing", after)
        return after

    async def renew_lease(self, approval_id: str, lease_seconds: float) -> None:
        await self.db.execute(
            "UPDATE clearance_approvals SET lease_until = ? WHERE id = ? AND status = 'executing'",
            self.clock() + lease_seconds, approval_id,
        )

    async def finish(self, approval_id: str, *, ok: bool, result: str, from_status: str = "executing",
                     actor: Actor | None = None, detail: dict[str, Any] | None = None) -> Approval | None:
        """executing (or approved, for external workers) → done | failed, once."""
        now = self.clock()
        status = Status.DONE if ok else Status.FAILED
        rows = await self.db.fetch(
            """UPDATE clearance_approvals SET status = ?, result = ?, result_status = ?,
                 lease_until = NULL, version = version + 1, updated_at = ?
               WHERE id = ? AND status = ? RETURNING *""",
            status.value, result, "ok" if ok else "error", now, approval_id, from_status,
        )
        if not rows:
            return None
        after = _row(rows[0])
        await self.audit(status.value, after, actor=actor,
                         detail={"result": result[:2000], **(detail or {})})
        return after

    async def mark_resumed(self, approval_id: str) -> None:
        await self.db.execute(
            "UPDATE clearance_approvals SET resumed_at = ? WHERE id = ? AND resumed_at IS NULL",
            self.clock(), approval_id,
        )

    async def set_card(self, approval_id: str, platform: str, ref: dict[str, Any]) -> None:
        current = await self.get(approval_id)
        if current is None:
            return
        cards = {**current.cards, platform: ref}
        await self.db.execute(
            "UPDATE clearance_approvals SET cards = ? WHERE id = ?", json.dumps(cards), approval_id
        )

    async def due(self, now: float) -> dict[str, list[Approval]]:
        """What the sweeper must look at: expired pending, lost executions, unresumed outcomes."""
        expired = await self.db.fetch(
            "SELECT * FROM clearance_approvals WHERE status = 'pending' AND expires_at IS NOT NULL "
            "AND expires_at < ?", now)
        lost = await self.db.fetch(
            "SELECT * FROM clearance_approvals WHERE status = 'executing' AND lease_until < ?", now)
        stranded = await self.db.fetch(
            "SELECT * FROM clearance_approvals WHERE status = 'approved' AND external = 0 "
            "AND updated_at < ?", now - 30)
        unresumed = await self.db.fetch(
            "SELECT * FROM clearance_approvals WHERE status IN ('rejected','expired','done','failed') "
            "AND resumed_at IS NULL AND updated_at < ?", now - 10)
        return {
            "expired": [_row(r) for r in expired],
            "lost": [_row(r) for r in lost],
            "stranded": [_row(r) for r in stranded],
            "unresumed": [_row(r) for r in unresumed],
        }

    async def page(self, *, status: Iterable[str] | None = None, thread_id: str | None = None,
                   after: tuple[float, str] | None = None, limit: int = 100) -> tuple[list[Approval], bool]:
        """One page of approvals, oldest first, strictly after the key `after` = (created_at, id)
        of the previous page's last row; and whether more rows follow. Keyset, not OFFSET: a
        row decided between two pages never shifts the next page, and `(created_at, id) > (?, ?)`
        is a range an index on (created_at, id) can seek to."""
        where: list[str] = []
        params: list[Any] = []
        statuses = list(status or [])
        if statuses:
            where.append("status IN (" + ",".join("?" * len(statuses)) + ")")
            params += statuses
        if thread_id:
            where.append("thread_id = ?")
            params.append(thread_id)
        if after is not None:
            where.append("(created_at, id) > (?, ?)")
            params += [after[0], after[1]]
        sql = "SELECT * FROM clearance_approvals"
        if where:
            sql += " WHERE " + " AND ".join(where)
        # One row more than asked tells whether there is a next page without a COUNT.
        rows = await self.db.fetch(sql + " ORDER BY created_at, id LIMIT ?", *params, limit + 1)
        return [_row(r) for r in rows[:limit]], len(rows) > limit

    # -- threads and events ------------------------------------------------------------------

    async def save_thread(self, conv: Conversation, actor: Actor) -> None:
        now = self.clock()
        await self.db.execute(
            """INSERT INTO clearance_threads (thread_id, conversation, last_actor, updated_at)
               VALUES (?, ?, ?, ?) ON CONFLICT (thread_id) DO UPDATE SET
               conversation = excluded.conversation, last_actor = excluded.last_actor,
               updated_at = excluded.updated_at""",
            conv.thread_id, _conv_json(conv), json.dumps(actor.to_json()), now,
        )

    async def thread(self, thread_id: str) -> tuple[Conversation, Actor] | None:
        rows = await self.db.fetch("SELECT * FROM clearance_threads WHERE thread_id = ?", thread_id)
        if not rows:
            return None
        return _conv(rows[0]["conversation"]), Actor.from_json(json.loads(rows[0]["last_actor"]))

    async def first_time(self, event_id: str) -> bool:
        """True the first time an inbound event id is seen (platform retries are dropped)."""
        count = await self.db.execute(
            "INSERT INTO clearance_events (event_id, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
            event_id, self.clock(),
        )
        return count == 1

    # -- audit -------------------------------------------------------------------------------

    async def audit(self, event: str, approval: Approval | None = None, *, actor: Actor | None = None,
                    detail: dict[str, Any] | None = None, thread_id: str | None = None) -> None:
        await self.db.execute(
            "INSERT INTO clearance_audit (at, approval_id, thread_id, event, actor, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            self.clock(), approval.id if approval else None,
            approval.thread_id if approval else thread_id, event,
            actor.qualified if actor else None, json.dumps(detail or {}, default=str),
        )
        for listener in self.listeners:
            try:
                listener(event, approval, detail or {})
            except Exception:  # a metrics slip must never break the flow it observes
                log.exception("audit listener failed")

    async def audit_trail(self, *, since: float = 0.0, limit: int = 10000) -> list[dict[str, Any]]:
        rows = await self.db.fetch(
            "SELECT * FROM clearance_audit WHERE at >= ? ORDER BY id LIMIT ?", since, limit)
        return [{**r, "detail": json.loads(r["detail"])} for r in rows]
