"""A state change and its audit row commit together or not at all, on both databases: an
approval never moves without the trail saying so, and a failed audit write leaves the
approval where it was (so the claim can be tried again) instead of half-done."""

from __future__ import annotations

import time

import pytest

from adapters.base import Actor
from bot.approvals.models import AuditEvent, DecisionEntry, DecisionKind, Status
from tests.conftest import console_message, runtime_for

SQLITE_TRIGGER = """CREATE TRIGGER refuse_audit BEFORE INSERT ON clearance_audit
    WHEN NEW.event IN ('executing', 'resumed') BEGIN SELECT RAISE(ABORT, 'audit refused'); END"""
PG_TRIGGER = [
    """CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN IF NEW.event IN ('executing', 'resumed') THEN RAISE EXCEPTION 'audit refused'; END IF;
       RETURN NEW; END $$""",
    """CREATE TRIGGER refuse_audit BEFORE INSERT ON clearance_audit
       FOR EACH ROW EXECUTE FUNCTION refuse_audit()""",
]


async def _refuse_some_audit_rows(rt) -> None:  # type: ignore[no-untyped-def]
    statements = [SQLITE_TRIGGER] if rt.ledger.db.dialect == "sqlite" else PG_TRIGGER
    for sql in statements:
        await rt.ledger.db.execute(sql)


async def _drop(rt) -> None:  # type: ignore[no-untyped-def]
    await rt.ledger.db.execute("DROP TRIGGER refuse_audit" + ("" if rt.ledger.db.dialect == "sqlite"
                                                              else " ON clearance_audit"))


async def _events(rt, approval_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [r["event"] for r in await rt.ledger.audit_trail() if r["approval_id"] == approval_id]


async def test_a_claim_whose_audit_row_fails_is_not_made(database_url) -> None:
    async with runtime_for(database_url) as rt:
        await rt.service.on_message(console_message("restart api in prod"))
        (approval,) = await rt.ledger.approvals(status=["pending"])
        dana = DecisionEntry(Actor("console", "dana", "dana"), DecisionKind.APPROVE, time.time())
        decided = await rt.ledger.decide(approval, Status.APPROVED, (dana,))
        assert decided is not None
        await _refuse_some_audit_rows(rt)
        with pytest.raises(Exception, match="audit refused"):
            await rt.ledger.start_execution(approval.id, 30)
        after = await rt.ledger.get(approval.id)
        assert after is not None and after.status is Status.APPROVED and after.lease_until is None
        assert AuditEvent.EXECUTING.value not in await _events(rt, approval.id)

        with pytest.raises(Exception, match="audit refused"):
            await rt.ledger.resumed(decided)
        after = await rt.ledger.get(approval.id)
        assert after is not None and after.resumed_at is None

        # The connection is usable afterwards, and the claim can be made once the audit works.
        await _drop(rt)
        claimed = await rt.ledger.start_execution(approval.id, 30)
        assert claimed is not None and claimed.status is Status.EXECUTING
        assert await rt.ledger.start_execution(approval.id, 30) is None
        assert (await _events(rt, approval.id))[-1] == AuditEvent.EXECUTING.value
