"""Run an approved (or ungated) tool call: command, python, webhook. `external` is not run here.

Every execution gets an idempotency key (the approval id) so an executor that is retried by
an operator can recognise a repeat. Output is captured and truncated; failures become a
failed ExecResult, never an exception, so the caller can journal and report them.
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

from graph.tools import RunSpec, ToolSpec


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


def substitute(argv: list[str], args: dict[str, Any]) -> list[str]:
    """Per-element substitution of {name}; values are never split or shell-parsed."""

    def text(value: Any) -> str:
        if value is None:
            return ""
        return value if isinstance(value, str) else json.dumps(value)

    out = []
    for element in argv:
        for key, value in args.items():
            element = element.replace("{" + key + "}", text(value))
        out.append(element)
    return out


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


async def execute(
    spec: ToolSpec, args: dict[str, Any], *, idempotency_key: str, approved_by: list[str]
) -> ExecResult:
    started = time.monotonic()
    run = spec.run
    try:
        if run.kind == "command":
            result = await _run_command(run, args, idempotency_key)
        elif run.kind == "python":
            result = await _run_python(run, args, idempotency_key)
        elif run.kind == "webhook":
            result = await _run_webhook(spec, args, idempotency_key, approved_by)
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


async def _run_command(run: RunSpec, args: dict[str, Any], key: str) -> ExecResult:
    argv = substitute(list(run.command or []), args)
    env = {**os.environ, "CLEARANCE_IDEMPOTENCY_KEY": key}
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
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=run.timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        return ExecResult(False, f"timed out after {run.timeout:g}s", proc.returncode)
    text = out.decode("utf-8", errors="replace").strip()
    if proc.returncode != 0:
        return ExecResult(False, f"exit status {proc.returncode}: {text}", proc.returncode)
    return ExecResult(True, text or "ok", 0)


def _load_callable(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


async def _run_python(run: RunSpec, args: dict[str, Any], key: str) -> ExecResult:
    func = _load_callable(run.python or "")
    kwargs = dict(args)
    params = inspect.signature(func).parameters
    if "idempotency_key" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs["idempotency_key"] = key
    if inspect.iscoroutinefunction(func):
        coro = func(**kwargs)
    else:
        coro = asyncio.to_thread(func, **kwargs)
    try:
        value = await asyncio.wait_for(coro, timeout=run.timeout)
    except asyncio.TimeoutError:
        return ExecResult(False, f"timed out after {run.timeout:g}s")
    if value is None:
        return ExecResult(True, "ok")
    return ExecResult(True, value if isinstance(value, str) else json.dumps(value, default=str))


async def _run_webhook(
    spec: ToolSpec, args: dict[str, Any], key: str, approved_by: list[str]
) -> ExecResult:
    hook = spec.run.webhook
    assert hook is not None
    body = json.dumps(
        {"tool": spec.name, "args": args, "approval_id": key, "approved_by": approved_by},
        separators=(",", ":"),
    ).encode()
    secret = os.environ.get(hook.secret_env, "") if hook.secret_env else ""
    timeout = aiohttp.ClientTimeout(total=spec.run.timeout)
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
                async with session.post(hook.url, data=body, headers=headers) as resp:
                    text = await resp.text(errors="replace")
                    if 200 <= resp.status < 300:
                        return ExecResult(True, text or "ok", resp.status)
                    last = f"HTTP {resp.status}: {text}"
                    if resp.status < 500:  # the receiver refused: retrying will not help
                        return ExecResult(False, last, resp.status)
            except asyncio.TimeoutError:
                # The receiver may have acted: only the idempotency key could make a retry
                # safe, and we cannot know it honours it.
                return ExecResult(False, f"webhook timed out after {spec.run.timeout:g}s")
            except aiohttp.ClientConnectionError as exc:
                last = f"{type(exc).__name__}: {exc}"
    return ExecResult(False, f"webhook failed after {hook.retries + 1} attempts: {last}")
