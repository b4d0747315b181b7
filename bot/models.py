"""The approval record: one row of `clearance_approvals`, and its public JSON."""

from __future__ import annotations

import datetime as dt
import enum
import re
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

from adapters.base import Actor, Conversation

APPROVAL_ID = re.compile(r"^apv_[A-Za-z0-9_-]{22}$")


def new_approval_id() -> str:
    return "apv_" + secrets.token_urlsafe(16)  # 128 bits: unguessable


class Status(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"  # decided; waiting to execute, or for an external worker
    REJECTED = "rejected"
    EXPIRED = "expired"
    EXECUTING = "executing"
    DONE = "done"
    FAILED = "failed"

    @property
    def decided(self) -> bool:
        return self is not Status.PENDING

    @property
    def has_outcome(self) -> bool:
        """Final for the run: the graph can be resumed with it."""
        return self in (Status.REJECTED, Status.EXPIRED, Status.DONE, Status.FAILED)


@dataclass(frozen=True)
class DecisionEntry:
    actor: Actor
    decision: str  # approve | reject | expire
    at: float
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "by": self.actor.to_json(),
            "decision": self.decision,
            "at": iso(self.at),
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DecisionEntry:
        at = data.get("at")
        return cls(
            actor=Actor.from_json(data.get("by") or {}),
            decision=str(data.get("decision", "")),
            at=parse_iso(at) if isinstance(at, str) else float(at or 0),
            reason=str(data.get("reason") or ""),
        )


@dataclass(frozen=True)
class Approval:
    id: str
    thread_id: str
    interrupt_id: str
    tool_call_id: str
    tool: str
    args: dict[str, Any]
    requester: Actor
    rule: dict[str, Any]
    conversation: Conversation
    status: Status = Status.PENDING
    decisions: tuple[DecisionEntry, ...] = ()
    cards: dict[str, Any] = field(default_factory=dict)
    result: str | None = None
    result_status: str | None = None
    created_at: float = 0.0
    expires_at: float | None = None
    updated_at: float = 0.0
    lease_until: float | None = None
    resumed_at: float | None = None
    seq: int = 0
    version: int = 0
    external: bool = False

    def with_(self, **changes: Any) -> Approval:
        return replace(self, **changes)

    @property
    def approvers(self) -> tuple[Actor, ...]:
        seen: dict[str, Actor] = {}
        for d in self.decisions:
            if d.decision == "approve":
                seen.setdefault(d.actor.qualified, d.actor)
        return tuple(seen.values())

    @property
    def deciders(self) -> tuple[Actor, ...]:
        """Who made the final call: the rejecter, or every approver."""
        final = [d for d in self.decisions if d.decision in ("reject", "expire")]
        return (final[-1].actor,) if final else self.approvers

    @property
    def reason(self) -> str:
        final = [d for d in self.decisions if d.decision in ("reject", "expire")]
        return final[-1].reason if final else ""

    def resume_value(self) -> dict[str, Any]:
        """The DESIGN section 8 resume value for this approval's outcome."""
        decision = {Status.REJECTED: "reject", Status.EXPIRED: "expire"}.get(self.status, "approve")
        value: dict[str, Any] = {
            "type": "tool-call",
            "tool_call_id": self.tool_call_id,
            "decision": decision,
            "by": [a.to_json() for a in self.deciders],
            "reason": self.reason,
        }
        if decision == "approve":
            value["content"] = self.result or ""
            value["status"] = "error" if self.status is Status.FAILED else "ok"
        return value

    def to_public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "thread_id": self.thread_id,
            "tool": self.tool,
            "args": self.args,
            "status": self.status.value,
            "requested_by": self.requester.to_json(),
            "rule": self.rule,
            "decisions": [d.to_json() for d in self.decisions],
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at) if self.expires_at else None,
            "result": self.result,
        }


def iso(ts: float | None) -> str:
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds")


def parse_iso(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()
