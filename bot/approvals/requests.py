"""From what a graph asks to what answers it, as pure functions: the approval records an
interrupt becomes (one per call; a batched interrupt's cards share it), and the value that
resumes an interrupt once its cards are decided.

Every dialect gets the same rules, quorum, four-eyes, routing, reminders, edit and expiry:
the rule comes from the tool's entry in tools.yml (a rule-only entry for a user's graph) or,
with none, the default rule. A call the graph asked to gate never runs unreviewed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from adapters.base import Actor, Conversation
from bot.approvals.edit_plan import rule_snapshot
from bot.approvals.models import Approval, Asked, new_approval_id
from graph.contract import EDIT, Dialect, Waiting, hitl_response
from graph.tools import Registry


def card_key(waiting: Waiting, part: int) -> str:
    """The ledger's key of one card: the interrupt id, and the call's place in a batch."""
    return waiting.interrupt_id if waiting.dialect is not Dialect.HITL else f"{waiting.interrupt_id}#{part}"


def approvals_for(waiting: Waiting, *, conv: Conversation, requester: Actor, registry: Registry,
                  now: float) -> list[Approval]:
    """The pending approvals one interrupt asks for. Clearance executes an approved tool-call
    request whose tool has a `run:` (every tool of the bundled agent has one); otherwise the
    graph's own tool does the work once approved."""
    out = []
    for part, action in enumerate(waiting.actions):
        spec = registry.get(action.name)
        snapshot = rule_snapshot(spec, action.args, defaults=registry.default_approval)
        editable = snapshot.editable
        if waiting.dialect is not Dialect.TOOL_CALL:
            # The middleware says whether edits are welcome; the rule, which arguments.
            editable = (editable or tuple(action.args)) if EDIT in action.allowed else ()
        snapshot = dataclasses.replace(snapshot, editable=editable)
        run = spec.run if spec is not None and waiting.dialect is Dialect.TOOL_CALL else None
        asked = Asked(dialect=waiting.dialect, part=part, parts=len(waiting.actions), allowed=action.allowed,
                      batch_of=waiting.interrupt_id if waiting.dialect is Dialect.HITL else None,
                      description=action.description, runs_in_graph=run is None)
        out.append(Approval(
            id=new_approval_id(), thread_id=conv.thread_id, interrupt_id=card_key(waiting, part),
            tool_call_id=action.tool_call_id, tool=action.name, args=dict(action.args), requester=requester,
            rule=snapshot, conversation=conv, created_at=now,
            expires_at=now + snapshot.expires_after if snapshot.expires_after else None,
            external=run is not None and run.kind == "external",
            asked=asked,
        ))
    return out


@dataclass(frozen=True)
class Answer:
    """What resumes an interrupt, and the cards it answers (a batch's are answered together)."""

    value: Any
    cards: tuple[Approval, ...]


class NotYet(Exception):
    """The interrupt cannot be answered yet: a card of its batch is still undecided."""


class Unanswerable(Exception):
    """The agent accepts no decision that says this outcome (an expiry, where it allows no
    rejection): resuming with one would make its node raise and poison the run."""


def answer_for(approval: Approval, batch: list[Approval]) -> Answer:
    """The resume value of the interrupt `approval` belongs to. `batch`: every card of its
    interrupt when it is batched (else ignored). Raises NotYet or Unanswerable."""
    if approval.asked.dialect is Dialect.TOOL_CALL:
        if not approval.has_outcome:
            raise NotYet(approval.id)
        return Answer(approval.resume_value(), (approval,))
    cards = tuple(batch) if approval.asked.dialect is Dialect.HITL else (approval,)
    if len(cards) < approval.asked.parts or not all(c.has_outcome for c in cards):
        raise NotYet(approval.id)
    decisions = [c.middleware_decision() for c in cards]
    if any(d is None for d in decisions):
        raise Unanswerable(approval.id)
    if approval.asked.dialect is Dialect.HITL:
        return Answer(hitl_response([d for d in decisions if d is not None]), cards)
    return Answer(decisions[0], cards)
