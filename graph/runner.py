"""Everything the bot needs from LangGraph, behind plain typed results.

The bot starts a run with a human message or resumes one interrupt with its outcome; it
gets back the tool calls now waiting for a decision and the new answers. It never reads
LangGraph state itself. The caller holds the thread's lock around every call here:
LangGraph does not serialize two resumes of one thread.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Mapping

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.types import Command

from graph.contract import ResumeValue, ToolCallRequest, as_request

log = logging.getLogger("clearance.graph")
MAX_CONTINUES = 3
MAX_MESSAGE = 8000


@dataclass(frozen=True)
class WaitingCall:
    """A gated call paused at its interrupt, waiting for a decision."""

    interrupt_id: str
    request: ToolCallRequest

    @property
    def tool(self) -> str:
        return self.request["tool_call_name"] or "a tool call"


@dataclass(frozen=True)
class RunResult:
    waiting: list[WaitingCall]  # every call of the thread now waiting (new and older ones)
    answers: list[str]  # what the model said during this run, in order


def author_name(display: str) -> str | None:
    """A display name as OpenAI's message `name` field accepts it."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", display)[:64]
    return name or None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)


def _waiting(state: Any) -> list[WaitingCall]:
    out = []
    for task in state.tasks:
        for intr in task.interrupts:
            request = as_request(intr.value)
            if request is not None:
                out.append(WaitingCall(intr.id, request))
    return out


def _answers(messages: list[BaseMessage], before: set[Any]) -> list[str]:
    out = []
    for msg in messages:
        if msg.id in before or not isinstance(msg, AIMessage):
            continue
        text = _text(msg.content).strip()
        if text:
            out.append(text)
    return out


class Runner:
    def __init__(self, graph: Any) -> None:
        self.graph = graph

    @staticmethod
    def _config(thread_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id}}

    async def waiting(self, thread_id: str) -> list[WaitingCall]:
        return _waiting(await self.graph.aget_state(self._config(thread_id)))

    async def start(self, thread_id: str, text: str, *, author: str = "",
                    settle: Mapping[str, ResumeValue] | None = None) -> RunResult:
        """Run the thread on a new human message. `settle` answers every call still waiting
        first (each with its outcome or a deferral): new input on a thread with pending
        tasks would otherwise drop them, and the model would never hear of those calls."""
        cfg = self._config(thread_id)
        state = await self.graph.aget_state(cfg)
        before = {m.id for m in state.values.get("messages", [])}
        if settle:
            await self.graph.ainvoke(Command(resume=dict(settle)), cfg)
        message = HumanMessage(content=text[:MAX_MESSAGE], name=author_name(author))
        return await self._invoke(thread_id, {"messages": [message]}, before=before)

    async def resume(self, thread_id: str, interrupt_id: str, value: ResumeValue) -> RunResult | None:
        """Resume one interrupt with its outcome; None when that interrupt is not pending
        (already resumed: LangGraph would silently ignore it)."""
        state = await self.graph.aget_state(self._config(thread_id))
        if interrupt_id not in {call.interrupt_id for call in _waiting(state)}:
            return None
        before = {m.id for m in state.values.get("messages", [])}
        return await self._invoke(thread_id, Command(resume={interrupt_id: value}), before=before)

    async def _invoke(self, thread_id: str, graph_input: Any, *, before: set[Any]) -> RunResult:
        cfg = self._config(thread_id)
        await self.graph.ainvoke(graph_input, cfg)
        state = await self._continue_stalled(cfg)
        return RunResult(_waiting(state), _answers(state.values.get("messages", []), before))

    async def _continue_stalled(self, cfg: dict[str, Any]) -> Any:
        """Racing decisions once left a run with unfinished tasks and no interrupt; the
        lock prevents that now, but a run left so by an older version is carried on."""
        state = await self.graph.aget_state(cfg)
        for _ in range(MAX_CONTINUES):
            if not state.next or any(task.interrupts for task in state.tasks):
                break
            log.warning("run stalled with %s unfinished; continuing", state.next)
            await self.graph.ainvoke(None, cfg)
            state = await self.graph.aget_state(cfg)
        return state
