"""Approval rules of tools.yml: who must approve a call, when, how many, and who is told.

`Rule.matches` is pure: the graph calls it before `interrupt()`, where it re-runs on every
resume.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from graph.values import parse_duration

# An approver is `*` or `<platform>:<id>`. Which platforms exist is the bot's knowledge, not
# the graph's: the bot passes the names in as validation context, and without one (tests,
# tools used outside the bot) these are assumed.
QUALIFIED_ID = re.compile(r"([a-z][a-z0-9_-]*):(.+)")
DEFAULT_PLATFORMS = frozenset({"slack", "teams", "api", "console"})


class ConfigModel(BaseModel):
    """A tools.yml section: unknown keys are errors, and loaded configuration never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# Where copies of a card go besides the requesting thread: a Slack channel, or a direct
# message to each listed approver on that platform.
NOTIFY_TARGET = re.compile(r"^(?:slack:channel:[A-Z0-9][A-Za-z0-9_-]{0,63}|slack:dm|teams:dm)$")


def _check_approvers(value: list[str], info: ValidationInfo) -> list[str]:
    given = info.context.get("platforms") if isinstance(info.context, dict) else None
    platforms = DEFAULT_PLATFORMS if given is None else frozenset(given)
    for item in value:
        match = QUALIFIED_ID.fullmatch(item)
        if item != "*" and (match is None or match.group(1) not in platforms):
            raise ValueError(
                f"approver {item!r} must be '*' or platform-qualified <platform>:<id>, "
                f"platform one of {', '.join(sorted(platforms))} "
                "(e.g. slack:U…, slack:group:S…, teams:<aad id>, api:<name>, console:<user>)"
            )
    return value


def _check_notify(value: list[str]) -> list[str]:
    for item in value:
        if not NOTIFY_TARGET.match(item):
            raise ValueError(f"notify target {item!r} must be slack:channel:C…, slack:dm or teams:dm")
    return value


class _Reaching(ConfigModel):
    """Who may decide and where they are told: checked the same way in a rule and in each of
    its escalation steps."""

    @field_validator("approvers", check_fields=False)
    @classmethod
    def _qualified(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return _check_approvers(value, info)

    @field_validator("notify", check_fields=False)
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        return _check_notify(value)


class Escalation(_Reaching):
    """After `after` seconds without a decision, `approvers` may decide too, and are told."""

    after: float
    approvers: list[str] = Field(min_length=1)
    notify: list[str] = Field(default_factory=list)

    @field_validator("after", mode="before")
    @classmethod
    def _after(cls, value: Any) -> float:
        return parse_duration(value)


class StepUp(ConfigModel):
    """A fresh login at the identity provider before an approval counts: at most `max_age`
    seconds old (0: made for this approval), with one of `acr_values` when given (MFA)."""

    max_age: int = Field(default=0, ge=0, le=86400)
    acr_values: list[str] = Field(default_factory=list)


class Rule(_Reaching):
    when: dict[str, Any] = Field(default_factory=dict)
    required: bool = True
    approvers: list[str] = Field(default_factory=lambda: ["*"])
    quorum: int = Field(default=1, ge=1, le=20)
    allow_self_approval: bool = False
    expires_after: float | None = None
    confirm: bool = False
    # Arguments an approver may change before approving: a list of names, or true for all.
    editable: list[str] | bool = False
    notify: list[str] = Field(default_factory=list)  # where copies of the card go
    remind_every: float | None = None  # re-notify undecided approvers while pending
    escalate: list[Escalation] = Field(default_factory=list)
    step_up: bool | StepUp = False  # a fresh IdP login before an approval counts (true: StepUp())

    @property
    def step_up_config(self) -> StepUp | None:
        if self.step_up is True:
            return StepUp()
        return self.step_up if isinstance(self.step_up, StepUp) else None

    @field_validator("expires_after", "remind_every", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        return None if value is None else parse_duration(value)

    @field_validator("escalate")
    @classmethod
    def _ordered(cls, value: list[Escalation]) -> list[Escalation]:
        # Steps run in order, one at a time: a later step with an earlier delay would wait
        # for the one before it, which is not what the file says.
        if any(b.after < a.after for a, b in zip(value, value[1:], strict=False)):
            raise ValueError("escalate steps must be listed in order of their 'after'")
        return value

    @model_validator(mode="after")
    def _satisfiable(self) -> Rule:
        """A quorum larger than the people the rule can ever list is a card nobody can approve:
        an error now, not a card that expires at 3 a.m. A group or `*` can always supply more."""
        listed = {*self.approvers, *(a for step in self.escalate for a in step.approvers)}
        if self.required and "*" not in listed and not any(":group:" in a for a in listed) \
                and self.quorum > len(listed):
            raise ValueError(f"quorum {self.quorum} but only {len(listed)} approver{'s' if len(listed) != 1 else ''} "
                             "listed, escalation included (add approvers, a group or \"*\")")
        return self

    def matches(self, args: dict[str, Any]) -> bool:
        for key, expected in self.when.items():
            actual = args.get(key)
            if isinstance(expected, list):
                if actual not in expected:
                    return False
            elif actual != expected:
                return False
        return True

    def describe(self) -> str:
        if not self.required:
            return "no approval needed"
        cond = ", ".join(f"{k}={v}" for k, v in self.when.items()) or "always"
        who = "anyone" if "*" in self.approvers else ", ".join(self.approvers)
        parts = [f"when {cond}", f"{self.quorum} approval{'s' if self.quorum > 1 else ''}"]
        parts.append(f"by {who}")
        if not self.allow_self_approval:
            parts.append("not the requester")
        return "; ".join(parts)
