"""The graph `langgraph dev` serves in the Agent Server tests: a `create_agent` with LangChain's
HumanInTheLoopMiddleware on two tools, its model the test's local OpenAI-compatible fake
(AGENT_SERVER_OPENAI), and each tool appending to AGENT_SERVER_RAN when it really runs. The
server owns its checkpoints: no checkpointer here."""

from __future__ import annotations

import os

from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain.tools import tool
from langchain_openai import ChatOpenAI


def _ran(line: str) -> str:
    with open(os.environ["AGENT_SERVER_RAN"], "a") as f:
        f.write(line + "\n")
    return line


@tool
def deploy(service: str, version: str, environment: str) -> str:
    """Deploy a version of a service to an environment."""
    return _ran(f"deployed {service} {version} to {environment}")


@tool
def restart(service: str, environment: str) -> str:
    """Restart a service."""
    return _ran(f"restarted {service} in {environment}")


agent = create_agent(
    ChatOpenAI(base_url=os.environ["AGENT_SERVER_OPENAI"], api_key="sk-agent-server",  # type: ignore[arg-type]
               model="gpt-server", max_retries=0, timeout=20),
    tools=[deploy, restart],
    middleware=[HumanInTheLoopMiddleware(interrupt_on={"deploy": True,
                                                       "restart": {"allowed_decisions": ["approve", "reject"]}})],
)
