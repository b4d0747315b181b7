"""`clearance check`: the configuration, the tools file and what the runtime reaches, with
what would fail only once someone approved."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.config import Settings

if TYPE_CHECKING:
    from graph.tools import Registry


async def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    from bot.platforms import PLATFORMS, approver_forms, enabled_platforms, still_working
    from bot.runtime import load_tools, load_user, open_runtime, settings_dict
    from graph.llm import llm_configured

    registry = args.registry or load_tools(settings)
    print(f"tools: {len(registry.tools)} from {registry.source}")
    for tool in registry.tools:
        rules = " | ".join(r.describe() for r in tool.approval)
        print(f"  {tool.name:<10} run={tool.run.kind if tool.run else 'graph':<8} {rules}")
    problems = _run_problems(registry)
    for problem in problems:
        print(f"clearance: {registry.source}: {problem}", file=sys.stderr)
    db = "PostgreSQL" if settings.database_url.startswith("postgres") else "SQLite"
    print(f"database: {db}")
    for platform in PLATFORMS:
        how = platform.describe(settings) if platform.enabled(settings) else f"off ({platform.off_reason})"
        print(f"{platform.name}: {how}")
    names = [p.name for p in enabled_platforms(settings)]
    print(f"chat platforms enabled: {', '.join(names) or f'none — {still_working(settings)}'}")
    print(f"approver ids: *, {', '.join(approver_forms())}")
    user = load_user(settings, registry)
    print(f"agent: {user.describe() if user else 'the bundled agent'}")
    llm = "alias planner (no LLM configured)"
    if user is not None:
        llm = "your agent's own"
    elif settings.azure_openai_endpoint:
        llm = f"Azure OpenAI deployment {settings.azure_openai_deployment}"
    elif llm_configured(settings_dict(settings)):
        llm = f"OpenAI-compatible, model {settings.model or 'default'}"
    print(f"llm: {llm}")
    api = "on" if settings.api_enabled else "off (set CLEARANCE_API_TOKEN or CLEARANCE_API_TOKENS to turn it on)"
    print(f"approvals api: {api}")
    broken: list[str] = []
    async with open_runtime(settings, registry=registry) as runtime:
        await runtime.db.ping()
        if runtime.mcp is not None:
            mcp_tools = [t for t in runtime.registry.tools if t.run is not None and t.run.mcp is not None]
            print(f"mcp servers: {len(registry.mcp_servers)}, tools: {len(mcp_tools)}")
            for tool in mcp_tools:
                rules = " | ".join(r.describe() for r in tool.approval)
                print(f"  {tool.name:<10} run=mcp:{tool.run.mcp.server:<6} {rules}")  # type: ignore[union-attr]
            broken = runtime.mcp.failures
    print("database reachable: yes")
    for line in broken:
        print(f"error: {line}")
    return 1 if problems or broken else 0


def _run_problems(registry: Registry) -> list[str]:
    """What would fail only after someone approved: a python target that does not import,
    a webhook that is not an http(s) URL or whose secret is not in the environment."""
    from graph.executors import load_callable

    problems: list[str] = []
    for tool in registry.tools:
        run = tool.run
        if run is None:
            continue
        if run.python:
            module_name, _, attr = run.python.partition(":")
            try:
                target: Any = load_callable(run.python)
                if not callable(target):
                    problems.append(f"tool {tool.name}: run.python {run.python!r} is not a function")
            except AttributeError:
                problems.append(f"tool {tool.name}: run.python {run.python!r}: {module_name} has no {attr!r}")
            except Exception as exc:
                problems.append(f"tool {tool.name}: run.python {run.python!r} cannot be imported "
                                f"({type(exc).__name__}: {exc})")
        if run.webhook:
            url = urlsplit(run.webhook.url)
            if url.scheme not in ("http", "https") or not url.hostname:
                problems.append(f"tool {tool.name}: run.webhook.url {run.webhook.url!r} is not an http(s) URL")
            if run.webhook.secret_env and not os.environ.get(run.webhook.secret_env):
                problems.append(f"tool {tool.name}: run.webhook.secret_env {run.webhook.secret_env} is not set "
                                "in the environment")
    return problems
