"""A `create_agent` with LangChain's `HumanInTheLoopMiddleware` on two tools, as Clearance
fronts it: each gated call is a card in the thread; the middleware runs the tool once the
card is approved (or edited), and tells the model who rejected it and why.

    CLEARANCE_GRAPH=graph.examples.hitl_agent:agent clearance console           # batched
    CLEARANCE_GRAPH=graph.examples.hitl_agent:per_call_agent clearance console  # per call

`deploy` takes every decision (approve, edit, reject, reply in its place); `restart` only
approve and reject, so its card has no Edit and no Reply.
"""

from __future__ import annotations

from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain.tools import tool

from graph.examples.model import chat_model

INTERRUPT_ON: dict[str, Any] = {
    "deploy": True,
    "restart": {"allowed_decisions": ["approve", "reject"], "description": "Restart a service"},
}
PROMPT = "You operate services. Use the tools; report their results exactly."


@tool
def deploy(service: str, version: str, environment: str) -> str:
    """Deploy a version of a service (api, web, worker) to staging or prod."""
    return f"Deployed {service} {version} to {environment}."


@tool
def restart(service: str, environment: str) -> str:
    """Restart a service in an environment."""
    return f"Restarted {service} in {environment}."


@tool
def status(service: str) -> str:
    """Read-only: which version of a service runs where."""
    return f"{service}: v2.2 in prod, v2.3 in staging"


def build(mode: str) -> Any:
    middleware = HumanInTheLoopMiddleware(interrupt_on=INTERRUPT_ON, interrupt_mode=mode)  # type: ignore[arg-type]
    return create_agent(chat_model(), tools=[deploy, restart, status], system_prompt=PROMPT,
                        middleware=[middleware])


agent = build("batched")
per_call_agent = build("per_call")
