"""Edit before approving, and the preview on the card.

Guarantees kept here:
- an edit is a new revision of the same approval, made by a compare-and-set on the row's
  version while it is still pending: an edit racing a decision has exactly one winner, and a
  decision counted for one revision never executes another revision's arguments (the claim
  refuses a click whose revision moved on, see `stale`);
- the edited call is checked exactly like the model's call (JSON schema, the tool's refusals)
  and its rule is evaluated again: an edit can make a call need more approvers, but never
  lets it skip its card (a rule that would run it at once keeps the previous rule);
- approvals collected so far stay in the history, marked with their revision, and stop
  counting; the editor is a requester from then on (no approving your own edit unless the
  rule allows self-approval);
- a preview runs at most once per revision: its result is stored on the row before the card
  shows it, so a re-run of the graph or a second replica never runs it again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Mapping

from adapters.base import Actor, Decision, DecisionClick, DecisionResult, Outcome
from bot.approvals.models import Approval, EditEntry, RuleSnapshot, Status
from bot.approvals.policy import describe_decided, is_listed
from graph.preview import run_preview
from graph.tools import Rule, ToolSpec

if TYPE_CHECKING:
    from bot.flow.service import Service

log = logging.getLogger("clearance.edits")
MAX_EDIT_ATTEMPTS = 10
STALE = "This request was edited (now revision {revision}) after you saw it; check the new arguments and decide again."


def snapshot_of(rule: Rule, spec: ToolSpec | None) -> RuleSnapshot:
    """The rule as frozen into an approval."""
    return RuleSnapshot.of(rule, editable=spec.editable_names(rule) if spec else ())


def rule_snapshot(spec: ToolSpec | None, args: dict[str, Any]) -> RuleSnapshot:
    """The rule a gated call is recorded under (a tool no longer configured: anyone's approval)."""
    rule = spec.rule_for(args) if spec else None
    return snapshot_of(rule, spec) if rule else RuleSnapshot()


def may_edit(approval: Approval, actor: Actor, groups: frozenset[str]) -> str | None:
    """Why `actor` may not edit this card, or None. Who may edit: whoever may approve it."""
    rule = approval.rule
    if not rule.editable:
        return f"No argument of {approval.tool} can be edited under this rule."
    if not is_listed(actor, rule.approvers, groups):
        return f"You are not an approver for {approval.tool} under this rule, so you cannot edit it."
    if actor.qualified == approval.requester.qualified and not rule.allow_self_approval:
        return "You requested this call; an approver can edit it."
    return None


def coerce(spec: ToolSpec, name: str, value: Any) -> Any:
    """A submitted value as the schema wants it: forms send text, so `4` for an integer
    argument is read as JSON; anything that does not parse stays text (and fails the schema)."""
    if not isinstance(value, str):
        return value
    prop = spec.parameters.get("properties", {}).get(name)
    kinds = prop.get("type") if isinstance(prop, dict) else None
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "string" in kinds or kinds == [None]:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


@dataclass(frozen=True)
class EditPlan:
    """The outcome of checking one edit: refused (outcome, message, errors) or the new revision."""

    outcome: Outcome
    message: str
    errors: Mapping[str, str] = field(default_factory=dict)
    args: dict[str, Any] = field(default_factory=dict)
    rule: RuleSnapshot | None = None
    expires_at: float | None = None


def plan_edit(approval: Approval, spec: ToolSpec | None, actor: Actor, submitted: Mapping[str, Any], *,
              now: float, groups: frozenset[str] = frozenset()) -> EditPlan:
    """Pure: may `actor` change the call to `submitted` (merged into the current arguments),
    and if so, its new arguments and rule."""
    if approval.status.decided:
        return EditPlan(Outcome.ALREADY_DECIDED, describe_decided(approval))
    if approval.expires_at is not None and now >= approval.expires_at:
        return EditPlan(Outcome.EXPIRED, "This request has expired; ask the agent again if it is still needed.")
    if spec is None:
        return EditPlan(Outcome.INVALID, f"{approval.tool} is no longer configured; it cannot be edited.")
    if (why := may_edit(approval, actor, groups)) is not None:
        return EditPlan(Outcome.NOT_ALLOWED, why)
    editable = approval.rule.editable
    args = dict(approval.args)
    for name, raw in submitted.items():
        value = coerce(spec, name, raw)
        if value == "" and name not in spec.parameters.get("required", []):
            value = None  # an emptied optional field: the argument is left out
        if value == args.get(name):
            continue
        if name not in editable:
            return EditPlan(Outcome.NOT_ALLOWED, f"{name} cannot be edited (editable: {', '.join(editable)}).",
                            {name: "This argument cannot be edited."})
        if value is None:
            args.pop(name, None)
        else:
            args[name] = value
    if args == approval.args:
        return EditPlan(Outcome.INVALID, "Nothing changed.", {"": "Nothing changed."})
    problems = spec.validate_args(args)
    if problems:
        errors = {p.split(":", 1)[0]: p.split(":", 1)[1].strip() if ":" in p else p for p in problems}
        return EditPlan(Outcome.INVALID, "Invalid arguments: " + "; ".join(problems), errors)
    if refused := spec.refusal(args):
        return EditPlan(Outcome.INVALID, refused, {"": refused})
    rule = spec.rule_for(args)
    # An edit never lets a call skip its card: a rule that would run it at once keeps the old one.
    snapshot = snapshot_of(rule, spec) if rule is not None else approval.rule
    expires_at = approval.expires_at
    if rule is not None:
        expires_at = approval.created_at + rule.expires_after if rule.expires_after else None
    return EditPlan(Outcome.ACCEPTED, "", args=args, rule=snapshot, expires_at=expires_at)


def _changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    keys = dict.fromkeys([*old, *new])
    return ", ".join(f"{k}: {old.get(k)!s} → {new.get(k)!s}" for k in keys if old.get(k) != new.get(k))


class Edits:
    """The service's edit and preview steps (the service owns the flow; this owns the rules)."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def stale(self, approval: Approval) -> DecisionResult:
        """The refusal of a decision or edit made on a revision an edit has since replaced."""
        message = STALE.format(revision=approval.revision)
        return DecisionResult(Outcome.ALREADY_DECIDED, message, self.service.card(approval), {"": message})

    async def on_form(self, click: DecisionClick) -> DecisionResult:
        """Before an edit form opens: may this clicker edit this card, from where they clicked?
        ACCEPTED carries the current card (its editable arguments and their values)."""
        return await self.service.on_decision(replace(click, decision=Decision.EDIT, args=None))

    def form(self, approval: Approval, click: DecisionClick, groups: frozenset[str]) -> DecisionResult:
        card = self.service.card(approval)
        if approval.status is not Status.PENDING:
            return DecisionResult(Outcome.ALREADY_DECIDED, describe_decided(approval), card)
        if (why := may_edit(approval, click.actor, groups)) is not None:
            return DecisionResult(Outcome.NOT_ALLOWED, why, card)
        return DecisionResult(Outcome.ACCEPTED, "", card)

    async def apply(self, approval: Approval, click: DecisionClick, groups: frozenset[str]) -> DecisionResult:
        """Check and store one edit; the cards and the preview follow in the background."""
        if click.args is None:
            return self.form(approval, click, groups)
        service = self.service
        seen = click.revision if click.revision is not None else approval.revision
        spec = service.registry.get(approval.tool)
        for _ in range(MAX_EDIT_ATTEMPTS):
            if approval.revision != seen:
                return self.stale(approval)
            plan = plan_edit(approval, spec, click.actor, click.args or {}, now=service.clock(), groups=groups)
            if plan.outcome is not Outcome.ACCEPTED or plan.rule is None:
                errors = plan.errors or {"": plan.message}
                return DecisionResult(plan.outcome, plan.message, service.card(approval), errors)
            entry = EditEntry(actor=click.actor, at=service.clock(), revision=approval.revision + 1,
                              old=dict(approval.args), new=plan.args)
            after = await service.ledger.edit(approval, args=plan.args, rule=plan.rule,
                                              expires_at=plan.expires_at, edit=entry)
            if after is not None:
                service.background.spawn(self.after_edit(after))
                message = (f"Edited ({_changes(entry.old, entry.new)}): revision {after.revision}; "
                           "earlier approvals no longer count.")
                return DecisionResult(Outcome.ACCEPTED, message, service.card(after))
            approval = await service.ledger.get(approval.id) or approval
        return DecisionResult(Outcome.ALREADY_DECIDED, "Too many concurrent changes; try again.")

    async def after_edit(self, approval: Approval) -> None:
        """Every copy shows the new revision at once, then again with its preview."""
        await self.service._update_cards(approval)
        previewed = await self.with_preview(approval)
        if previewed is not approval:
            await self.service._update_cards(previewed)

    async def with_preview(self, approval: Approval) -> Approval:
        """The approval with its current revision's preview (run now if need be). A preview
        that cannot even be stored leaves the card without one rather than unposted."""
        try:
            return await self.ensure_preview(approval) or approval
        except Exception:
            log.exception("the preview of %s failed", approval.id)
            return approval

    async def ensure_preview(self, approval: Approval) -> Approval | None:
        """Run and store the preview of the approval's current revision if the tool has one
        and it is not stored yet; the row as it then stands, or None when nothing was run."""
        spec = self.service.registry.get(approval.tool)
        if spec is None or spec.preview is None or approval.preview_revision >= approval.revision:
            return None
        result = await run_preview(spec, dict(approval.args), key=approval.id)
        if result is None:
            return None
        text = self.service.redact(result.text)
        stored = await self.service.ledger.set_preview(approval.id, approval.revision, text=text, ok=result.ok)
        if stored is None:  # edited meanwhile, or another process stored it first
            return await self.service.ledger.get(approval.id)
        return stored
