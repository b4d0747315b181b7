"""Run an approved (or ungated) tool call: command, python, webhook, MCP. `external` is not run here.

Every execution gets an idempotency key (the approval id) so an executor that is retried by
an operator can recognise a repeat. Output is captured and truncated; failures become a
failed ExecResult, never an exception, so the caller can journal and report them.

The bot's own environment holds its platform tokens, API tokens and database URL; an approved
command is not trusted with them. A command sees only a minimal environment (see
`command_environment`) plus what its tool's `env:` names. Webhooks never follow redirects
(an approved call must reach the receiver that was configured, and a redirect could carry the
signed body elsewhere) and read at most 1 MiB of answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import importlib
import inspect
import json
import os
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from graph.arguments import MissingArgument, substitute
from graph.tools import RunSpec, ToolSpec

__all__ = ["ExecResult", "command_environment", "execute", "sign_webhook", "substitute", "truncate"]


@dataclass(frozen=True)
class ExecResult:
    ok: bool
    content: str
    exit_code: int | None = None
    seconds: float = 0.0


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 40)] + f"\n… [truncated, {len(text)} characters in all]"


# Passed through from the bot's environment when it has them: what a program needs to find
# binaries, a home directory, its locale and time zone. Nothing else of the bot's is passed.
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")
MAX_RESPONSE_BYTES = 1024 * 1024


def command_environment(spec: ToolSpec, idempotency_key: str, approved_by: list[str]) -> dict[str, str]:
    """The whole environment of a command run: a few pass-through variables, the tool's `env:`
    (which may override them), then the run's own identity, which the tool cannot override."""
    env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    env.update(spec.env_values)
    env["CLEARANCE_IDEMPOTENCY_KEY"] = idempotency_key
    env["CLEARANCE_APPROVED_BY"] = ",".join(approved_by)
    return env


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


async def execute(
    spec: ToolSpec, args: dict[str, Any], *, idempotency_key: str, approved_by: list[str]
) -> ExecResult:
    started = time.monotonic()
    run = spec.run
    if run is None:
        return ExecResult(False, f"tool {spec.name} has no run: (its entry is a rule for your own agent)")
    try:
        if run.kind == "command":
            result = await _run_command(spec, args, idempotency_key, approved_by)
        elif run.kind == "python":
            result = await _run_python(run, args, idempotency_key)
        elif run.kind == "webhook":
            result = await _run_webhook(spec, args, idempotency_key, approved_by)
        elif run.kind == "mcp":
            result = await _run_mcp(spec, args, idempotency_key, approved_by)
        else:
            return ExecResult(False, "external tools are run by an outside worker")
    except Exception as exc:  # an executor bug must become a reported failure
        result = ExecResult(False, f"{type(exc).__name__}: {exc}")
    return ExecResult(
        result.ok,
        truncate(result.content, run.max_output),
        result.exit_code,
        time.monotonic() - started,
    )


def run_of(spec: ToolSpec) -> RunSpec:
    """The `run:` of a tool that has one (`execute` never passes on one that has not)."""
    if spec.run is None:
        raise ValueError(f"tool {spec.name} has no run:")
    return spec.run


async def _run_command(spec: ToolSpec, args: dict[str, Any], key: str, approved_by: list[str]) -> ExecResult:
    run = run_of(spec)
    try:
        argv = substitute(list(run.command or []), args, spec.argument_defaults())
    except MissingArgument as exc:  # refused before the card normally; never run half-filled
        return ExecResult(False, f"not executed: {exc}")
    result = await run_process(argv, command_environment(spec, key, approved_by), run.timeout)
    return result if not result.ok else ExecResult(True, result.content or "ok", 0)


async def run_process(argv: list[str], env: dict[str, str], timeout: float) -> ExecResult:
    """Run an argv with no shell and no stdin, stderr merged into stdout, in a session of its
    own, killed at `timeout`. Shared by executions and previews, so both fail the same way."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        return ExecResult(False, f"cannot start {argv[0]}: {exc.strerror or exc}")
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        return ExecResult(False, f"timed out after {timeout:g}s", proc.returncode)
    text = out.decode("utf-8", errors="replace").strip()
    if proc.returncode != 0:
        return ExecResult(False, f"exit status {proc.returncode}: {text}", proc.returncode)
    return ExecResult(True, text, 0)


def load_callable(target: str) -> Any:
    """The object `package.module:attr` names (attr may be dotted); raises what importing or
    looking it up raises."""
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class PythonTimeout(Exception):
    pass


async def call_python(target: str, args: dict[str, Any], *, key: str, timeout: float) -> Any:
    """Call a `package.module:function` with the arguments as keywords (and `idempotency_key`
    when it takes one): a coroutine function awaited, any other in a worker thread, within
    `timeout` seconds (PythonTimeout). Returns what it returned."""
    func = load_callable(target)
    kwargs = dict(args)
    params = inspect.signature(func).parameters
    if "idempotency_key" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs["idempotency_key"] = key
    coro = func(**kwargs) if inspect.iscoroutinefunction(func) else asyncio.to_thread(func, **kwargs)
    try:
        return await asyncio.wait_for(coro, timeout=timeout)
    except asyncio.TimeoutError:
        raise PythonTimeout(f"timed out after {timeout:g}s") from None


def as_text(value: Any) -> str:
    """A Python tool's or preview's return value as the text a card and the model see."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


async def _run_python(run: RunSpec, args: dict[str, Any], key: str) -> ExecResult:
    try:
        value = await call_python(run.python or "", args, key=key, timeout=run.timeout)
    except PythonTimeout as exc:
        return ExecResult(False, str(exc))
    return ExecResult(True, "ok" if value is None else as_text(value))


async def _run_mcp(spec: ToolSpec, args: dict[str, Any], key: str, approved_by: list[str]) -> ExecResult:
    """Through the process's live session to the server; the approval id travels in `_meta`."""
    target, caller = run_of(spec).mcp, spec.mcp_caller
    assert target is not None
    if caller is None:
        return ExecResult(False, f"MCP server {target.server} is not connected; not executed")
    ok, text = await caller.call_tool(target.server, target.tool, args, timeout=run_of(spec).timeout,
                                      meta={"idempotency_key": key, "approved_by": approved_by})
    return ExecResult(ok, text)


class _TooLarge(Exception):
    pass


async def _read_bounded(resp: aiohttp.ClientResponse) -> str:
    """The response body, or _TooLarge as soon as it passes MAX_RESPONSE_BYTES: the rest is
    never read into memory (the connection is dropped with the response)."""
    if resp.content_length is not None and resp.content_length > MAX_RESPONSE_BYTES:
        raise _TooLarge
    body = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise _TooLarge
    try:
        return body.decode(resp.charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")


async def _run_webhook(
    spec: ToolSpec, args: dict[str, Any], key: str, approved_by: list[str]
) -> ExecResult:
    hook = run_of(spec).webhook
    assert hook is not None
    body = json.dumps(
        {"tool": spec.name, "args": args, "approval_id": key, "approved_by": approved_by},
        separators=(",", ":"),
    ).encode()
    secret = os.environ.get(hook.secret_env, "") if hook.secret_env else ""
    timeout = aiohttp.ClientTimeout(total=run_of(spec).timeout)
    last = "no attempt"
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for attempt in range(hook.retries + 1):
            if attempt:
                await asyncio.sleep(min(0.25 * 2**attempt, 5.0))
            stamp = str(int(time.time()))
            headers = {"Content-Type": "application/json", "Idempotency-Key": key}
            headers["X-Clearance-Timestamp"] = stamp
            if secret:
                headers["X-Clearance-Signature"] = sign_webhook(secret, stamp, body)
            try:
                async with session.post(hook.url, data=body, headers=headers, allow_redirects=False) as resp:
                    if 300 <= resp.status < 400:
                        # The receiver answered; following would send the signed call to a
                        # place nobody approved.
                        where = resp.headers.get("Location", "?")
                        return ExecResult(False, f"HTTP {resp.status}: redirect to {where} not followed",
                                          resp.status)
                    try:
                        text = await _read_bounded(resp)
                    except _TooLarge:
                        return ExecResult(False, f"HTTP {resp.status}: response larger than 1 MiB", resp.status)
                    if 200 <= resp.status < 300:
                        return ExecResult(True, text or "ok", resp.status)
                    last = f"HTTP {resp.status}: {text}"
                    if resp.status < 500:  # the receiver refused: retrying will not help
                        return ExecResult(False, last, resp.status)
            except asyncio.TimeoutError:
                # The receiver may have acted: only the idempotency key could make a retry
                # safe, and we cannot know it honours it.
                return ExecResult(False, f"webhook timed out after {run_of(spec).timeout:g}s")
            except aiohttp.ClientConnectionError as exc:
                last = f"{type(exc).__name__}: {exc}"
    return ExecResult(False, f"webhook failed after {hook.retries + 1} attempts: {last}")
