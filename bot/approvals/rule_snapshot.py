"""The rule an approval was requested under, frozen with it, and its stored JSON.

Kept apart from the approval record so that reading a stored rule needs neither the chat
contract nor the tools' schema machinery (`clearance pending` normalizes rules with it).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Mapping

from bot.approvals.ids import ApproverId, approver_ids, dm_platforms

if TYPE_CHECKING:  # only named in annotations
    from graph.tools import Rule


@dataclass(frozen=True)
class EscalationStep:
    after: float
    approvers: tuple[str, ...]
    notify: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"after": self.after, "approvers": list(self.approvers), "notify": list(self.notify)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EscalationStep:
        return cls(float(data.get("after") or 0), _strings(data.get("approvers")), _strings(data.get("notify")))


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


@dataclass(frozen=True)
class StepUpRule:
    """A rule's step-up, frozen with the approval."""

    max_age: int = 0
    acr_values: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"max_age": self.max_age, "acr_values": list(self.acr_values)}

    @classmethod
    def from_json(cls, data: Any) -> StepUpRule | None:
        if not isinstance(data, Mapping):
            return None
        return cls(int(data.get("max_age") or 0), _strings(data.get("acr_values")))


@dataclass(frozen=True)
class RuleSnapshot:
    """The rule that applied when the call was requested, frozen with the approval so a
    later change of tools.yml never changes who may decide a card already posted."""

    text: str = "approval required"
    approvers: tuple[str, ...] = ("*",)
    quorum: int = 1
    allow_self_approval: bool = False
    confirm: bool = False
    expires_after: float | None = None
    when: Mapping[str, Any] = field(default_factory=dict)
    editable: tuple[str, ...] = ()  # arguments an approver may change before approving
    notify: tuple[str, ...] = ()  # where copies go: slack:channel:C…, slack:dm, teams:dm
    remind_every: float | None = None
    escalate: tuple[EscalationStep, ...] = ()
    # Approvers added by escalation steps already taken (also listed in `approvers`, which is
    # what decides; kept apart so the record says who was added later, and by which step).
    escalated_approvers: tuple[str, ...] = ()
    step_up: StepUpRule | None = None  # a fresh identity-provider login before an approval counts

    @classmethod
    def of(cls, rule: Rule, *, editable: tuple[str, ...] = ()) -> RuleSnapshot:
        """The rule as frozen into an approval (`editable`: the argument names it lets an
        approver change, resolved against the tool's parameters)."""
        return cls(
            text=rule.describe(), approvers=tuple(rule.approvers), quorum=rule.quorum,
            allow_self_approval=rule.allow_self_approval, confirm=rule.confirm,
            expires_after=rule.expires_after, when=dict(rule.when), notify=tuple(rule.notify),
            remind_every=rule.remind_every,
            escalate=tuple(EscalationStep(s.after, tuple(s.approvers), tuple(s.notify)) for s in rule.escalate),
            editable=editable,
            step_up=StepUpRule(config.max_age, tuple(config.acr_values)) if (config := rule.step_up_config) else None,
        )

    @property
    def group_approvers(self) -> tuple[ApproverId, ...]:
        return tuple(a for a in approver_ids(self.approvers) if a.group)

    @property
    def dm_platforms(self) -> tuple[str, ...]:
        """The platforms whose approvers this rule reaches by direct message."""
        return dm_platforms(self.notify)

    def escalated(self, step: EscalationStep) -> RuleSnapshot:
        """This rule after `step`: its approvers may decide too, and its notify targets apply."""
        added = tuple(a for a in step.approvers if a not in self.approvers)
        return replace(self, approvers=self.approvers + added,
                       escalated_approvers=self.escalated_approvers + added,
                       notify=self.notify + tuple(n for n in step.notify if n not in self.notify))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "text": self.text, "approvers": list(self.approvers), "quorum": self.quorum,
            "allow_self_approval": self.allow_self_approval, "confirm": self.confirm,
            "expires_after": self.expires_after, "when": dict(self.when), "editable": list(self.editable),
        }
        if self.step_up is not None:
            out["step_up"] = self.step_up.to_json()
        if self.notify or self.remind_every or self.escalate:
            out.update(notify=list(self.notify), remind_every=self.remind_every,
                       escalate=[s.to_json() for s in self.escalate],
                       escalated_approvers=list(self.escalated_approvers))
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuleSnapshot:
        approvers = data.get("approvers")
        expires = data.get("expires_after")
        when = data.get("when")
        editable = data.get("editable")
        return cls(
            text=str(data.get("text") or "approval required"),
            approvers=tuple(str(a) for a in approvers) if isinstance(approvers, list) else ("*",),
            quorum=max(1, int(data.get("quorum") or 1)),
            allow_self_approval=bool(data.get("allow_self_approval", False)),
            confirm=bool(data.get("confirm", False)),
            expires_after=float(expires) if isinstance(expires, (int, float)) else None,
            when=dict(when) if isinstance(when, dict) else {},
            editable=tuple(str(e) for e in editable) if isinstance(editable, list) else (),
            notify=_strings(data.get("notify")),
            remind_every=float(remind) if isinstance(remind := data.get("remind_every"), (int, float)) else None,
            escalate=tuple(EscalationStep.from_json(s) for s in data.get("escalate") or [] if isinstance(s, dict)),
            escalated_approvers=_strings(data.get("escalated_approvers")),
            step_up=StepUpRule.from_json(data.get("step_up")),
        )
