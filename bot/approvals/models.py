"""The approval record: one row of `clearance_approvals`, and its public JSON."""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass, replace
from typing import Any, Mapping

from adapters.base import Actor, Conversation, Decision, MessageRef, Place
from bot.approvals.rule_snapshot import EscalationStep as EscalationStep  # re-exported: the approval record's parts
from bot.approvals.rule_snapshot import RuleSnapshot
from bot.approvals.times import iso, parse_iso
from graph.contract import (
    APPROVE,
    EDIT,
    REJECT,
    RESPOND,
    TOOL_CALL_DECISIONS,
    Decider,
    Dialect,
    ResumeValue,
    hitl_approve,
    hitl_edit,
    hitl_reject,
    hitl_respond,
)

APPROVAL_ID = re.compile(r"^apv_[A-Za-z0-9_-]{22}$")


def new_approval_id() -> str:
    return "apv_" + secrets.token_urlsafe(16)  # 128 bits: unguessable


class Status(enum.StrEnum):
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


class DecisionKind(enum.StrEnum):
    """What one entry of an approval's decision history says: a person's approve, reject or
    reply in the tool's place (the words of a click), or the clock's expiry."""

    APPROVE = Decision.APPROVE.value
    REJECT = Decision.REJECT.value
    RESPOND = Decision.RESPOND.value
    EXPIRE = "expire"


class ResultStatus(enum.StrEnum):
    """How an executed call ended, as the run is told."""

    OK = "ok"
    ERROR = "error"
    UNKNOWN = "unknown"  # its runner vanished: nobody knows whether it ran


class AuditEvent(enum.StrEnum):
    """One row kind of the audit trail (the `event` column)."""

    REQUESTED = "requested"
    APPROVE = DecisionKind.APPROVE.value
    REJECT = DecisionKind.REJECT.value
    RESPOND = DecisionKind.RESPOND.value
    EXPIRE = DecisionKind.EXPIRE.value
    EXECUTING = "executing"
    DONE = "done"
    FAILED = "failed"
    RESUMED = "resumed"
    REFUSED = "refused"  # a click from a place where the bot never posted that card
    EDITED = "edited"  # an approver changed the arguments: a new revision of the card
    PREVIEWED = "previewed"  # the tool's preview ran for one revision
    REMINDED = "reminded"  # undecided approvers were reminded (one row per reminder)
    ESCALATED = "escalated"  # an escalation step widened the approvers (one row per step)
    LATE_RESULT = "late_result"  # a result that arrived after "outcome unknown"


@dataclass(frozen=True)
class DecisionEntry:
    actor: Actor
    decision: DecisionKind
    at: float
    reason: str = ""
    revision: int = 1  # the card revision decided on; only the current one's decisions count
    step_up: Mapping[str, Any] | None = None  # the fresh login it was made with: iss, sub, auth_time, acr

    def to_json(self) -> dict[str, Any]:
        out = {
            "by": self.actor.to_record(),
            "decision": self.decision.value,
            "at": iso(self.at),
            "reason": self.reason,
            "revision": self.revision,
        }
        if self.step_up is not None:
            out["step_up"] = dict(self.step_up)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DecisionEntry:
        at = data.get("at")
        return cls(
            actor=Actor.from_json(data.get("by") or {}),
            decision=DecisionKind(str(data.get("decision", ""))),
            at=parse_iso(at) if isinstance(at, str) else float(at or 0),
            reason=str(data.get("reason") or ""),
            revision=int(data.get("revision") or 1),
            step_up=dict(step) if isinstance(step := data.get("step_up"), Mapping) else None,
        )


@dataclass(frozen=True)
class EditEntry:
    """One accepted edit: revision `revision` - 1 became `revision`."""

    actor: Actor
    at: float
    revision: int
    old: dict[str, Any]
    new: dict[str, Any]

    @property
    def changes(self) -> tuple[tuple[str, Any, Any], ...]:
        keys = dict.fromkeys([*self.old, *self.new])
        return tuple((k, self.old.get(k), self.new.get(k)) for k in keys if self.old.get(k) != self.new.get(k))

    def to_json(self) -> dict[str, Any]:
        return {"by": self.actor.to_record(), "at": iso(self.at), "revision": self.revision,
                "old": self.old, "new": self.new}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EditEntry:
        at = data.get("at")
        old, new = data.get("old"), data.get("new")
        return cls(actor=Actor.from_json(data.get("by") or {}),
                   at=parse_iso(at) if isinstance(at, str) else float(at or 0),
                   revision=int(data.get("revision") or 2),
                   old=dict(old) if isinstance(old, dict) else {}, new=dict(new) if isinstance(new, dict) else {})


@dataclass(frozen=True)
class Asked:
    """How the agent asked for the call: the interrupt's dialect, the card's place in a
    batched interrupt (one interrupt, one card per call, one resume once all are decided),
    the decisions the agent accepts, its description, and who does the work once approved."""

    dialect: Dialect = Dialect.TOOL_CALL
    batch_of: str | None = None  # the graph's interrupt id, shared by the cards of a batch
    part: int = 0  # this card's index in its batch
    parts: int = 1
    allowed: tuple[str, ...] = TOOL_CALL_DECISIONS
    description: str = ""
    # The graph's own tool runs the call once approved (a user's graph, LangChain's
    # middleware): the decision is the outcome, nothing executes here.
    runs_in_graph: bool = False

    def accepts(self, decision: str) -> bool:
        return decision in self.allowed


class Undelivered(enum.IntFlag):
    """What of an approval a chat platform failed to show; the sweeper retries it."""

    CARD = 1  # the card in the requesting thread was never posted
    UPDATE = 2  # at least one copy does not show the current state


@dataclass(frozen=True)
class CardCopy:
    """One message the bot posted for an approval: the card in the requesting thread, or a
    copy elsewhere. Its place is what a click must come from to count."""

    ref: MessageRef
    conversation: Conversation | None = None  # None: the approval's own thread

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"platform": self.ref.platform, "data": dict(self.ref.data)}
        if self.ref.place is not None:
            out["place"] = self.ref.place.to_json()
        if self.conversation is not None:
            c = self.conversation
            out["conversation"] = {"platform": c.platform, "thread_id": c.thread_id, "data": dict(c.data)}
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CardCopy:
        place = data.get("place")
        conv = data.get("conversation")
        return cls(
            MessageRef(str(data.get("platform", "")), dict(data.get("data") or {}),
                       Place.from_json(place) if isinstance(place, Mapping) else None),
            Conversation(str(conv.get("platform", "")), str(conv.get("thread_id", "")), dict(conv.get("data") or {}))
            if isinstance(conv, Mapping) else None,
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
    rule: RuleSnapshot
    conversation: Conversation
    status: Status = Status.PENDING
    decisions: tuple[DecisionEntry, ...] = ()
    cards: tuple[CardCopy, ...] = ()
    result: str | None = None
    result_status: ResultStatus | None = None
    created_at: float = 0.0
    expires_at: float | None = None
    updated_at: float = 0.0
    lease_until: float | None = None
    resumed_at: float | None = None  # the outcome reached the run (resumed, or reported if detached)
    detached_at: float | None = None  # answered with a deferral so the thread could move on
    seq: int = 0
    version: int = 0
    external: bool = False
    revision: int = 1  # one more per accepted edit
    edits: tuple[EditEntry, ...] = ()
    preview: str | None = None  # the preview output of `preview_revision` (redacted)
    preview_ok: bool = True
    preview_revision: int = 0  # 0: no preview stored
    reminded_at: float | None = None  # the last reminder (the sweeper's cadence starts here)
    undelivered: Undelivered = Undelivered(0)  # what a chat platform refused to post or update
    escalated_steps: int = 0  # escalation steps taken, in order
    asked: Asked = Asked()

    @property
    def graph_interrupt_id(self) -> str:
        """The interrupt this card's outcome resumes (a batch's cards share one)."""
        return self.asked.batch_of or self.interrupt_id

    @property
    def has_outcome(self) -> bool:
        """Final for the run: the graph can be resumed with it. An approval the graph's own
        tool carries out is final once approved."""
        return self.status.has_outcome or (self.status is Status.APPROVED and self.asked.runs_in_graph)

    @property
    def executes_here(self) -> bool:
        """Clearance runs the approved call itself (not a worker, not the graph)."""
        return not self.external and not self.asked.runs_in_graph

    def with_(self, **changes: Any) -> Approval:
        return replace(self, **changes)

    @property
    def places(self) -> tuple[Place, ...]:
        return tuple(c.ref.place for c in self.cards if c.ref.place is not None)

    @property
    def approvers(self) -> tuple[Actor, ...]:
        """Distinct approvers, one per credential (see `Actor.approver_key`)."""
        seen: dict[str, Actor] = {}
        for d in self.decisions:
            # Approvals of an earlier revision approved other arguments: they stay in the
            # history but no longer count.
            if d.decision is DecisionKind.APPROVE and d.revision == self.revision:
                seen.setdefault(d.actor.approver_key, d.actor)
        return tuple(seen.values())

    @property
    def requesters(self) -> tuple[Actor, ...]:
        """Who asked for the call as it now stands: the requester, and everyone who edited it."""
        return (self.requester, *(e.actor for e in self.edits))

    @property
    def current_preview(self) -> str | None:
        return self.preview if self.preview_revision == self.revision else None

    @property
    def _final(self) -> DecisionEntry | None:
        final = [d for d in self.decisions if d.decision is not DecisionKind.APPROVE]
        return final[-1] if final else None

    @property
    def deciders(self) -> tuple[Actor, ...]:
        """Who made the final call: the rejecter, or every approver."""
        final = self._final
        return (final.actor,) if final else self.approvers

    @property
    def reason(self) -> str:
        final = self._final
        return final.reason if final else ""

    def resume_value(self) -> ResumeValue:
        """The value that resumes this approval's interrupt with its outcome."""
        by: list[Decider] = [{"platform": a.platform, "id": a.id, "name": a.name} for a in self.deciders]
        value: ResumeValue
        if self.status is Status.REJECTED or self.status is Status.EXPIRED:
            value = {"type": "tool-call", "tool_call_id": self.tool_call_id,
                     "decision": "reject" if self.status is Status.REJECTED else "expire",
                     "by": by, "reason": self.reason}
        elif self.asked.runs_in_graph:  # the decision only: the graph's own tool does the work
            value = {"type": "tool-call", "tool_call_id": self.tool_call_id, "decision": "approve",
                     "by": by, "reason": self.reason}
        else:
            value = {"type": "tool-call", "tool_call_id": self.tool_call_id, "decision": "approve",
                     "by": by, "reason": self.reason, "content": self.result or "",
                     "status": "error" if self.status is Status.FAILED else "ok"}
        if self.edits:
            value["args"] = dict(self.args)
            value["edited_by"] = [{"platform": e.actor.platform, "id": e.actor.id, "name": e.actor.name}
                                  for e in self.edits]
        return value

    @property
    def answered(self) -> bool:
        """Someone replied in the tool's place: the call did not run, the reply is its result."""
        final = self._final
        return final is not None and final.decision is DecisionKind.RESPOND

    def middleware_decision(self) -> dict[str, Any] | None:
        """This card's outcome as LangChain's middleware reads a decision: who rejected and
        why, an expiry as a rejection that says so, an edit with the requested tool's name.
        None when the agent accepts no decision that says it (it allows no rejection, say)."""
        who = ", ".join(a.display for a in self.deciders) or "someone"
        if self.status is Status.REJECTED:
            message = f"Rejected by {who}" + (f": {self.reason}" if self.reason else " (no reason given)")
        elif self.status is Status.EXPIRED:
            message = "Expired: nobody decided in time, so it was not run."
        elif self.answered:
            return hitl_respond(self.result or "") if self.asked.accepts(RESPOND) else None
        elif self.edits:
            return hitl_edit(self.tool, self.args) if self.asked.accepts(EDIT) else None
        else:
            return hitl_approve() if self.asked.accepts(APPROVE) else None
        if self.asked.accepts(REJECT):
            return hitl_reject(message)
        return hitl_respond(message) if self.asked.accepts(RESPOND) else None

    def to_public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "thread_id": self.thread_id,
            "tool": self.tool,
            "args": self.args,
            "status": self.status.value,
            "requested_by": self.requester.to_json(),
            "rule": self.rule.to_json(),
            "decisions": [d.to_json() for d in self.decisions],
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at) if self.expires_at else None,
            "result": self.result,
            "revision": self.revision,
        }
