"""The agent graph: model → one `Send` task per tool call → model … → final answer.

A gated call never executes inside the graph: its task raises `interrupt()` with the
tool-call request (graph/contract.py) and whoever resumes it supplies the outcome. Everything
before `interrupt()` is pure (schema check, rule match) because pending tasks re-run up to
their interrupt on every resume; everything after it cannot fail on the human's input shape,
because a node that raises after `interrupt()` poisons every later resume.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Callable, Sequence, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, SystemMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Send, interrupt

from graph.contract import DEFERRED, edit_note, tool_request
from graph.executors import execute
from graph.tools import Registry

SYSTEM_PROMPT = """You are Clearance, a careful chat-ops operator for a software team, working in a chat thread.
- Act only through the tools; never invent a tool, a service, an environment or a version.
- Several independent actions: call the tools in parallel, in one turn. Actions that depend on each
  other (deploy, then check status): one at a time, waiting for each result.
- Risky calls need a human's approval: each becomes a card with its exact arguments and the call
  pauses until someone decides. Never say an action happened, or will surely happen, before its
  tool result arrives; report results exactly as they came back.
- A rejected call: say who rejected it and why. An expired call: say nobody decided in time. Neither
  was executed; do not call it again unless someone asks.
- "Unknown tool" or "Invalid arguments" results mean nothing ran: fix the call if the fix is clear
  from the request, otherwise ask.
- If the request is ambiguous or an argument is missing (which service? staging or prod?), ask one
  short question instead of guessing.
- Keep answers short and plain: people read them on phones."""


class AgentState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


class ToolTask(TypedDict):
    call: dict[str, Any]


def outcome_message(call: dict[str, Any], resume: Any) -> ToolMessage:
    """Turn a resume value (a `ResumeValue`, but read defensively: it crossed a process and
    a database) into the ToolMessage the model sees. Never raises: whatever shape arrives,
    the model gets a message and the run goes on."""
    base = {"tool_call_id": call["id"], "name": call["name"]}
    if not isinstance(resume, dict):
        return ToolMessage(content=f"Not executed: unexpected decision {resume!r}.", status="error", **base)
    decision = str(resume.get("decision", ""))
    names = []
    for who in resume.get("by") or []:
        if isinstance(who, dict):
            names.append(str(who.get("name") or who.get("id") or "someone"))
    by = ", ".join(names) or "someone"
    reason = str(resume.get("reason") or "").strip()
    content = resume.get("content")
    text = content if isinstance(content, str) else json.dumps(content, default=str)
    # The model asked for one call; an approver changed it: the model must know what ran.
    note = edit_note(dict(call.get("args") or {}), resume)
    if decision == "approve":
        failed = str(resume.get("status", "ok")) == "error"
        return ToolMessage(content=note + (text or "ok"), status="error" if failed else "success", **base)
    if decision == "reject":
        why = f": {reason}" if reason else " (no reason given)"
        return ToolMessage(content=f"{note}Rejected by {by}{why}. The call was not executed.", status="error",
                           **base)
    if decision == "expire":
        return ToolMessage(
            content=f"{note}Expired: nobody approved the call in time. It was not executed.",
            status="error",
            **base,
        )
    if decision == "defer":
        card = str(resume.get("approval_id") or "")
        return ToolMessage(
            content=f"Awaiting approval (card {card}): not executed yet; its outcome will be reported "
                    "in this thread.",
            status="error", artifact={"kind": DEFERRED, "approval_id": card}, **base,
        )
    return ToolMessage(content=f"Not executed: unknown decision {decision!r}.", status="error", **base)


def _just_deferred(messages: Sequence[AnyMessage]) -> bool:
    for msg in reversed(messages):
        if not isinstance(msg, ToolMessage):
            return False
        if isinstance(msg.artifact, dict) and msg.artifact.get("kind") == DEFERRED:
            return True
    return False


def _keep(text: str) -> str:
    return text


def build_graph(registry: Registry, model: BaseChatModel, *, system_prompt: str = SYSTEM_PROMPT,
                trim: Any = None, redact: Callable[[str], str] = _keep) -> StateGraph:
    """`redact` cleans what an ungated call printed before the model sees it (approved
    calls' results arrive already cleaned by whoever ran them)."""
    bound = model.bind_tools([t.openai_schema() for t in registry.tools])

    async def agent(state: AgentState) -> dict[str, Any]:
        if _just_deferred(state["messages"]):
            # Calls were set aside so a new message can run: the model hears about them with
            # that message, not in a call of its own.
            return {"messages": []}
        history: Sequence[AnyMessage] = state["messages"]
        if trim is not None:
            history = trim(history)
        reply = await bound.ainvoke([SystemMessage(content=system_prompt), *history])
        return {"messages": [reply]}

    def fan_out(state: AgentState) -> list[Send] | str:
        last = state["messages"][-1]
        if isinstance(last, AIMessage) and last.tool_calls:
            return [Send("tool", {"call": dict(tc)}) for tc in last.tool_calls]
        return END

    # LangGraph's node protocols name the parameter `state`, though here it is the Send payload.
    async def tool(state: ToolTask) -> dict[str, Any]:
        call = state["call"]
        base = {"tool_call_id": call["id"], "name": call["name"]}
        spec = registry.get(call["name"])
        if spec is None:
            known = ", ".join(registry.names)
            return {"messages": [ToolMessage(
                content=f"Unknown tool {call['name']!r}. Available tools: {known}.",
                status="error", **base)]}
        args = call.get("args") or {}
        errors = spec.validate_args(args)
        if errors:
            return {"messages": [ToolMessage(
                content="Invalid arguments, nothing was executed: " + "; ".join(errors),
                status="error", **base)]}
        if refused := spec.refusal(args):
            return {"messages": [ToolMessage(content=refused, status="error", **base)]}
        if spec.rule_for(args) is None:
            result = await execute(spec, args, idempotency_key=call["id"], approved_by=[])
            return {"messages": [ToolMessage(
                content=redact(result.content), status="success" if result.ok else "error", **base)]}
        resume = interrupt(tool_request(call))
        return {"messages": [outcome_message(call, resume)]}

    graph = StateGraph(AgentState)
    graph.add_node("agent", agent)
    # Explicit, though LangGraph would infer it from the hint: a Send delivers a ToolTask, not the state.
    graph.add_node("tool", tool, input_schema=ToolTask)
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", fan_out, ["tool", END])
    graph.add_edge("tool", "agent")
    return graph
