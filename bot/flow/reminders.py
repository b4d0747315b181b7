"""Reminders and escalation, one sweeper pass at a time.

Each step is a compare-and-set in the ledger before anything is sent (`claim_reminder`,
`claim_escalation`), so a step happens once whatever the number of replicas, and a restart
neither repeats a step nor loses the next one. A reminder's mark is the time it was sent:
after downtime there is one catch-up reminder, not one per missed interval. Escalation steps
are taken in order; each widens the approval's own rule snapshot, which is what decides.
"""

from __future__ import annotations

import logging

from bot.approvals.models import Approval, AuditEvent
from bot.flow.outbox import Outbox
from bot.flow.routing import Router
from bot.ledger import steps as ledger_steps
from bot.ledger.ledger import Ledger

log = logging.getLogger("clearance.reminders")


class Reminders:
    def __init__(self, *, ledger: Ledger, router: Router, outbox: Outbox) -> None:
        self.ledger = ledger
        self.router = router
        self.outbox = outbox

    async def sweep(self, now: float) -> int:
        """Take every reminder and escalation step due at `now`; returns how many were taken."""
        taken = 0
        for approval in await ledger_steps.reaching(self.ledger):
            if approval.expires_at is not None and now >= approval.expires_at:
                continue  # expiry ends it; the expiry round of the sweep takes it
            try:
                approval, steps = await self._escalate(approval, now)
                taken += steps
                taken += await self._remind(approval, now)
            except Exception:
                log.exception("reminding or escalating %s failed", approval.id)
        return taken

    async def _escalate(self, approval: Approval, now: float) -> tuple[Approval, int]:
        steps = 0
        while approval.escalated_steps < len(approval.rule.escalate):
            index = approval.escalated_steps
            step = approval.rule.escalate[index]
            if now < approval.created_at + step.after:
                break
            widened = approval.rule.escalated(step)
            after = await ledger_steps.claim_escalation(self.ledger, approval, index, widened)
            if after is None:
                break  # taken by another sweeper, or decided meanwhile
            added = tuple(a for a in widened.approvers if a not in approval.rule.approvers)
            await self.ledger.audit(AuditEvent.ESCALATED, after, detail={
                "step": index + 1, "after": step.after, "approvers": list(added)})
            await self.router.escalated(after, added, step.notify)
            await self.outbox.update_cards(after)  # Teams: the new approvers now see the buttons
            approval, steps = after, steps + 1
        return approval, steps

    async def _remind(self, approval: Approval, now: float) -> int:
        every = approval.rule.remind_every
        if not every:
            return 0
        claimed = await ledger_steps.claim_reminder(self.ledger, approval, now, every)
        if claimed is None:
            return 0
        told = await self.router.remind(claimed)
        await self.ledger.audit(AuditEvent.REMINDED, claimed, detail={"to": told})
        return 1
