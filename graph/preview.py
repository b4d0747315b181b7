"""Previews: what a gated call would do, computed before anyone decides, for its card.

A preview is the tool author's side-effect-free dry run (a Terraform plan, a diff, "api:
v1.0 → v2.3 in prod"). It runs with the same minimal environment as an execution plus
`CLEARANCE_PREVIEW=1`, so a script shared by `run` and `preview` can tell the two apart, and
within a timeout (30 s unless the tool says otherwise). A preview never fails the call: a
crash, a non-zero exit or a timeout becomes a failed PreviewResult whose text says why, and
the card stays decidable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graph.arguments import MissingArgument, substitute
from graph.executors import PythonTimeout, as_text, call_python, command_environment, run_process, truncate
from graph.tools import PreviewSpec, ToolSpec

PREVIEW_ENV = "CLEARANCE_PREVIEW"


@dataclass(frozen=True)
class PreviewResult:
    ok: bool
    text: str


async def run_preview(spec: ToolSpec, args: dict[str, Any], *, key: str) -> PreviewResult | None:
    """The preview of one call with these arguments; None when the tool has none. `key`
    identifies the approval (CLEARANCE_IDEMPOTENCY_KEY, as for executions)."""
    preview = spec.preview
    if preview is None:
        return None
    try:
        if preview.command is not None:
            result = await _command(spec, preview, args, key)
        else:
            result = await _python(preview, args, key)
    except Exception as exc:  # the tool author's code: any failure is a failed preview
        result = PreviewResult(False, f"{type(exc).__name__}: {exc}")
    return PreviewResult(result.ok, truncate(result.text, preview.max_output))


async def _command(spec: ToolSpec, preview: PreviewSpec, args: dict[str, Any], key: str) -> PreviewResult:
    try:
        argv = substitute(list(preview.command or []), args, spec.argument_defaults())
    except MissingArgument as exc:
        return PreviewResult(False, str(exc))
    env = command_environment(spec, key, [])
    env[PREVIEW_ENV] = "1"
    result = await run_process(argv, env, preview.timeout)
    return PreviewResult(result.ok, result.content or ("(no output)" if result.ok else ""))


async def _python(preview: PreviewSpec, args: dict[str, Any], key: str) -> PreviewResult:
    try:
        value = await call_python(preview.python or "", args, key=key, timeout=preview.timeout)
    except PythonTimeout as exc:
        return PreviewResult(False, str(exc))
    return PreviewResult(True, "(no output)" if value is None else as_text(value))
