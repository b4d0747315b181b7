"""Approval record → neutral card view."""

from __future__ import annotations

from adapters.base import ApprovalCard, CardStatus
from bot.models import Approval, Status

_STATUS = {
    Status.PENDING: CardStatus.PENDING,
    Status.EXECUTING: CardStatus.RUNNING,
    Status.DONE: CardStatus.DONE,
    Status.FAILED: CardStatus.FAILED,
    Status.REJECTED: CardStatus.REJECTED,
    Status.EXPIRED: CardStatus.EXPIRED,
}


def card_for(approval: Approval, *, description: str = "") -> ApprovalCard:
    if approval.status is Status.APPROVED:
        status = CardStatus.WAITING_WORKER if approval.external else CardStatus.RUNNING
    else:
        status = _STATUS[approval.status]
    return ApprovalCard(
        approval_id=approval.id,
        tool=approval.tool,
        args=approval.args,
        requester=approval.requester,
        rule=str(approval.rule.get("text", "")),
        status=status,
        expires_at=approval.expires_at,
        description=description,
        decided_by=approval.deciders if approval.status.decided else (),
        reason=approval.reason,
        result=approval.result or "",
        quorum=int(approval.rule.get("quorum") or 1),
        approvals_so_far=approval.approvers,
        confirm=bool(approval.rule.get("confirm", False)),
        number=approval.seq,
    )
