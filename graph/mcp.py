"""Tools from MCP servers: the servers of `mcp_servers:`, started once per process.

`McpManager.start()` connects to every server (a stdio program, or a streamable HTTP URL),
lists its tools and turns each into a registry tool `<server>_<tool>` with the server's JSON
schema, gated by the server's (or the tool's own) approval rules; a server with no rule needs
a card that anyone but the requester may approve, as any tool does. Tool names come from the
server, so a clash with another tool or a name that is too long is a configuration error,
found at start.

Guarantees:
- A call runs through the live session with exactly the arguments it was given (the ones the
  card showed), and carries the approval id in the request's `_meta` as `idempotency_key`, so
  a server can recognise a repeat. A result with `isError` is a failed execution.
- A call is sent at most once. When the server is down the call is not sent and says so; when
  the server dies during a call the result says the outcome is unknown. Either way the
  connection is restarted in the background with backoff and the next call works.
- A stdio server's environment is PATH, HOME, LANG, LC_ALL, TZ (when the bot has them) and its
  own `env:`, nothing else of the bot's (graph/mcp_stdio.py).
- A server that cannot start is one clear line (`failures`), and is retried in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable, Sequence

import anyio
import mcp.types as types
from langchain_mcp_adapters.sessions import StreamableHttpConnection, create_session
from mcp import ClientSession
from mcp.shared.exceptions import McpError
from pydantic import ValidationError

from graph.mcp_stdio import StdioServer, stdio_transport
from graph.tools import McpServerSpec, McpToolOverride, Registry, ToolsFileError, ToolSpec

log = logging.getLogger("clearance.mcp")
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")
MAX_NAME = 64
STABLE_AFTER = 30.0  # seconds up before a restart counts as a fresh start (backoff resets)


def server_environment(spec: McpServerSpec) -> dict[str, str]:
    """The whole environment of a stdio server: a few pass-through variables and its `env:`."""
    env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    env.update(spec.env_values)
    return env


def result_text(result: types.CallToolResult) -> str:
    """The text parts joined; structured content when there is no text."""
    parts: list[str] = []
    for item in result.content:
        if isinstance(item, types.TextContent):
            parts.append(item.text)
        else:
            parts.append(f"[{item.type} content not shown]")
    if not parts and result.structuredContent is not None:
        return json.dumps(result.structuredContent, default=str)
    return "\n".join(parts)


@dataclass
class _Server:
    spec: McpServerSpec
    tools: list[types.Tool] | None = None  # from the first listing; the registry is fixed at start
    session: ClientSession | None = None
    error: str | None = None
    stdio: StdioServer | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    attempted: asyncio.Event = field(default_factory=asyncio.Event)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    broken: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    up: bool = False  # this attempt connected (a later failure is a lost connection, not a start failure)

    @property
    def pid(self) -> int | None:
        return self.stdio.pid if self.stdio is not None else None


class McpManager:
    """The process's connections to its MCP servers; see the module docstring."""

    def __init__(self, servers: Sequence[McpServerSpec], *, redact: Callable[[str], str] = lambda s: s,
                 start_timeout: float = 20.0, first_retry: float = 0.5, max_retry: float = 60.0) -> None:
        self.redact = redact
        self.start_timeout = start_timeout
        self.first_retry = first_retry
        self.max_retry = max_retry
        self._servers = {spec.name: _Server(spec) for spec in servers}
        self._closing = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every server and wait (at most `start_timeout`) for each first attempt."""
        for server in self._servers.values():
            server.task = asyncio.create_task(self._supervise(server), name=f"mcp:{server.spec.name}")

        async def first(server: _Server) -> None:
            try:
                await asyncio.wait_for(server.attempted.wait(), self.start_timeout)
            except asyncio.TimeoutError:
                server.error = f"MCP server {server.spec.name}: did not answer within {self.start_timeout:g}s"
                log.error("%s", server.error)

        await asyncio.gather(*(first(s) for s in self._servers.values()))

    async def close(self) -> None:
        self._closing = True
        tasks = [s.task for s in self._servers.values() if s.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def failures(self) -> list[str]:
        """One line per server that is not connected now."""
        return [s.error or f"MCP server {name}: not connected" for name, s in self._servers.items()
                if s.session is None]

    def pid(self, name: str) -> int | None:
        """The process id of a stdio server (for operators and tests), None when not running."""
        return self._servers[name].pid

    # -- tools -------------------------------------------------------------------------------

    def tool_specs(self) -> list[ToolSpec]:
        """A registry tool for every tool of every connected server. Raises ToolsFileError."""
        specs: list[ToolSpec] = []
        for server in self._servers.values():
            if server.tools is None:
                continue
            specs.extend(self._server_specs(server.spec, server.tools))
        return specs

    def complete(self, registry: Registry) -> Registry:
        """`registry` plus the tools of the connected servers, each bound to this manager."""
        specs = self.tool_specs()
        completed = registry.with_tools(specs)
        for spec in specs:
            spec.attach_mcp(self)
        return completed

    def _server_specs(self, server: McpServerSpec, tools: list[types.Tool]) -> list[ToolSpec]:
        where = f"mcp server {server.name}"
        offered = {t.name for t in tools}
        for name in [*(server.include or []), *server.tools]:
            if name not in offered:
                raise ToolsFileError(f"{where}: {name!r} names no tool of the server "
                                     f"(it has: {', '.join(sorted(offered)) or 'none'})")
        specs = []
        for tool in tools:
            if server.include is not None and tool.name not in server.include:
                continue
            exposed = f"{server.name}_{tool.name}"
            if len(exposed) > MAX_NAME:
                raise ToolsFileError(f"{where}: tool name {exposed!r} is longer than {MAX_NAME} characters")
            override = server.tools.get(tool.name) or McpToolOverride()
            rules = override.approval if override.approval is not None else server.approval
            schema = dict(tool.inputSchema or {})
            schema.setdefault("type", "object")
            schema.setdefault("properties", {})
            try:
                specs.append(ToolSpec.model_validate({
                    "name": exposed, "description": tool.description or tool.title or tool.name,
                    "parameters": schema, "aliases": override.aliases, "approval": rules,
                    "run": {"mcp": {"server": server.name, "tool": tool.name}, "timeout": server.timeout},
                }, context={"mcp": True}))
            except ValidationError as exc:
                first = exc.errors()[0]
                place = ".".join(str(p) for p in first["loc"])
                raise ToolsFileError(f"{where}: tool {tool.name!r}: {place}: {first['msg']}") from None
        return specs

    # -- calls -------------------------------------------------------------------------------

    async def call_tool(self, server: str, tool: str, args: dict[str, Any], *, meta: dict[str, Any],
                        timeout: float) -> tuple[bool, str]:
        """(ok, text) of one call, sent at most once."""
        conn = self._servers.get(server)
        if conn is None:
            return False, f"MCP server {server} is not configured; not executed"
        session = conn.session
        if session is None:
            conn.wake.set()  # down: try now rather than at the end of the backoff
            try:
                await asyncio.wait_for(conn.ready.wait(), min(timeout, self.start_timeout))
            except asyncio.TimeoutError:
                return False, f"{conn.error or f'MCP server {server} is not running'}; not executed"
            session = conn.session
            if session is None:
                return False, f"MCP server {server} is not running; not executed"
        try:
            result = await session.call_tool(tool, args, read_timeout_seconds=timedelta(seconds=timeout), meta=meta)
        except McpError as exc:
            if exc.error.code == types.CONNECTION_CLOSED:
                conn.broken.set()
                return False, (f"MCP server {server} stopped during the call; it is being restarted. "
                               "The call may or may not have run: check before retrying.")
            if exc.error.code == 408:  # the SDK's read timeout
                return False, f"timed out after {timeout:g}s (the call may still be running on the server)"
            return False, f"MCP error {exc.error.code}: {exc.error.message}"
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            conn.broken.set()
            return False, f"MCP server {server} had stopped; it is being restarted. Not executed."
        return not result.isError, result_text(result) or ("error" if result.isError else "ok")

    # -- supervision -------------------------------------------------------------------------

    async def _supervise(self, server: _Server) -> None:
        delay = self.first_retry
        logged: str | None = None
        while not self._closing:
            began = time.monotonic()
            server.stdio, server.up = None, False
            try:
                await self._connect_once(server)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # ExceptionGroup from the transports' task groups too
                failed = _leaf(exc)
                if isinstance(failed, _StartFailed):
                    server.error = str(failed)
                elif not server.up:
                    server.error = await self._describe(server, failed)
            finally:
                server.session = None
                server.ready.clear()
                server.broken.clear()
                server.attempted.set()
            if self._closing:
                return
            if server.error and server.error != logged:  # one line per new problem, not per retry
                log.error("%s", server.error)
                logged = server.error
            if time.monotonic() - began > STABLE_AFTER:
                delay = self.first_retry
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wake.wait(), delay)
            server.wake.clear()
            delay = min(delay * 2, self.max_retry)

    async def _connect_once(self, server: _Server) -> None:
        """Connect, list the tools, then hold the connection until the server exits or a call
        finds it broken. A failure to come up is raised as _StartFailed with its one line."""
        spec = server.spec
        async with contextlib.AsyncExitStack() as stack:
            try:
                if spec.command is not None:
                    read, write, stdio = await stack.enter_async_context(
                        stdio_transport(spec.name, spec.command, server_environment(spec), self.redact))
                    server.stdio = stdio
                    session = await stack.enter_async_context(ClientSession(read, write))
                else:
                    assert spec.url is not None
                    connection = StreamableHttpConnection(transport="streamable_http", url=spec.url)
                    session = await stack.enter_async_context(create_session(connection))
                with anyio.fail_after(self.start_timeout):
                    await session.initialize()
                    tools = await _list_tools(session)
            except Exception as exc:
                raise _StartFailed(await self._describe(server, exc)) from None
            if server.tools is None:
                server.tools = tools
            server.session, server.error, server.up = session, None, True
            server.ready.set()
            server.attempted.set()
            log.info("MCP server %s: connected (%d tools)", spec.name, len(tools))
            waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(server.broken.wait())]
            if server.stdio is not None:
                waits.append(asyncio.ensure_future(server.stdio.process.wait()))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()
            server.session = None
            server.ready.clear()
            if server.stdio is not None and server.stdio.process.returncode is not None:
                server.error = f"MCP server {spec.name}: exited (status {server.stdio.process.returncode}); restarting"
            else:
                server.error = f"MCP server {spec.name}: connection lost; reconnecting"

    async def _describe(self, server: _Server, exc: BaseException) -> str:
        """One line on why a server did not come up."""
        exc = _leaf(exc)
        spec = server.spec
        target = json.dumps(spec.command) if spec.command is not None else spec.url
        stdio = server.stdio
        if stdio is None and isinstance(exc, OSError):
            return f"MCP server {spec.name}: cannot start {target}: {exc.strerror or exc}"
        if stdio is not None:
            with anyio.move_on_after(1.0):  # closed stdout: let the process be reaped, stderr drained
                await stdio.process.wait()
                await anyio.sleep(0.1)
            if stdio.process.returncode is not None:
                words = stdio.last_words()
                return self.redact(f"MCP server {spec.name}: {target} exited with status "
                                   f"{stdio.process.returncode} before answering" + (f": {words}" if words else ""))
        if isinstance(exc, TimeoutError):
            return f"MCP server {spec.name}: {target} did not answer within {self.start_timeout:g}s"
        detail = exc.error.message if isinstance(exc, McpError) else (str(exc) or type(exc).__name__)
        return self.redact(f"MCP server {spec.name}: cannot connect to {target}: {type(exc).__name__}: {detail}")


class _StartFailed(Exception):
    pass


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


async def _list_tools(session: ClientSession) -> list[types.Tool]:
    tools: list[types.Tool] = []
    cursor: str | None = None
    for _ in range(100):  # bounded: a server that pages forever is a broken server
        page = await session.list_tools(cursor=cursor) if cursor else await session.list_tools()
        tools.extend(page.tools)
        cursor = page.nextCursor
        if not cursor:
            break
    return tools
