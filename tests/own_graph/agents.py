"""Users' own graphs, as they write them: a real `create_agent`, with a tool that interrupts
with the tool-call request (inside a parent graph, as the tutorial has it) or with LangChain's
`HumanInTheLoopMiddleware` in both modes, and a graph that asks a question. Each is a factory
taking `checkpointer=` (so each test points its model at its own fake server, read from
OWN_GRAPH_OPENAI at build time); the tests also run the shipped examples themselves."""

from __future__ import annotations

import os
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain.tools import ToolRuntime, tool
from langchain_core.messages import AIMessage
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.types import interrupt

RAN = "OWN_GRAPH_RAN"  # a file each tool appends a line to when it really runs


def _model() -> ChatOpenAI:
    return ChatOpenAI(base_url=os.environ["OWN_GRAPH_OPENAI"], api_key="sk-own-graph",  # type: ignore[arg-type]
                      model="gpt-own", max_retries=0, timeout=10)


def _ran(line: str) -> str:
    with open(os.environ[RAN], "a") as f:
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


@tool
def gated_deploy(service: str, version: str, environment: str, runtime: ToolRuntime) -> str:
    """Deploy, after a human approved (the tutorial's tool-call request)."""
    answer: Any = interrupt({"type": "tool-call", "tool_call_id": runtime.tool_call_id, "tool_call_name": "deploy",
                             "tool_call_args": {"service": service, "version": version, "environment": environment}})
    if answer.get("decision") != "approve":
        return f"not deployed: {answer.get('decision')} ({answer.get('reason') or 'no reason'})"
    final = answer.get("args") or {"service": service, "version": version, "environment": environment}
    return _ran(f"deployed {final['service']} {final['version']} to {final['environment']}")


INTERRUPT_ON: dict[str, Any] = {"deploy": True, "restart": {"allowed_decisions": ["approve", "reject"]}}


def hitl(checkpointer: Any) -> Any:
    return create_agent(_model(), tools=[deploy, restart], checkpointer=checkpointer,
                        middleware=[HumanInTheLoopMiddleware(interrupt_on=INTERRUPT_ON)])


def per_call(checkpointer: Any) -> Any:
    return create_agent(_model(), tools=[deploy, restart], checkpointer=checkpointer,
                        middleware=[HumanInTheLoopMiddleware(interrupt_on=INTERRUPT_ON, interrupt_mode="per_call")])


def tutorial(checkpointer: Any) -> Any:
    """The agent as a node of a parent graph: its interrupts are raised inside a subgraph."""
    agent = create_agent(_model(), tools=[gated_deploy])
    parent = StateGraph(MessagesState)
    parent.add_node("agent", agent)
    parent.add_edge(START, "agent")
    return parent.compile(checkpointer=checkpointer)


def asking(checkpointer: Any) -> Any:
    """A graph that asks a question before it acts (any interrupt value that is no approval)."""
    def ask(state: MessagesState) -> dict[str, Any]:
        where = interrupt({"question": "Which environment?", "choices": ["staging", "prod"]})
        return {"messages": [AIMessage(content=f"Deploying to {where}.")]}

    graph = StateGraph(MessagesState)
    graph.add_node("ask", ask)
    graph.add_edge(START, "ask")
    return graph.compile(checkpointer=checkpointer)


def _asking_builder() -> StateGraph:
    def ask(state: MessagesState) -> dict[str, Any]:
        where = interrupt("Which environment, staging or prod?")
        return {"messages": [AIMessage(content=f"Deploying to {where}.")]}

    graph = StateGraph(MessagesState)
    graph.add_node("ask", ask)
    graph.add_edge(START, "ask")
    return graph


# The same graph as a builder, and compiled with the tutorial's in-memory checkpointer.
asking_builder = _asking_builder()
asking_compiled = _asking_builder().compile(checkpointer=InMemorySaver())
not_a_graph = 42
