"""Approval record → neutral card view."""

from __future__ import annotations

from typing import Callable

from adapters.base import ApprovalCard, CardEdit, CardStatus, Decision
from bot.approvals.models import Approval, Status

_STATUS = {
    Status.PENDING: CardStatus.PENDING,
    Status.EXECUTING: CardStatus.RUNNING,
    Status.DONE: CardStatus.DONE,
    Status.FAILED: CardStatus.FAILED,
    Status.REJECTED: CardStatus.REJECTED,
    Status.EXPIRED: CardStatus.EXPIRED,
}


def _keep(text: str) -> str:
    return text


def _status(approval: Approval) -> CardStatus:
    if approval.status is Status.APPROVED:
        if approval.asked.runs_in_graph:
            return CardStatus.APPROVED
        return CardStatus.WAITING_WORKER if approval.external else CardStatus.RUNNING
    if approval.answered:
        return CardStatus.ANSWERED
    return _STATUS[approval.status]


def card_for(approval: Approval, *, description: str = "", redact: Callable[[str], str] = _keep) -> ApprovalCard:
    """The card view; results and reasons pass through `redact` (arguments cannot hold a
    secret: the model never sees one, and a card must show exactly what will run).
    `description`: the tool's own, unless the agent described this call."""
    status = _status(approval)
    preview = approval.current_preview
    return ApprovalCard(
        approval_id=approval.id,
        tool=approval.tool,
        args=approval.args,
        requester=approval.requester,
        rule=approval.rule.text,
        status=status,
        expires_at=approval.expires_at,
        description=approval.asked.description or description,
        decided_by=approval.deciders if approval.status.decided else (),
        reason=redact(approval.reason),
        result=redact(approval.result or ""),
        quorum=approval.rule.quorum,
        approvals_so_far=approval.approvers,
        confirm=approval.rule.confirm,
        number=approval.seq,
        editable=approval.rule.editable,
        edits=tuple(CardEdit(e.actor, e.changes) for e in approval.edits),
        revision=approval.revision,
        preview=redact(preview or ""),
        preview_failed=preview is not None and not approval.preview_ok,
        # Who may act on it: its approvers (escalated ones included), and the requester, who may
        # withdraw it. Empty when anyone may.
        approver_ids=() if "*" in approval.rule.approvers
        else (*approval.rule.approvers, approval.requester.qualified),
        actions=tuple(d for d in Decision if approval.asked.accepts(d.value)),
    )
