"""The structured request a gated tool call pauses with, and the value that resumes it.

These are an API contract: the agent raises the request with `interrupt()`, the runner
hands it to the bot, the ledger stores it, and whoever decides supplies the resume value.
Both are JSON-safe TypedDicts, so they survive the checkpoint and the ledger unchanged.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypedDict

ResumeDecision = Literal["approve", "reject", "expire", "defer"]
# The author of the message that reports a detached card's outcome back to its thread.
OUTCOME_AUTHOR = "clearance"
# Marks a ToolMessage that answers a call with "awaiting approval" (in its `artifact`, which
# never reaches the model's API): the run stops there instead of asking the model about it.
DEFERRED = "clearance:deferred"


class ToolCallRequest(TypedDict):
    """The interrupt payload of a gated call."""

    type: Literal["tool-call"]
    tool_call_id: str
    tool_call_name: str
    tool_call_args: dict[str, Any]


class Decider(TypedDict):
    platform: str
    id: str
    name: str


class _ResumeRequired(TypedDict):
    type: Literal["tool-call"]
    tool_call_id: str
    decision: ResumeDecision


class ResumeValue(_ResumeRequired, total=False):
    """The outcome of a gated call. `content` and `status` come with an approval (the
    executor's or the external worker's result); `approval_id` with a deferral."""

    by: list[Decider]
    reason: str
    content: str
    status: Literal["ok", "error"]
    approval_id: str
    # Set when an approver edited the call before deciding: the arguments that were decided
    # on (and, if approved, executed), and who changed them.
    args: dict[str, Any]
    edited_by: list[Decider]


def edit_note(asked: dict[str, Any], resume: Any) -> str:
    """"Edited by dana before approval: version v2.3 → v2.4. " when the resume value says the
    call was edited, else "". Reads defensively: the value crossed a database."""
    if not isinstance(resume, dict) or not isinstance(resume.get("args"), dict):
        return ""
    final: dict[str, Any] = resume["args"]
    names = [str(w.get("name") or w.get("id") or "someone") for w in resume.get("edited_by") or []
             if isinstance(w, dict)]
    changes = [f"{k} {_plain(asked.get(k))} → {_plain(final.get(k))}"
               for k in dict.fromkeys([*asked, *final]) if asked.get(k) != final.get(k)]
    if not changes:
        return ""
    return f"Edited by {', '.join(dict.fromkeys(names)) or 'someone'} before approval: {', '.join(changes)}. "


def _plain(value: Any) -> str:
    if value is None:
        return "(none)"
    return value if isinstance(value, str) else json.dumps(value)


def tool_request(call: dict[str, Any]) -> ToolCallRequest:
    return {
        "type": "tool-call",
        "tool_call_id": str(call["id"]),
        "tool_call_name": str(call["name"]),
        "tool_call_args": dict(call.get("args") or {}),
    }


def as_request(value: Any) -> ToolCallRequest | None:
    """An interrupt's value if it is a tool-call request, else None (never raises)."""
    if not isinstance(value, dict) or value.get("type") != "tool-call":
        return None
    args = value.get("tool_call_args")
    return {
        "type": "tool-call",
        "tool_call_id": str(value.get("tool_call_id", "")),
        "tool_call_name": str(value.get("tool_call_name", "")),
        "tool_call_args": dict(args) if isinstance(args, dict) else {},
    }


def defer_value(request: ToolCallRequest, approval_id: str) -> ResumeValue:
    """Answer a waiting call with "awaiting approval" so the thread can take new input; the
    card stays live and its outcome comes back later as a new message."""
    return {"type": "tool-call", "tool_call_id": request["tool_call_id"], "decision": "defer",
            "approval_id": approval_id}
