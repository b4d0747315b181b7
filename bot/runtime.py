"""Compose the application from settings: database, checkpointer, ledger, locks, graph, LLM,
and the service that runs the flow over them."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator

from bot.config import Settings
from bot.errors import ConfigError
from bot.flow.inbox import Inbox
from bot.flow.service import Service
from bot.flow.step_up import StepUpSettings
from bot.ledger.database import Database
from bot.ledger.ledger import Ledger
from bot.ledger.locks import ThreadLocks
from bot.ledger.remote_threads import RemoteThreads
from bot.ledger.store import open_store
from bot.platforms import approver_platforms, group_resolver
from graph.agent import build_graph
from graph.llm import build_model, build_trimmer
from graph.redact import Redactor
from graph.remote import RemoteRunner
from graph.runner import AgentRunner, Runner
from graph.tools import Registry, ToolsFileError, load_registry
from graph.user_graph import GraphLoadError, UserGraph, load_user_graph

if TYPE_CHECKING:
    from graph.mcp import McpManager

log = logging.getLogger("clearance")


@dataclass
class Runtime:
    settings: Settings
    registry: Registry
    db: Database
    ledger: Ledger
    locks: ThreadLocks
    graph: Any
    service: Service
    redactor: Redactor
    mcp: McpManager | None = None
    user_graph: UserGraph | None = None  # the user's own agent, when it runs instead of the bundled one
    agent_server: RemoteRunner | None = None  # the LangGraph Agent Server the agent runs on, if any
    inbox: Inbox | None = None  # its interrupts that Clearance did not cause


def load_user(settings: Settings, registry: Registry) -> UserGraph | None:
    """The user's own agent, if CLEARANCE_GRAPH (or tools.yml's `graph:`) names one; imported
    now, so a bad target fails at start in one line."""
    target = settings.graph or registry.graph
    if not target:
        return None
    source = "CLEARANCE_GRAPH" if settings.graph else f"CLEARANCE_TOOLS: {registry.source}: graph"
    paths = (settings.graph_path or "").split(os.pathsep)
    try:
        return load_user_graph(target, [p for p in paths if p])
    except GraphLoadError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def load_tools(settings: Settings) -> Registry:
    """The tools file: CLEARANCE_TOOLS, else ./tools.yml, else the bundled example, whose tools
    are the bundled agent's. The user's own agent has tools of its own: without a file of
    rules for them, it gets none (each gated call then needs one approval by anyone but the
    requester, or `default_approval:`)."""
    if settings.own_agent and not settings.tools_path and not Path("tools.yml").is_file():
        return Registry(tools=[], source="(no tools file)")
    try:
        return load_registry(settings.tools_path, platforms=approver_platforms())
    except ToolsFileError as exc:
        raise ConfigError(f"CLEARANCE_TOOLS: {exc}") from None


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings, *, registry: Registry | None = None,
                       model: Any = None) -> AsyncIterator[Runtime]:
    registry = registry or load_tools(settings)
    user = load_user(settings, registry) if not settings.langgraph_url else None
    stepping = [t.name for t in registry.tools if any(r.step_up_config for r in t.approval)]
    stepping += ["default_approval"] if any(r.step_up_config for r in registry.default_approval or []) else []
    if stepping and not settings.oidc_issuer:
        raise ConfigError(f"CLEARANCE_OIDC_ISSUER: required by the step_up rule of {stepping[0]} "
                          "(the identity provider approvers log in at again)")
    if user is None and not settings.langgraph_url and registry.rule_only:
        raise ConfigError(f"CLEARANCE_TOOLS: {registry.source}: tool {registry.rule_only[0]} has no run: "
                          "(an entry without one is a rule for your own agent: set CLEARANCE_GRAPH)")
    llm_config = settings_dict(settings)
    url = settings.database_url
    redactor = Redactor(settings.secret_values() | registry.secret_values())
    async with contextlib.AsyncExitStack() as stack:
        mcp = None
        if registry.mcp_servers and not (user or settings.langgraph_url):
            # MCP tools' schemas come from their servers: the registry is complete only once
            # they answered, and the model and graph are built from the complete one. The MCP
            # SDK (and the web stack it pulls in) is imported only here: a tools file without
            # `mcp_servers:` never pays for it at start.
            from graph.mcp import McpManager

            mcp = McpManager(registry.mcp_servers, redact=redactor.text)
            stack.push_async_callback(mcp.close)
            await mcp.start()
            try:
                registry = mcp.complete(registry)
            except ToolsFileError as exc:
                raise ConfigError(f"CLEARANCE_TOOLS: {exc}") from None
        store = await stack.enter_async_context(open_store(url))
        db, locks = store.db, store.locks
        ledger = Ledger(db, redact=redactor.value)
        runner: AgentRunner
        if settings.langgraph_url:
            # The agent runs on a LangGraph Agent Server: its graph, model and checkpoints are
            # the server's; the chats, the ledger, policy and cards are ours.
            graph = None
            key = settings.langgraph_api_key.get_secret_value() if settings.langgraph_api_key else None
            remote_threads = RemoteThreads(db)
            runner = RemoteRunner(settings.langgraph_url, assistant_id=settings.assistant_id,
                                  threads=remote_threads, api_key=key)
        elif user is not None:
            # The graph's tools, model and MCP servers are its own business; the rules are ours.
            try:
                graph = await user.compile(store.checkpointer)
            except GraphLoadError as exc:
                raise ConfigError(f"CLEARANCE_GRAPH: {exc}") from None
        else:
            model = model or build_model(llm_config, registry)
            graph = build_graph(registry, model, trim=build_trimmer(llm_config),
                                redact=redactor.text).compile(checkpointer=store.checkpointer)
        if not settings.langgraph_url:
            runner = Runner(graph, defers=user is None)
        service = Service(runner=runner, registry=registry, ledger=ledger, locks=locks,
                          execution_lease=settings.execution_lease,
                          group_resolver=group_resolver(settings), redact=redactor.text,
                          step_up=step_up_settings(settings))
        inbox = None
        if isinstance(runner, RemoteRunner):
            inbox = Inbox(runner=runner, threads=remote_threads, ledger=ledger, outbox=service.outbox,
                          runs=service.runs, channel=settings.inbox_channel)
        yield Runtime(settings, registry, db, ledger, locks, graph, service, redactor, mcp, user,
                      runner if isinstance(runner, RemoteRunner) else None, inbox)
        await service.drain()


def step_up_settings(settings: Settings) -> StepUpSettings | None:
    if not (settings.oidc_issuer and settings.oidc_client_id and settings.public_url):
        return None
    secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
    return StepUpSettings(settings.oidc_issuer, settings.oidc_client_id, secret, settings.public_url)


def settings_dict(settings: Settings) -> dict[str, Any]:
    """The LLM part of the settings as plain values: graph/ knows nothing of bot.config."""
    def secret(value: Any) -> str | None:
        return value.get_secret_value() if value is not None else None

    return {
        "openai_api_key": secret(settings.openai_api_key),
        "openai_base_url": settings.openai_base_url,
        "model": settings.model,
        "azure_openai_endpoint": settings.azure_openai_endpoint,
        "azure_openai_api_key": secret(settings.azure_openai_api_key),
        "azure_openai_deployment": settings.azure_openai_deployment,
        "llm_timeout": settings.llm_timeout,
        "llm_max_retries": settings.llm_max_retries,
        "llm_streaming": settings.llm_streaming,
        "llm_context_tokens": settings.llm_context_tokens,
    }
