"""The stdio transport to an MCP server, with an exact environment.

The SDK's own stdio client adds variables of the bot's environment to the server's (LOGNAME,
SHELL, TERM, USER) and expands `${VAR}` inside values; a server must see only what an approved
command sees (PATH, HOME, LANG, LC_ALL, TZ and its own `env:`), so the process is started here
and wired to the SDK's message streams the same way. The process handle is kept so the caller
notices at once when the server dies, instead of at the next call.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from collections import deque
from typing import AsyncIterator, Callable

import anyio
import mcp.types as types
from anyio.abc import Process
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from anyio.streams.text import TextReceiveStream
from mcp.shared.message import SessionMessage

log = logging.getLogger("clearance.mcp")
STOP_GRACE = 2.0  # seconds a server gets to exit after its stdin closes, then SIGTERM, then SIGKILL
MAX_STDERR_LINE = 500


class StdioServer:
    """A started server process and the last lines it wrote to stderr (for error messages)."""

    def __init__(self, process: Process) -> None:
        self.process = process
        self.stderr_tail: deque[str] = deque(maxlen=5)

    @property
    def pid(self) -> int:
        return self.process.pid

    def last_words(self) -> str:
        return " | ".join(self.stderr_tail)


@contextlib.asynccontextmanager
async def stdio_transport(
    name: str, argv: list[str], env: dict[str, str], redact: Callable[[str], str]
) -> AsyncIterator[tuple[MemoryObjectReceiveStream[SessionMessage | Exception],
                         MemoryObjectSendStream[SessionMessage], StdioServer]]:
    """Start `argv` with exactly `env`; yield (read stream, write stream, server) for a
    `ClientSession`. Raises OSError when the program cannot be started."""
    read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)
    try:
        # A session of its own: stopping the server stops whatever it started too.
        process = await anyio.open_process(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, start_new_session=True)
    except OSError:
        for stream in (read_writer, read_stream, write_stream, write_reader):
            await stream.aclose()
        raise
    server = StdioServer(process)

    async def stdout_reader() -> None:
        assert process.stdout is not None
        buffer = ""
        try:
            async with read_writer:
                async for chunk in TextReceiveStream(process.stdout, encoding="utf-8", errors="replace"):
                    *lines, buffer = (buffer + chunk).split("\n")
                    for line in lines:
                        if not line.strip():
                            continue
                        try:
                            message = types.JSONRPCMessage.model_validate_json(line)
                        except Exception as exc:  # a stray print: the session reports it, we go on
                            await read_writer.send(exc)
                            continue
                        await read_writer.send(SessionMessage(message))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass

    async def stdin_writer() -> None:
        assert process.stdin is not None
        try:
            async with write_reader:
                async for message in write_reader:
                    data = message.message.model_dump_json(by_alias=True, exclude_none=True)
                    await process.stdin.send((data + "\n").encode())
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            pass  # the server is gone: the session sees its stdout close and fails pending calls

    async def stderr_reader() -> None:
        assert process.stderr is not None
        buffer = ""
        try:
            async for chunk in TextReceiveStream(process.stderr, encoding="utf-8", errors="replace"):
                *lines, buffer = (buffer + chunk).split("\n")
                for line in lines:
                    if line.strip():
                        clean = redact(line.strip())[:MAX_STDERR_LINE]
                        server.stderr_tail.append(clean)
                        log.debug("mcp server %s: %s", name, clean)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass

    async with anyio.create_task_group() as group:
        group.start_soon(stdout_reader)
        group.start_soon(stdin_writer)
        group.start_soon(stderr_reader)
        try:
            yield read_stream, write_stream, server
        finally:
            with anyio.CancelScope(shield=True):
                await _stop(process)
                for stream in (read_stream, write_stream, read_writer, write_reader):
                    await stream.aclose()
            group.cancel_scope.cancel()


async def _stop(process: Process) -> None:
    """Close stdin (the MCP way to ask a stdio server to exit), then SIGTERM, then SIGKILL,
    each to the server's whole process group."""
    if process.returncode is not None:
        return
    with contextlib.suppress(Exception):
        if process.stdin is not None:
            await process.stdin.aclose()
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, sig)
        with anyio.move_on_after(STOP_GRACE):
            await process.wait()
            return
