"""How a stored row of `clearance_approvals` becomes an `Approval`.

The mapping is pure: no I/O, so reading a row can never change one. Rows written before a
column existed read with that column's default.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.base import Actor, Conversation
from bot.approvals.models import (
    Approval,
    Asked,
    CardCopy,
    DecisionEntry,
    EditEntry,
    ResultStatus,
    RuleSnapshot,
    Status,
    Undelivered,
)
from graph.contract import TOOL_CALL_DECISIONS, Dialect


def conversation_json(conv: Conversation) -> str:
    return json.dumps({"platform": conv.platform, "thread_id": conv.thread_id, "data": dict(conv.data)})


def conversation_of(text: str) -> Conversation:
    data = json.loads(text)
    return Conversation(platform=data["platform"], thread_id=data["thread_id"], data=data.get("data") or {})


def copies_of(data: Any) -> tuple[CardCopy, ...]:
    if isinstance(data, dict):  # rows written before copies had places: {platform: ref data}
        data = [{"platform": k, "data": v} for k, v in data.items() if isinstance(v, dict)]
    return tuple(CardCopy.from_json(c) for c in data if isinstance(c, dict))


def approval_of(row: dict[str, Any]) -> Approval:
    return Approval(
        id=row["id"],
        thread_id=row["thread_id"],
        interrupt_id=row["interrupt_id"],
        tool_call_id=row["tool_call_id"],
        tool=row["tool"],
        args=json.loads(row["args"]),
        requester=Actor.from_json(json.loads(row["requester"])),
        rule=RuleSnapshot.from_json(json.loads(row["rule"])),
        conversation=conversation_of(row["conversation"]),
        status=Status(row["status"]),
        decisions=tuple(DecisionEntry.from_json(d) for d in json.loads(row["decisions"])),
        cards=copies_of(json.loads(row["cards"])),
        result=row["result"],
        result_status=ResultStatus(row["result_status"]) if row["result_status"] else None,
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        updated_at=row["updated_at"],
        lease_until=row["lease_until"],
        resumed_at=row["resumed_at"],
        detached_at=row.get("detached_at"),
        seq=row["seq"],
        version=row["version"],
        external=bool(row["external"]),
        revision=int(row.get("revision") or 1),
        edits=tuple(EditEntry.from_json(e) for e in json.loads(row.get("edits") or "[]") if isinstance(e, dict)),
        preview=row.get("preview"),
        preview_ok=bool(row.get("preview_ok", 1)),
        preview_revision=int(row.get("preview_revision") or 0),
        reminded_at=row.get("reminded_at"),
        escalated_steps=int(row.get("escalated_steps") or 0),
        undelivered=Undelivered(int(row.get("undelivered") or 0)),
        asked=asked_of(row),
    )


def asked_of(row: dict[str, Any]) -> Asked:
    """How the agent asked for the call; rows written before other dialects are tool-call requests."""
    allowed = row.get("allowed")
    return Asked(
        dialect=Dialect(row.get("dialect") or Dialect.TOOL_CALL.value),
        batch_of=row.get("batch_of"),
        part=int(row.get("part") or 0),
        parts=int(row.get("parts") or 1),
        allowed=tuple(json.loads(allowed)) if allowed else TOOL_CALL_DECISIONS,
        description=str(row.get("description") or ""),
        runs_in_graph=bool(row.get("runs_in_graph")),
    )
