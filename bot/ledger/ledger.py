"""The approval ledger and audit trail, in the same database as the checkpoints.

Every state change is a compare-and-set on (`id`, `version`) or on `status`, so two clicks,
two approvers or two replicas racing on one approval produce exactly one winner.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from adapters.base import Actor, Conversation
from bot.approvals.ids import credential_of
from bot.approvals.models import (
    Approval,
    AuditEvent,
    CardCopy,
    DecisionEntry,
    EditEntry,
    ResultStatus,
    RuleSnapshot,
    Status,
    Undelivered,
)
from bot.ledger.database import Database, Statements
from bot.ledger.rows import approval_of, conversation_json, conversation_of, copies_of
from bot.ledger.schema import create_tables, page_query

log = logging.getLogger("clearance.ledger")
# Called after every audit row with (event, approval, detail): metrics hang off this, so every
# path that changes an approval (click, API, sweeper, worker) is counted exactly once.
AuditListener = Callable[[AuditEvent, "Approval | None", "dict[str, Any]"], None]
# Outcomes the run can be resumed with.
_OUTCOMES = tuple(s.value for s in Status if s.has_outcome)


@dataclass(frozen=True)
class Due:
    """What the sweeper must look at."""

    expired: list[Approval]  # pending past their expiry
    lost: list[Approval]  # executing with an expired lease: the runner died
    stranded: list[Approval]  # approved but never started (a crash between claim and start)
    unresumed: list[Approval]  # decided with an outcome that never reached the graph

    def __len__(self) -> int:
        return len(self.expired) + len(self.lost) + len(self.stranded) + len(self.unresumed)


def audit_detail(actor: Actor | None, detail: dict[str, Any] | None) -> dict[str, Any]:
    """What an audit row says besides its event: the caller's detail, and for an API actor
    which credential acted (never the token), whatever row it is (request, decision, edit,
    result, refusal)."""
    found = credential_of(actor) if actor is not None else None
    return {**(detail or {}), "credential": found} if found else dict(detail or {})


def _filters(status: Iterable[str] | None, thread_id: str | None) -> tuple[list[str], list[Any]]:
    """The WHERE terms and parameters every listing of approvals shares."""
    where: list[str] = []
    params: list[Any] = []
    statuses = [Status(s).value for s in status or []]
    if statuses:
        where.append("status IN (" + ",".join("?" * len(statuses)) + ")")
        params += statuses
    if thread_id:
        where.append("thread_id = ?")
        params.append(thread_id)
    return where, params


def _keep(value: Any) -> Any:
    return value


class Ledger:
    def __init__(self, db: Database, clock: Any = time.time, redact: Callable[[Any], Any] = _keep) -> None:
        self.db = db
        self.clock = clock
        self.redact = redact  # the audit trail outlives everything: no secret goes in
        self.listeners: list[AuditListener] = []

    async def setup(self) -> None:
        await create_tables(self.db)

    # -- approvals ---------------------------------------------------------------------------

    async def record(self, approval: Approval) -> Approval | None:
        """Insert a pending approval and return it as stored (with its per-thread number);
        None if this interrupt already has one (a re-run)."""
        a, asked = approval, approval.asked
        rows = await self.db.fetch(
            """INSERT INTO clearance_approvals (id, thread_id, interrupt_id, tool_call_id, tool,
                 args, requester, rule, conversation, status, created_at, expires_at,
                 updated_at, seq, external, dialect, batch_of, part, parts, allowed, description,
                 runs_in_graph)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                 (SELECT COUNT(*) + 1 FROM clearance_approvals WHERE thread_id = ?), ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (thread_id, interrupt_id) DO NOTHING RETURNING *""",
            a.id, a.thread_id, a.interrupt_id, a.tool_call_id, a.tool, json.dumps(a.args),
            json.dumps(a.requester.to_record()), json.dumps(a.rule.to_json()), conversation_json(a.conversation),
            a.status.value, a.created_at, a.expires_at, a.created_at, a.thread_id, int(a.external),
            asked.dialect.value, asked.batch_of, asked.part, asked.parts, json.dumps(list(asked.allowed)),
            asked.description, int(asked.runs_in_graph),
        )
        if not rows:
            return None
        await self.audit(AuditEvent.REQUESTED, a, actor=a.requester, detail={"tool": a.tool, "args": a.args})
        return approval_of(rows[0])

    async def get(self, approval_id: str) -> Approval | None:
        rows = await self.db.fetch("SELECT * FROM clearance_approvals WHERE id = ?", approval_id)
        return approval_of(rows[0]) if rows else None

    async def by_interrupt(self, thread_id: str, interrupt_id: str) -> Approval | None:
        rows = await self.db.fetch(
            "SELECT * FROM clearance_approvals WHERE thread_id = ? AND interrupt_id = ?",
            thread_id, interrupt_id,
        )
        return approval_of(rows[0]) if rows else None

    async def approvals(self, *, status: Iterable[Status] | None = None, thread_id: str | None = None,
                        limit: int = 500) -> list[Approval]:
        where, params = _filters(status, thread_id)
        sql = "SELECT * FROM clearance_approvals"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at, seq LIMIT ?"
        return [approval_of(r) for r in await self.db.fetch(sql, *params, limit)]

    async def decide(self, before: Approval, status: Status, decisions: tuple[DecisionEntry, ...], *,
                     result: str | None = None) -> Approval | None:
        """Compare-and-set on version: None if someone else changed the row first. `result`:
        a reply given in the tool's place, which is the call's result."""
        now = self.clock()
        last = decisions[-1]
        return await self._change(
            """UPDATE clearance_approvals SET status = ?, decisions = ?, version = version + 1,
                 updated_at = ?, result = COALESCE(?, result) WHERE id = ? AND version = ? RETURNING *""",
            (status.value, json.dumps([d.to_json() for d in decisions]), now, result, before.id, before.version),
            AuditEvent(last.decision.value), actor=last.actor,
            detail={"reason": last.reason, "status": status.value,
                    "platform": last.actor.platform, "name": last.actor.name,
                    **({"step_up": dict(last.step_up)} if last.step_up else {})})

    async def edit(self, before: Approval, *, args: dict[str, Any], rule: RuleSnapshot,
                   expires_at: float | None, edit: EditEntry) -> Approval | None:
        """A new revision with new arguments, compare-and-set on version while still pending:
        None if anyone changed the row first (a decision, another edit). Decisions stay in the
        history; only those of the new revision will count."""
        now = self.clock()
        edits = [e.to_json() for e in (*before.edits, edit)]
        rows = await self.db.fetch(
            """UPDATE clearance_approvals SET args = ?, rule = ?, expires_at = ?, edits = ?,
                 revision = revision + 1, version = version + 1, updated_at = ?
               WHERE id = ? AND version = ? AND revision = ? AND status = ? RETURNING *""",
            json.dumps(args), json.dumps(rule.to_json()), expires_at, json.dumps(edits), now,
            before.id, before.version, before.revision, Status.PENDING.value,
        )
        if not rows:
            return None
        after = approval_of(rows[0])
        await self.audit(AuditEvent.EDITED, after, actor=edit.actor,
                         detail={"revision": after.revision, "old": edit.old, "new": edit.new,
                                 "name": edit.actor.name})
        return after

    async def set_preview(self, approval_id: str, revision: int, *, text: str, ok: bool) -> Approval | None:
        """Store the preview of one revision, once: None if the row moved to another revision
        or already has this revision's preview. Not a version change: a preview decides nothing."""
        rows = await self.db.fetch(
            """UPDATE clearance_approvals SET preview = ?, preview_ok = ?, preview_revision = ?
               WHERE id = ? AND revision = ? AND preview_revision < ? RETURNING *""",
            text, int(ok), revision, approval_id, revision, revision,
        )
        if not rows:
            return None
        after = approval_of(rows[0])
        await self.audit(AuditEvent.PREVIEWED, after, detail={"revision": revision, "ok": ok, "output": text[:2000]})
        return after

    async def start_execution(self, approval_id: str, lease_seconds: float) -> Approval | None:
        """approved → executing, once. The winner runs the call; everyone else must not."""
        now = self.clock()
        return await self._change(
            """UPDATE clearance_approvals SET status = ?, lease_until = ?,
                 version = version + 1, updated_at = ?
               WHERE id = ? AND status = ? AND external = 0 AND runs_in_graph = 0 RETURNING *""",
            (Status.EXECUTING.value, now + lease_seconds, now, approval_id, Status.APPROVED.value),
            AuditEvent.EXECUTING)

    async def renew_lease(self, approval_id: str, lease_seconds: float) -> None:
        await self.db.execute(
            "UPDATE clearance_approvals SET lease_until = ? WHERE id = ? AND status = ?",
            self.clock() + lease_seconds, approval_id, Status.EXECUTING.value,
        )

    async def finish(self, approval_id: str, *, ok: bool, result: str, from_status: Status = Status.EXECUTING,
                     actor: Actor | None = None, detail: dict[str, Any] | None = None,
                     unknown: bool = False) -> Approval | None:
        """executing (or approved, for external workers) → done | failed, once. `unknown`:
        failed because nobody knows the outcome (its runner vanished)."""
        now = self.clock()
        status = Status.DONE if ok else Status.FAILED
        result_status = ResultStatus.UNKNOWN if unknown else ResultStatus.OK if ok else ResultStatus.ERROR
        return await self._change(
            """UPDATE clearance_approvals SET status = ?, result = ?, result_status = ?,
                 lease_until = NULL, version = version + 1, updated_at = ?
               WHERE id = ? AND status = ? RETURNING *""",
            (status.value, result, result_status.value, now, approval_id, from_status.value),
            AuditEvent(status.value), actor=actor, detail={"result": result[:2000], **(detail or {})})

    async def late_result(self, approval_id: str, *, ok: bool, result: str,
                          detail: dict[str, Any] | None = None) -> Approval | None:
        """The real result of a call already declared "outcome unknown" (its runner was cut
        off from the database, not dead): recorded, never dropped."""
        rows = await self.db.fetch(
            """UPDATE clearance_approvals SET status = ?, result = ?, result_status = ?,
                 version = version + 1, updated_at = ?
               WHERE id = ? AND status = ? AND result_status = ? RETURNING *""",
            (Status.DONE if ok else Status.FAILED).value, result, (ResultStatus.OK if ok else ResultStatus.ERROR).value,
            self.clock(), approval_id, Status.FAILED.value, ResultStatus.UNKNOWN.value,
        )
        if not rows:
            return None
        after = approval_of(rows[0])
        await self.audit(AuditEvent.LATE_RESULT, after, detail={"result": result[:2000], "ok": ok, **(detail or {})})
        return after

    async def _change(self, sql: str, params: tuple[Any, ...], event: AuditEvent, *, actor: Actor | None = None,
                      detail: dict[str, Any] | None = None) -> Approval | None:
        """A compare-and-set `UPDATE … RETURNING *` and, when it wins, its audit row. On
        PostgreSQL both go in one statement (a data-modifying CTE: one round trip, and the
        row and its audit entry commit together); on SQLite, two statements in one transaction
        (one commit, so one fsync)."""
        if self.db.dialect != "postgres":
            async with self.db.transaction() as tx:
                rows = await tx.fetch(sql, *params)
                if not rows:
                    return None
                after = approval_of(rows[0])
                await self._insert_audit(tx, event, after, actor, detail)
            self._notify(event, after, detail or {})
            return after
        rows = await self.db.fetch(
            f"""WITH changed AS ({sql}), logged AS (
                  INSERT INTO clearance_audit (at, approval_id, thread_id, event, actor, detail)
                  SELECT ?, id, thread_id, ?, ?, ? FROM changed)
                SELECT * FROM changed""",
            *params, self.clock(), event.value, actor.qualified if actor else None,
            json.dumps(self.redact(audit_detail(actor, detail)), default=str),
        )
        if not rows:
            return None
        after = approval_of(rows[0])
        self._notify(event, after, detail or {})
        return after

    async def resumed(self, approval: Approval, detail: dict[str, Any] | None = None) -> None:
        """mark_resumed and its `resumed` audit row, committed together."""
        if self.db.dialect != "postgres":
            async with self.db.transaction() as tx:
                await tx.execute("UPDATE clearance_approvals SET resumed_at = ? WHERE id = ? AND resumed_at IS NULL",
                                 self.clock(), approval.id)
                await self._insert_audit(tx, AuditEvent.RESUMED, approval, None, detail)
            self._notify(AuditEvent.RESUMED, approval, detail or {})
            return
        now = self.clock()
        await self.db.execute(
            """WITH changed AS (
                 UPDATE clearance_approvals SET resumed_at = ? WHERE id = ? AND resumed_at IS NULL)
               INSERT INTO clearance_audit (at, approval_id, thread_id, event, actor, detail)
               VALUES (?, ?, ?, ?, NULL, ?)""",
            now, approval.id, now, approval.id, approval.thread_id, AuditEvent.RESUMED.value,
            json.dumps(self.redact(detail or {}), default=str),
        )
        self._notify(AuditEvent.RESUMED, approval, detail or {})

    async def mark_detached(self, approval_id: str) -> None:
        await self.db.execute(
            "UPDATE clearance_approvals SET detached_at = ? WHERE id = ? AND detached_at IS NULL",
            self.clock(), approval_id,
        )

    async def mark_resumed(self, approval_id: str) -> None:
        await self.db.execute(
            "UPDATE clearance_approvals SET resumed_at = ? WHERE id = ? AND resumed_at IS NULL",
            self.clock(), approval_id,
        )

    async def add_card(self, approval_id: str, copy: CardCopy) -> Approval | None:
        """Remember a posted copy: where it is, to update it, and where clicks may come from.
        A compare-and-set on the list itself: copies posted at once (routing, a home view)
        are all kept. Returns the approval as it stands with the copy."""
        for _ in range(20):
            rows = await self.db.fetch("SELECT cards FROM clearance_approvals WHERE id = ?", approval_id)
            if not rows:
                return None
            before = rows[0]["cards"]
            existing = copies_of(json.loads(before))
            if copy in existing:
                return await self.get(approval_id)
            cards = json.dumps([c.to_json() for c in (*existing, copy)])
            updated = await self.db.fetch(
                "UPDATE clearance_approvals SET cards = ? WHERE id = ? AND cards = ? RETURNING *",
                cards, approval_id, before)
            if updated:
                return approval_of(updated[0])
        log.warning("could not record a card copy of %s: too many concurrent writers", approval_id)
        return None

    async def due(self, now: float) -> Due:
        async def rows(where: str, *params: Any) -> list[Approval]:
            found = await self.db.fetch(f"SELECT * FROM clearance_approvals WHERE {where}", *params)
            return [approval_of(r) for r in found]

        return Due(
            expired=await rows("status = ? AND expires_at IS NOT NULL AND expires_at < ?",
                               Status.PENDING.value, now),
            lost=await rows("status = ? AND lease_until < ?", Status.EXECUTING.value, now),
            stranded=await rows("status = ? AND external = 0 AND runs_in_graph = 0 AND updated_at < ?",
                                Status.APPROVED.value, now - 30),
            # An approval the graph's own tool carries out is an outcome once approved.
            unresumed=await rows(
                f"(status IN ({','.join('?' * len(_OUTCOMES))}) OR (status = ? AND runs_in_graph = 1)) "
                "AND resumed_at IS NULL AND updated_at < ?",
                *_OUTCOMES, Status.APPROVED.value, now - 10),
        )

    async def batch(self, thread_id: str, interrupt_id: str) -> list[Approval]:
        """The cards of one batched interrupt, in request order."""
        rows = await self.db.fetch(
            "SELECT * FROM clearance_approvals WHERE thread_id = ? AND batch_of = ? ORDER BY part",
            thread_id, interrupt_id)
        return [approval_of(r) for r in rows]

    async def undelivered(self, now: float, limit: int = 100) -> list[Approval]:
        """Approvals whose card or update a chat platform refused, due for another try."""
        return [approval_of(r) for r in await self.db.fetch(
            "SELECT * FROM clearance_approvals WHERE undelivered <> 0 "
            "AND (deliver_after IS NULL OR deliver_after <= ?) ORDER BY deliver_after LIMIT ?", now, limit)]

    async def mark_undelivered(self, approval_id: str, flag: Undelivered) -> None:
        """Remember what did not reach the chat; the next try backs off (5 s doubling to 5 min)."""
        await self.db.execute(
            """UPDATE clearance_approvals SET undelivered = undelivered | ?,
                 delivery_attempts = delivery_attempts + 1,
                 deliver_after = ? + CASE WHEN delivery_attempts >= 6 THEN 300 ELSE 5 * (1 << delivery_attempts) END
               WHERE id = ?""",
            int(flag), self.clock(), approval_id)

    async def mark_delivered(self, approval_id: str, flag: Undelivered) -> None:
        await self.db.execute(
            """UPDATE clearance_approvals SET undelivered = undelivered & ?,
                 delivery_attempts = CASE WHEN (undelivered & ?) = 0 THEN 0 ELSE delivery_attempts END
               WHERE id = ?""", ~int(flag) & 0xFF, ~int(flag) & 0xFF, approval_id)

    async def page(self, *, status: Iterable[str] | None = None, thread_id: str | None = None,
                   after: tuple[float, str] | None = None, limit: int = 100) -> tuple[list[Approval], bool]:
        """One page of approvals, oldest first, after the previous page's last (created_at, id);
        and whether more rows follow (`page_query`)."""
        sql, params = page_query("*", *_filters(status, thread_id), after, limit)
        rows = await self.db.fetch(sql, *params)
        return [approval_of(r) for r in rows[:limit]], len(rows) > limit

    # -- threads and events ------------------------------------------------------------------

    async def save_thread(self, conv: Conversation, actor: Actor) -> None:
        now = self.clock()
        await self.db.execute(
            """INSERT INTO clearance_threads (thread_id, conversation, last_actor, updated_at)
               VALUES (?, ?, ?, ?) ON CONFLICT (thread_id) DO UPDATE SET
               conversation = excluded.conversation, last_actor = excluded.last_actor,
               updated_at = excluded.updated_at""",
            conv.thread_id, conversation_json(conv), json.dumps(actor.to_record()), now,
        )

    async def thread(self, thread_id: str) -> tuple[Conversation, Actor] | None:
        rows = await self.db.fetch("SELECT * FROM clearance_threads WHERE thread_id = ?", thread_id)
        if not rows:
            return None
        return conversation_of(rows[0]["conversation"]), Actor.from_json(json.loads(rows[0]["last_actor"]))

    async def first_time(self, event_id: str) -> bool:
        """True the first time an inbound event id is seen (platform retries are dropped)."""
        count = await self.db.execute(
            "INSERT INTO clearance_events (event_id, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
            event_id, self.clock(),
        )
        return count == 1

    async def claim(self, key: str, hold: float) -> bool:
        """True when this caller may do the step named `key` now: nobody claimed it, or the
        last claim is older than `hold` seconds (its holder died before it finished)."""
        now = self.clock()
        rows = await self.db.fetch(
            """INSERT INTO clearance_events (event_id, seen_at) VALUES (?, ?)
               ON CONFLICT (event_id) DO UPDATE SET seen_at = excluded.seen_at
               WHERE clearance_events.seen_at < ? RETURNING event_id""", key, now, now - hold)
        return bool(rows)

    # -- audit -------------------------------------------------------------------------------

    async def audit(self, event: AuditEvent, approval: Approval | None = None, *, actor: Actor | None = None,
                    detail: dict[str, Any] | None = None, thread_id: str | None = None) -> None:
        await self._insert_audit(self.db, event, approval, actor, detail, thread_id=thread_id)
        self._notify(event, approval, detail or {})

    async def _insert_audit(self, db: Statements, event: AuditEvent,
                            approval: Approval | None, actor: Actor | None, detail: dict[str, Any] | None,
                            *, thread_id: str | None = None) -> None:
        await db.execute(
            "INSERT INTO clearance_audit (at, approval_id, thread_id, event, actor, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            self.clock(), approval.id if approval else None,
            approval.thread_id if approval else thread_id, event.value,
            actor.qualified if actor else None, json.dumps(self.redact(audit_detail(actor, detail)), default=str),
        )

    def _notify(self, event: AuditEvent, approval: Approval | None, detail: dict[str, Any]) -> None:
        for listener in self.listeners:
            try:
                listener(event, approval, detail)
            except Exception:  # a metrics slip must never break the flow it observes
                log.exception("audit listener failed")

    async def audit_trail(self, *, since: float = 0.0, limit: int = 10000) -> list[dict[str, Any]]:
        rows = await self.db.fetch(
            "SELECT * FROM clearance_audit WHERE at >= ? ORDER BY at, id LIMIT ?", since, limit)
        return [{**r, "detail": json.loads(r["detail"])} for r in rows]
