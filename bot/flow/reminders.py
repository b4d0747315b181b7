"""Reminders and escalation, one sweeper pass at a time.

Each step is a compare-and-set in the ledger before anything is sent (`claim_reminder`,
`claim_escalation`), so a step happens once whatever the number of replicas, and a restart
neither repeats a step nor loses the next one. A reminder's mark is the time it was sent:
after downtime there is one catch-up reminder, not one per missed interval. Escalation steps
are taken in order; each widens the approval's own rule snapshot, which is what decides.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.approvals.models import Approval, AuditEvent
from bot.ledger import steps as ledger_steps

if TYPE_CHECKING:
    from bot.flow.service import Service

log = logging.getLogger("clearance.reminders")


async def sweep(service: Service, now: float) -> int:
    """Take every reminder and escalation step due at `now`; returns how many were taken."""
    taken = 0
    for approval in await ledger_steps.reaching(service.ledger):
        if approval.expires_at is not None and now >= approval.expires_at:
            continue  # expiry ends it; the expiry round of the sweep takes it
        try:
            approval, steps = await _escalate(service, approval, now)
            taken += steps
            taken += await _remind(service, approval, now)
        except Exception:
            log.exception("reminding or escalating %s failed", approval.id)
    return taken


async def _escalate(service: Service, approval: Approval, now: float) -> tuple[Approval, int]:
    steps = 0
    while approval.escalated_steps < len(approval.rule.escalate):
        index = approval.escalated_steps
        step = approval.rule.escalate[index]
        if now < approval.created_at + step.after:
            break
        widened = approval.rule.escalated(step)
        after = await ledger_steps.claim_escalation(service.ledger, approval, index, widened)
        if after is None:
            break  # taken by another sweeper, or decided meanwhile
        added = tuple(a for a in widened.approvers if a not in approval.rule.approvers)
        await service.ledger.audit(AuditEvent.ESCALATED, after, detail={
            "step": index + 1, "after": step.after, "approvers": list(added)})
        await service.router.escalated(after, added, step.notify)
        await service._update_cards(after)  # Teams: the new approvers now see the buttons
        approval, steps = after, steps + 1
    return approval, steps


async def _remind(service: Service, approval: Approval, now: float) -> int:
    every = approval.rule.remind_every
    if not every:
        return 0
    claimed = await ledger_steps.claim_reminder(service.ledger, approval, now, every)
    if claimed is None:
        return 0
    told = await service.router.remind(claimed)
    await service.ledger.audit(AuditEvent.REMINDED, claimed, detail={"to": told})
    return 1
