"""Who may decide, as a pure function of the approval, the actor and the clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from adapters.base import Actor, Decision, DecisionClick, Outcome, Viewer, ViewerRole
from bot.approvals.ids import approver_ids
from bot.approvals.models import Approval, DecisionEntry, DecisionKind, Status

MAX_REPLY = 3000  # a reply in the tool's place is its result: longer than a reason, as long as Slack's input
_WORDS = {Decision.APPROVE: "approved", Decision.REJECT: "rejected", Decision.RESPOND: "answered"}


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    message: str
    status: Status | None = None  # the new status when accepted
    decisions: tuple[DecisionEntry, ...] = ()
    result: str | None = None  # a reply given in the tool's place


def names(actors: tuple[Actor, ...] | list[Actor]) -> str:
    return ", ".join(a.display for a in actors) or "someone"


def describe_decided(approval: Approval) -> str:
    who = names(approval.deciders)
    if approval.status is Status.REJECTED:
        reason = f": {approval.reason}" if approval.reason else ""
        return f"Already rejected by {who}{reason}."
    if approval.status is Status.EXPIRED:
        return "This request already expired; nobody approved it in time."
    return f"Already approved by {who}."


def is_listed(actor: Actor, approvers: tuple[str, ...], groups: frozenset[str] = frozenset()) -> bool:
    """`*` admits anyone in the conversation; `slack:group:S…` admits members of the groups
    the caller resolved for this actor (passed in, so this stays pure)."""
    return any(a.admits(actor, groups) for a in approver_ids(approvers))


# Identities that are places of their own: the approvals API (a token) and the console (a
# login on the bot's machine). Every chat click must come from a posted copy of the card.
_PLACELESS = ("api", "console")


def may_decide(approval: Approval, actor: Actor, *, now: float, groups: frozenset[str] = frozenset()) -> bool:
    """Would `actor`'s approval count now? What "my pending approvals" lists."""
    if approval.status.decided or (approval.expires_at is not None and now >= approval.expires_at):
        return False
    return evaluate(approval, actor, Decision.APPROVE, now=now, groups=groups).outcome is Outcome.ACCEPTED


def counts_here(approval: Approval, click: DecisionClick) -> bool:
    """A click counts only from a copy of the card the bot posted, and from an actor of
    that copy's workspace or tenant: an approval id carried elsewhere decides nothing."""
    if click.place is None:
        return click.actor.platform in _PLACELESS
    if click.place not in approval.places:
        return False
    return not click.actor.tenant or click.actor.tenant == click.place.workspace


def evaluate(
    approval: Approval,
    actor: Actor,
    decision: Decision,
    *,
    now: float,
    reason: str = "",
    groups: frozenset[str] = frozenset(),
    step_up: Mapping[str, Any] | None = None,
) -> Verdict:
    """Whether `actor`'s `decision` counts now, and what the approval becomes. `step_up`: the
    fresh identity-provider login this decision was confirmed with, when it was."""
    if decision is Decision.EDIT:  # edits are checked by bot.approvals.edit_plan, never here
        return Verdict(Outcome.INVALID, "An edit is not a decision.")
    if approval.status.decided:
        return Verdict(Outcome.ALREADY_DECIDED, describe_decided(approval))
    if approval.expires_at is not None and now >= approval.expires_at:
        return Verdict(Outcome.EXPIRED, "This request has expired; ask the agent again if it is still needed.")
    if not approval.asked.accepts(decision.value):
        return Verdict(Outcome.NOT_ALLOWED, f"The agent does not let {approval.tool} be {_WORDS[decision]} here.")
    rule = approval.rule
    is_requester = actor.qualified == approval.requester.qualified
    # Withdrawing your own request is always allowed; approving it only if the rule says so.
    if not (decision is Decision.REJECT and is_requester):
        if not is_listed(actor, rule.approvers, groups):
            return Verdict(Outcome.NOT_ALLOWED, f"You are not an approver for {approval.tool} under this rule.")
    # A reply in the tool's place decides the call as an approval would: the same people may.
    if decision in (Decision.APPROVE, Decision.RESPOND) and not rule.allow_self_approval:
        if is_requester:
            return Verdict(Outcome.NOT_ALLOWED, "You requested this call, so someone else has to approve it.")
        # An editor asked for the call as it now stands: the same rule holds for them.
        if any(e.qualified == actor.qualified for e in approval.requesters):
            return Verdict(Outcome.NOT_ALLOWED, "You edited this call, so someone else has to approve it.")
    # One credential is one approver, whatever names it speaks under.
    if decision is Decision.APPROVE and any(a.approver_key == actor.approver_key for a in approval.approvers):
        return Verdict(Outcome.NOT_ALLOWED, "You already approved this; it needs another approver.")
    # A reply's text is judged before any fresh login is asked for: nobody should log in again
    # only to hear that the answer was empty.
    if decision is Decision.RESPOND and (why := reply_problem(reason)) is not None:
        return Verdict(Outcome.INVALID, why)
    if decision in (Decision.APPROVE, Decision.RESPOND) and rule.step_up is not None and step_up is None:
        # One long-lived chat session is one factor: whoever holds the unlocked phone would hold
        # the approval. The decision waits for a fresh login; only a person can make one.
        if actor.platform in _PLACELESS:
            return Verdict(Outcome.NOT_ALLOWED, f"{approval.tool} needs a fresh login at the identity provider "
                                                f"before it is approved, and {actor.platform}:{actor.id} is not a "
                                                "person who can log in there: approve it from Slack or Teams.")
        return Verdict(Outcome.STEP_UP, "Confirm it with a fresh login first.")
    if decision is Decision.RESPOND:
        reply = reason.strip()
        entry = DecisionEntry(actor=actor, decision=DecisionKind.RESPOND, at=now, reason=reply[:500],
                              revision=approval.revision, step_up=step_up)
        return Verdict(Outcome.ACCEPTED, "Answered.", Status.DONE, approval.decisions + (entry,), result=reply)
    kind = DecisionKind.APPROVE if decision is Decision.APPROVE else DecisionKind.REJECT
    entry = DecisionEntry(actor=actor, decision=kind, at=now, reason=reason.strip()[:500], revision=approval.revision,
                          step_up=step_up if kind is DecisionKind.APPROVE else None)
    decisions = approval.decisions + (entry,)
    if decision is Decision.REJECT:
        return Verdict(Outcome.ACCEPTED, "Rejected.", Status.REJECTED, decisions)
    quorum = rule.quorum
    count = len({d.actor.approver_key for d in decisions
                 if d.decision is DecisionKind.APPROVE and d.revision == approval.revision})
    if count >= quorum:
        return Verdict(Outcome.ACCEPTED, "Approved.", Status.APPROVED, decisions)
    return Verdict(Outcome.ACCEPTED, f"Approval recorded: {count} of {quorum}.", Status.PENDING, decisions)


_MAY_DECIDE = (Outcome.ACCEPTED, Outcome.STEP_UP)


def viewer_of(approval: Approval, actor: Actor, *, now: float, groups: frozenset[str] = frozenset()) -> Viewer:
    """What `actor` may do with the card now, so their own view offers only that: the same
    judgement a click gets from `evaluate`, asked before the click."""
    if approval.status.decided or (approval.expires_at is not None and now >= approval.expires_at):
        return Viewer(ViewerRole.OBSERVER)
    rule = approval.rule
    if actor.qualified == approval.requester.qualified and not rule.allow_self_approval:
        return Viewer(ViewerRole.REQUESTER, "You requested this call, so someone else has to approve it.")
    if any(a.approver_key == actor.approver_key for a in approval.approvers):
        waiting = max(rule.quorum - len(approval.approvers), 0)
        return Viewer(ViewerRole.APPROVED, f"You approved — waiting for {waiting} more.")
    approve = evaluate(approval, actor, Decision.APPROVE, now=now, groups=groups)
    if approve.outcome in _MAY_DECIDE:
        return Viewer(ViewerRole.DECIDER)
    listed = is_listed(actor, rule.approvers, groups)
    if listed and any(e.qualified == actor.qualified for e in approval.requesters):
        return Viewer(ViewerRole.EDITOR, approve.message)
    if evaluate(approval, actor, Decision.REJECT, now=now, groups=groups).outcome in _MAY_DECIDE:
        return Viewer(ViewerRole.DECIDER)  # the agent lets this call be rejected, not approved
    return Viewer(ViewerRole.OBSERVER, approve.message if listed else "")


def reply_problem(text: str) -> str | None:
    """Why a reply in the tool's place cannot be sent as written, or None. Never cut: the
    agent reads it as the tool's result, so a shortened answer would say something else."""
    reply = text.strip()
    if not reply:
        return "A reply needs some text: it is what the agent gets instead of the tool's result."
    if len(reply) > MAX_REPLY:
        return f"A reply is at most {MAX_REPLY} characters; this one has {len(reply)}. Shorten it and send it again."
    return None


def may_reply(approval: Approval, actor: Actor, *, now: float, groups: frozenset[str] = frozenset()) -> Verdict:
    """Before a reply form opens: would `actor`'s answer count, whatever its text? ACCEPTED
    (or STEP_UP: the fresh login is asked for when the answer is sent) means yes."""
    return evaluate(approval, actor, Decision.RESPOND, now=now, reason="a reply", groups=groups)


def expire(approval: Approval, *, now: float) -> Verdict:
    if approval.status.decided:
        return Verdict(Outcome.ALREADY_DECIDED, describe_decided(approval))
    system = Actor(platform="system", id="expiry", name="expiry")
    entry = DecisionEntry(actor=system, decision=DecisionKind.EXPIRE, at=now, reason="no decision in time",
                          revision=approval.revision)
    return Verdict(Outcome.ACCEPTED, "Expired.", Status.EXPIRED, approval.decisions + (entry,))
