"""Edit before approving: storing an edit and showing it on every copy.

Guarantees kept here:
- an edit is a new revision of the same approval, made by a compare-and-set on the row's
  version while it is still pending: an edit racing a decision has exactly one winner, and a
  decision counted for one revision never executes another revision's arguments (the claim
  refuses a click whose revision moved on, see `stale`);
- what an edit may change, and the rule it leads to, is decided by the pure
  `bot.approvals.edit_plan`; approvals collected so far stay in the history, marked with
  their revision, and stop counting;
- the preview runs once per revision (bot/flow/previews.py), after every copy already shows
  the new arguments.
"""

from __future__ import annotations

from typing import Callable

from adapters.background import Background
from adapters.base import CardEdit, DecisionClick, DecisionResult, Outcome
from bot.approvals.edit_plan import STALE, may_edit, plan_edit
from bot.approvals.models import Approval, EditEntry, Status
from bot.approvals.policy import describe_decided
from bot.flow.outbox import Outbox
from bot.flow.previews import Previews
from bot.ledger.ledger import Ledger
from graph.tools import Registry

MAX_EDIT_ATTEMPTS = 10


def stale(approval: Approval, outbox: Outbox) -> DecisionResult:
    """The refusal of a decision or edit made on a revision an edit has since replaced."""
    message = STALE.format(revision=approval.revision)
    return DecisionResult(Outcome.ALREADY_DECIDED, message, outbox.card(approval), {"": message})


class Edits:
    def __init__(self, *, ledger: Ledger, registry: Registry, outbox: Outbox, previews: Previews,
                 clock: Callable[[], float], background: Background) -> None:
        self.ledger = ledger
        self.registry = registry
        self.outbox = outbox
        self.previews = previews
        self.clock = clock
        self.background = background

    def form(self, approval: Approval, click: DecisionClick, groups: frozenset[str]) -> DecisionResult:
        """Before an edit form opens: may this clicker edit this card? ACCEPTED carries the
        current card (its editable arguments and their values)."""
        card = self.outbox.card(approval)
        if approval.status is not Status.PENDING:
            return DecisionResult(Outcome.ALREADY_DECIDED, describe_decided(approval), card)
        if (why := may_edit(approval, click.actor, groups)) is not None:
            return DecisionResult(Outcome.NOT_ALLOWED, why, card)
        return DecisionResult(Outcome.ACCEPTED, "", card)

    async def apply(self, approval: Approval, click: DecisionClick, groups: frozenset[str]) -> DecisionResult:
        """Check and store one edit; the cards and the preview follow in the background."""
        if click.args is None:
            return self.form(approval, click, groups)
        seen = click.revision if click.revision is not None else approval.revision
        # A call the user's graph gated is checked against its rules even without an entry.
        spec = self.registry.rules_for(approval.tool) if approval.asked.runs_in_graph else \
            self.registry.get(approval.tool)
        for _ in range(MAX_EDIT_ATTEMPTS):
            if approval.revision != seen:
                return stale(approval, self.outbox)
            plan = plan_edit(approval, spec, click.actor, click.args or {}, now=self.clock(), groups=groups)
            if plan.outcome is not Outcome.ACCEPTED or plan.rule is None:
                errors = plan.errors or {"": plan.message}
                return DecisionResult(plan.outcome, plan.message, self.outbox.card(approval), errors)
            entry = EditEntry(actor=click.actor, at=self.clock(), revision=approval.revision + 1,
                              old=dict(approval.args), new=plan.args)
            after = await self.ledger.edit(approval, args=plan.args, rule=plan.rule,
                                           expires_at=plan.expires_at, edit=entry)
            if after is not None:
                self.background.spawn(self.after_edit(after))
                message = (f"Edited ({CardEdit(entry.actor, entry.changes).change_text}): revision "
                           f"{after.revision}; earlier approvals no longer count.")
                return DecisionResult(Outcome.ACCEPTED, message, self.outbox.card(after))
            approval = await self.ledger.get(approval.id) or approval
        return DecisionResult(Outcome.ALREADY_DECIDED, "Too many concurrent changes; try again.")

    async def after_edit(self, approval: Approval) -> None:
        """Every copy shows the new revision at once, then again with its preview."""
        await self.outbox.update_cards(approval)
        previewed = await self.previews.with_preview(approval)
        if previewed is not approval:
            await self.outbox.update_cards(previewed)
