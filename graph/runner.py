"""Everything the bot needs from LangGraph, behind plain typed results.

The bot starts a run with a human message or resumes one interrupt with its outcome; it
gets back the tool calls now waiting for a decision and the new answers. It never reads
LangGraph state itself. The caller holds the thread's lock around every call here:
LangGraph does not serialize two resumes of one thread.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.types import Command

from graph.contract import ResumeValue, Waiting, read_interrupt

log = logging.getLogger("clearance.graph")
MAX_CONTINUES = 3
MAX_MESSAGE = 8000


@dataclass(frozen=True)
class RunResult:
    waiting: list[Waiting]  # every interrupt of the thread now waiting (new and older ones)
    answers: list[str]  # what the model said during this run, in order


def author_name(display: str) -> str | None:
    """A display name as OpenAI's message `name` field accepts it."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", display)[:64]
    return name or None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)


def _read(interrupts: Any) -> list[Waiting]:
    """LangGraph interrupts, each read in its dialect (a subgraph's count as its parent's)."""
    return [read_interrupt(intr.id, intr.value, getattr(intr, "response_schema", None)) for intr in interrupts]


def _waiting(state: Any) -> list[Waiting]:
    return [waiting for task in state.tasks for waiting in _read(task.interrupts)]


def _message_ids(values: Any) -> set[str]:
    messages = values.get("messages") if isinstance(values, dict) else None
    return {m.id for m in messages or () if getattr(m, "id", None)}


def _messages(update: Any) -> list[Any]:
    found = update.get("messages") if isinstance(update, dict) else None
    if found is None:
        return []
    return list(found) if isinstance(found, (list, tuple)) else [found]


@dataclass
class _Pass:
    """What one streamed run of the graph showed: the state it started from (its first
    checkpoint event), where it stopped, what it raised and what the model said.

    An answer is a new AI message: a subgraph node (an agent inside a parent graph) hands its
    parent the whole conversation when it finishes, so messages already in the state when
    the run began, or seen earlier in the run, are not said again."""

    pending_before: set[str] = field(default_factory=set)
    next_nodes: tuple[str, ...] = ()
    waiting: list[Waiting] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    said: set[str] = field(default_factory=set)  # ids of the messages known or answered
    _seen_checkpoint: bool = False

    def checkpoint(self, event: Mapping[str, Any]) -> None:
        if not self._seen_checkpoint:
            self._seen_checkpoint = True
            self.pending_before = {
                intr["id"] for task in event.get("tasks", ()) if "result" not in task
                for intr in task.get("interrupts", ())}
            self.said |= _message_ids(event.get("values"))
        self.next_nodes = tuple(event.get("next", ()))

    def update(self, chunk: Mapping[str, Any]) -> None:
        if (chunk.get("__metadata__") or {}).get("cached"):
            return  # a task finished in an earlier run, replayed: nothing new
        for node, update in chunk.items():
            if node == "__interrupt__":
                self.waiting += _read(update)
            elif node != "__metadata__":
                for msg in _messages(update):
                    if not isinstance(msg, AIMessage) or msg.id in self.said:
                        continue
                    if msg.id:
                        self.said.add(msg.id)
                    if text := _text(msg.content).strip():
                        self.answers.append(text)


class AgentRunner(Protocol):
    """What the flow needs from wherever the agent runs: in this process (`Runner`) or on a
    LangGraph Agent Server (graph/remote.py)."""

    defers: bool

    async def waiting(self, thread_id: str) -> list[Waiting]: ...

    async def start(self, thread_id: str, text: str, *, author: str = "",
                    settle: Mapping[str, ResumeValue] | None = None) -> RunResult: ...

    async def resume(self, thread_id: str, interrupt_id: str, value: Any) -> RunResult | None: ...


class Runner:
    """Runs stream the graph's updates and checkpoint events rather than reading its state
    around each call: the events already say what was pending, what stopped and what the
    model said, and each state read costs a checkpoint fetch and the decoding of the whole
    history."""

    def __init__(self, graph: Any, *, defers: bool = True) -> None:
        self.graph = graph
        # Whether the graph reads a `defer` resume value (the bundled agent does): then waiting
        # calls can be set aside for new input. Another graph's tools would take it for a
        # decision, so its new input waits for the decisions instead.
        self.defers = defers

    @staticmethod
    def _config(thread_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id}}

    async def waiting(self, thread_id: str) -> list[Waiting]:
        return _waiting(await self.graph.aget_state(self._config(thread_id)))

    async def start(self, thread_id: str, text: str, *, author: str = "",
                    settle: Mapping[str, ResumeValue] | None = None) -> RunResult:
        """Run the thread on a new human message. `settle` answers every call still waiting
        first (each with its outcome or a deferral): new input on a thread with pending
        tasks would otherwise drop them, and the model would never hear of those calls."""
        cfg = self._config(thread_id)
        answers: list[str] = []
        if settle:
            answers += (await self._run(cfg, Command(resume=dict(settle)))).answers
        message = HumanMessage(content=text[:MAX_MESSAGE], name=author_name(author))
        done = await self._run(cfg, {"messages": [message]})
        return RunResult(done.waiting, answers + done.answers)

    async def resume(self, thread_id: str, interrupt_id: str, value: ResumeValue | Any) -> RunResult | None:
        """Resume one interrupt with its outcome; None when that interrupt was not pending
        (already resumed) and nothing else ran: LangGraph ignores such a resume, and the
        caller has nothing to report. (A run stalled by an older version does go on.)"""
        done = await self._run(self._config(thread_id), Command(resume={interrupt_id: value}))
        did_nothing = not done.answers and all(w.interrupt_id in done.pending_before for w in done.waiting)
        if interrupt_id not in done.pending_before and did_nothing:
            return None
        return RunResult(done.waiting, done.answers)

    async def _run(self, cfg: dict[str, Any], graph_input: Any) -> _Pass:
        done = await self._stream(cfg, graph_input)
        for _ in range(MAX_CONTINUES):
            # Racing decisions once left a run with unfinished tasks and no interrupt; the
            # lock prevents that now, but a run left so by an older version is carried on.
            if done.waiting or not done.next_nodes:
                break
            log.warning("run stalled with %s unfinished; continuing", done.next_nodes)
            more = await self._stream(cfg, None)
            more.pending_before = done.pending_before
            more.answers = done.answers + more.answers
            more.said |= done.said
            done = more
        return done

    async def _stream(self, cfg: dict[str, Any], graph_input: Any) -> _Pass:
        seen = _Pass()
        async for mode, chunk in self.graph.astream(graph_input, cfg, stream_mode=["updates", "checkpoints"]):
            if mode == "checkpoints":
                seen.checkpoint(chunk)
            else:
                seen.update(chunk)
        return seen
