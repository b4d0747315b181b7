"""The agent on a LangGraph Agent Server (`langgraph-api`; `langgraph dev` locally), through
`langgraph-sdk` only: the same three calls as the in-process runner — what waits, a new
message, one interrupt resumed — with the server owning threads, checkpoints and workers.

Guarantees kept here:
- one server thread per chat thread, created on its first message with metadata
  `{"clearance_thread": <chat thread id>}` and remembered by the caller's `ThreadMap`;
- a message is a run with `multitask_strategy="enqueue"`: a second message waits its turn;
- a resume is sent only for an interrupt the server says is waiting, with
  `strict_resume=True` besides: a server that does not know that flag takes a resume map with
  an unknown id as the value for whatever waits, so the check is made here;
- every task's interrupts are read, not the first; only new AI messages are answers;
- a server that cannot be reached is `AgentServerUnreachable`, never a half-done step.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Protocol

from graph.contract import Waiting, read_interrupt
from graph.runner import MAX_MESSAGE, RunResult, author_name

log = logging.getLogger("clearance.graph")
METADATA_KEY = "clearance_thread"


class AgentServerUnreachable(Exception):
    """The Agent Server did not answer (connection refused, timeout, 5xx). `started`: a run had
    already been handed to it (it may still run it); else nothing was done."""

    def __init__(self, message: str, *, started: bool = False) -> None:
        super().__init__(message)
        self.started = started


class AgentServerBusy(Exception):
    """A run of this thread is still queued or running on the server: a resume now could be
    taken by whatever that run leaves waiting, so it waits for the next try."""


class AgentRunFailed(Exception):
    """The server ran the graph and the run ended in error."""


class ThreadMap(Protocol):
    """Where the chat thread ↔ server thread mapping is kept (Clearance's database)."""

    async def server_thread(self, thread_id: str) -> str | None: ...

    async def remember(self, thread_id: str, server_thread: str) -> str:
        """Store the pair unless the chat thread has one already; the one that counts."""
        ...


def _unreachable(exc: BaseException) -> bool:
    import httpx
    from langgraph_sdk.errors import APIConnectionError, APIStatusError

    if isinstance(exc, (APIConnectionError, httpx.TransportError)):
        return True
    status = getattr(exc, "status_code", None) or getattr(getattr(exc, "response", None), "status_code", None)
    return isinstance(exc, (APIStatusError, httpx.HTTPStatusError)) and isinstance(status, int) and status >= 500


def _is_uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def waiting_of(state: Mapping[str, Any]) -> list[Waiting]:
    """Every task's interrupts in a thread state as the server returns it."""
    return [read_interrupt(str(intr.get("id")), intr.get("value"))
            for task in state.get("tasks") or [] for intr in task.get("interrupts") or []
            if isinstance(intr, Mapping)]


def _messages(state: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    values = state.get("values")
    found = values.get("messages") if isinstance(values, Mapping) else None
    return [m for m in found or [] if isinstance(m, Mapping)]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) if isinstance(p, Mapping) else str(p) for p in content)
    return ""


def new_answers(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The AI messages in `after` that were not in `before`, as text."""
    seen = {m.get("id") for m in _messages(before)}
    return [text for m in _messages(after)
            if m.get("type") == "ai" and m.get("id") not in seen and (text := _text(m.get("content")).strip())]


class RemoteRunner:
    defers = False  # another graph's tools would take a deferral for a decision

    def __init__(self, url: str, *, assistant_id: str, threads: ThreadMap, api_key: str | None = None,
                 timeout: float = 30.0) -> None:
        from langgraph_sdk import get_client

        self.url = url
        self.assistant_id = assistant_id
        self.threads = threads
        # The key is sent as x-api-key when given; none is read from the environment.
        self.client = get_client(url=url, api_key=api_key, timeout=timeout)

    async def _call(self, what: str, step: Any, *, started: bool = False) -> Any:
        try:
            return await step
        except Exception as exc:
            if _unreachable(exc):
                raise AgentServerUnreachable(f"{what}: {type(exc).__name__}", started=started) from exc
            raise

    async def ping(self) -> None:
        await self._call("ping", self.client.http.get("/ok"))

    async def _server_thread(self, thread_id: str, *, create: bool) -> str | None:
        found = await self.threads.server_thread(thread_id)
        if found is not None or not create:
            return found
        made = await self._call("threads.create", self.client.threads.create(metadata={METADATA_KEY: thread_id}))
        return await self.threads.remember(thread_id, str(made["thread_id"]))

    async def _state(self, server_thread: str) -> Mapping[str, Any]:
        state = await self._call("threads.get_state", self.client.threads.get_state(server_thread))
        return state if isinstance(state, Mapping) else {}

    async def interrupted(self, limit: int = 100) -> list[tuple[str, str]]:
        """(server thread id, assistant id) of every thread of this assistant that is paused on
        an interrupt, whoever started its run."""
        found: list[tuple[str, str]] = []
        offset = 0
        while True:
            page = await self._call("threads.search", self.client.threads.search(
                status="interrupted", metadata={"assistant_id": self.assistant_id} if _is_uuid(self.assistant_id)
                else {"graph_id": self.assistant_id}, limit=limit, offset=offset))
            found += [(str(t["thread_id"]), self.assistant_id) for t in page]
            if len(page) < limit:
                return found
            offset += limit

    async def waiting(self, thread_id: str) -> list[Waiting]:
        server_thread = await self._server_thread(thread_id, create=False)
        return waiting_of(await self._state(server_thread)) if server_thread else []

    async def start(self, thread_id: str, text: str, *, author: str = "",
                    settle: Mapping[str, Any] | None = None) -> RunResult:
        server_thread = await self._server_thread(thread_id, create=True)
        assert server_thread is not None
        message: dict[str, Any] = {"role": "user", "content": text[:MAX_MESSAGE]}
        if name := author_name(author):
            message["name"] = name
        return await self._run(server_thread, input={"messages": [message]})

    async def resume(self, thread_id: str, interrupt_id: str, value: Any) -> RunResult | None:
        """Resume one waiting interrupt; None when the server says it is not waiting (already
        answered): nothing is sent."""
        server_thread = await self._server_thread(thread_id, create=False)
        if server_thread is None:
            return None
        runs = await self._call("runs.list", self.client.runs.list(server_thread, limit=10))
        if any(r.get("status") in ("pending", "running") for r in runs):
            raise AgentServerBusy(server_thread)
        before = await self._state(server_thread)
        if interrupt_id not in {w.interrupt_id for w in waiting_of(before)}:
            return None
        return await self._run(server_thread, before=before, command={"resume": {interrupt_id: value}},
                               strict_resume=True)

    async def _run(self, server_thread: str, *, before: Mapping[str, Any] | None = None, **run: Any) -> RunResult:
        if before is None:
            before = await self._state(server_thread)
        created = await self._call("runs.create", self.client.runs.create(
            server_thread, self.assistant_id, multitask_strategy="enqueue", **run))
        run_id = str(created["run_id"])
        await self._call("runs.join", self.client.runs.join(server_thread, run_id), started=True)
        finished = await self._call("runs.get", self.client.runs.get(server_thread, run_id), started=True)
        if finished.get("status") in ("error", "timeout"):
            raise AgentRunFailed(f"run {run_id} on the agent server ended in {finished.get('status')}")
        after = await self._call("threads.get_state", self.client.threads.get_state(server_thread),
                                 started=True)
        return RunResult(waiting_of(after), new_answers(before, after))
