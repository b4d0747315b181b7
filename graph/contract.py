"""The structured requests a graph pauses with, and the values that resume them.

These are an API contract: the agent raises the request with `interrupt()`, the runner
hands it to the bot, the ledger stores it, and whoever decides supplies the resume value.
Both are JSON-safe TypedDicts, so they survive the checkpoint and the ledger unchanged.

Any agent may sit behind the chats, so an interrupt is read in one of four dialects:
- `tool-call`: `{"type": "tool-call", "tool_call_id", "tool_call_name", "tool_call_args"}`,
  raised by the bundled agent and by a tool of the user's own graph; one card, resumed with a
  `ResumeValue`;
- `hitl`: LangChain's `HumanInTheLoopMiddleware` (batched), `{"action_requests": [...],
  "review_configs": [...]}`; one card per action request, resumed once with
  `{"decisions": [...]}` in request order;
- `tool_approval`: the same middleware with `interrupt_mode="per_call"`; one card, resumed
  with one decision;
- `question`: anything else; asked in the thread, resumed with the answer's text.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any, Literal, Mapping, TypedDict

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


# -- every dialect ---------------------------------------------------------------------------

# The decisions LangChain's middleware knows. A tool-call request takes approve and reject,
# and edit where the rule lets approvers change arguments.
APPROVE, EDIT, REJECT, RESPOND = "approve", "edit", "reject", "respond"
HITL_DECISIONS = (APPROVE, EDIT, REJECT, RESPOND)
TOOL_CALL_DECISIONS = (APPROVE, EDIT, REJECT)
MAX_QUESTION = 3000


class Dialect(str, enum.Enum):
    TOOL_CALL = "tool-call"
    HITL = "hitl"
    TOOL_APPROVAL = "tool_approval"
    QUESTION = "question"


@dataclass(frozen=True)
class ActionRequest:
    """One call a person must decide: one card."""

    name: str
    args: dict[str, Any]
    tool_call_id: str = ""  # "" where the dialect does not say (batched requests)
    description: str = ""
    allowed: tuple[str, ...] = TOOL_CALL_DECISIONS  # the decisions the agent accepts for it


@dataclass(frozen=True)
class Waiting:
    """One interrupt the run is paused on: calls to decide (one card each), or a question."""

    interrupt_id: str
    dialect: Dialect
    actions: tuple[ActionRequest, ...] = ()
    question: str = ""  # the text to ask, for a question
    request: ToolCallRequest | None = None  # the tool-call dialect's own payload

    @property
    def tool(self) -> str:
        return self.actions[0].name if self.actions else "a question"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _args(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _allowed(value: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(value, list):
        return default
    known = tuple(d for d in HITL_DECISIONS if d in value)
    return known or default


def question_text(value: Any) -> str:
    """What a question interrupt asks: its text, or other JSON shown as code."""
    if isinstance(value, str):
        return value[:MAX_QUESTION]
    try:
        shown = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        shown = repr(value)
    return "```\n" + shown[:MAX_QUESTION] + "\n```"


def schema_decisions(schema: Any) -> tuple[str, ...] | None:
    """The decisions an interrupt's `response_schema` accepts (per-call middleware interrupts
    publish it: a discriminated union, or one decision's object schema); None if it says not."""
    if not isinstance(schema, Mapping):
        return None
    discriminator = schema.get("discriminator")
    mapping = discriminator.get("mapping") if isinstance(discriminator, Mapping) else None
    if isinstance(mapping, Mapping):
        return tuple(d for d in HITL_DECISIONS if d in mapping) or None
    properties = schema.get("properties")
    kind = properties.get("type") if isinstance(properties, Mapping) else None
    const = kind.get("const") if isinstance(kind, Mapping) else None
    return (const,) if const in HITL_DECISIONS else None


def read_interrupt(interrupt_id: str, value: Any, schema: Any = None) -> Waiting:
    """The dialect and calls of one interrupt's value (and its `response_schema`, when it has
    one). Never raises: a value that is none of the approval dialects is a question, so
    nothing the graph raises goes unanswered."""
    if (request := as_request(value)) is not None:
        action = ActionRequest(request["tool_call_name"], request["tool_call_args"], request["tool_call_id"])
        return Waiting(interrupt_id, Dialect.TOOL_CALL, (action,), request=request)
    if isinstance(value, Mapping) and value.get("type") == "tool_approval" and isinstance(value.get("name"), str):
        allowed = schema_decisions(schema) or _allowed(value.get("allowed_decisions"), HITL_DECISIONS)
        action = ActionRequest(value["name"], _args(value.get("args")), _text(value.get("tool_call_id")),
                               _text(value.get("description")), allowed)
        return Waiting(interrupt_id, Dialect.TOOL_APPROVAL, (action,))
    if isinstance(value, Mapping) and isinstance(value.get("action_requests"), list) and value["action_requests"]:
        return _batched(interrupt_id, value)
    return Waiting(interrupt_id, Dialect.QUESTION, question=question_text(value))


def _batched(interrupt_id: str, value: Mapping[str, Any]) -> Waiting:
    requests = value["action_requests"]
    configs = value.get("review_configs")
    configs = configs if isinstance(configs, list) else []
    actions = []
    for index, req in enumerate(requests):
        req = req if isinstance(req, Mapping) else {}
        name = _text(req.get("name"))
        # The middleware lists one review config per request, in order; a config is matched
        # by its action name when the lists do not line up.
        config = configs[index] if index < len(configs) and isinstance(configs[index], Mapping) else None
        if config is None or config.get("action_name") != name:
            config = next((c for c in configs if isinstance(c, Mapping) and c.get("action_name") == name), None)
        allowed = _allowed(config.get("allowed_decisions") if config else None, (APPROVE, REJECT))
        actions.append(ActionRequest(name, _args(req.get("args")), "", _text(req.get("description")), allowed))
    return Waiting(interrupt_id, Dialect.HITL, tuple(actions))


# -- LangChain's middleware decisions ---------------------------------------------------------


def hitl_approve() -> dict[str, Any]:
    return {"type": APPROVE}


def hitl_edit(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """An approval of edited arguments. The name is always the requested tool's: an edit that
    renamed the tool would make the middleware run another tool unreviewed."""
    return {"type": EDIT, "edited_action": {"name": name, "args": dict(args)}}


def hitl_reject(message: str) -> dict[str, Any]:
    return {"type": REJECT, "message": message}


def hitl_respond(message: str) -> dict[str, Any]:
    return {"type": RESPOND, "message": message}


def hitl_response(decisions: list[dict[str, Any]]) -> dict[str, Any]:
    """The one resume value of a batched interrupt: every decision, in request order."""
    return {"decisions": list(decisions)}
