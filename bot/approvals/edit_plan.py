"""Edit before approving, as pure functions: who may edit a card, and what one edit makes of
an approval (its new arguments, rule and expiry), checked exactly like the model's call.

- the edited call is checked like the model's call (JSON schema, the tool's refusals) and its
  rule is evaluated again: an edit can make a call need more approvers, but never lets it
  skip its card (a rule that would run it at once keeps the previous rule);
- who may edit: whoever may approve the card, except its requester unless the rule allows
  self-approval.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from adapters.base import Actor, Outcome
from bot.approvals.models import Approval, RuleSnapshot
from bot.approvals.policy import describe_decided, is_listed
from graph.tools import Rule, ToolSpec

STALE = "This request was edited (now revision {revision}) after you saw it; check the new arguments and decide again."


def snapshot_of(rule: Rule, spec: ToolSpec | None) -> RuleSnapshot:
    """The rule as frozen into an approval."""
    if spec is not None:
        return RuleSnapshot.of(rule, editable=spec.editable_names(rule))
    return RuleSnapshot.of(rule, editable=tuple(rule.editable) if isinstance(rule.editable, list) else ())


def rule_snapshot(spec: ToolSpec | None, args: dict[str, Any], *,
                  defaults: list[Rule] | None = None) -> RuleSnapshot:
    """The rule a gated call is recorded under: its tool's first matching rule; for a tool
    with no entry, the first matching `defaults` rule (tools.yml's `default_approval:`). A
    call that reached a card never runs unreviewed: no rule, or one that would let it run at
    once, leaves it needing one approval by anyone but the requester."""
    if spec is not None:
        rule = spec.rule_for(args)
    else:
        rule = next((r for r in defaults or [] if r.matches(args)), None)
    return snapshot_of(rule, spec) if rule is not None and rule.required else RuleSnapshot()


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
