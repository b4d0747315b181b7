"""The LangGraph tutorial's agent as Clearance fronts it: `create_agent` whose risky tool asks
for approval by raising `interrupt()` with the tool-call request, and does the work itself
once the answer says approved.

    CLEARANCE_GRAPH=graph.examples.tutorial_agent:agent clearance console

It is compiled with the tutorial's `InMemorySaver`; Clearance runs it on its own
checkpointer, so a card waiting when the process restarts still resumes the run.
"""

from __future__ import annotations

from typing import Any

from langchain.agents import create_agent
from langchain.tools import ToolRuntime, tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import interrupt

from graph.examples.model import chat_model

SERVICES = ("api", "web", "worker")


def ask_approval(name: str, args: dict[str, Any], runtime: ToolRuntime) -> dict[str, Any]:
    """Pause for a decision. Nothing happens before this line: on every resume LangGraph runs
    the tool again up to here."""
    answer = interrupt({"type": "tool-call", "tool_call_id": runtime.tool_call_id,
                        "tool_call_name": name, "tool_call_args": args})
    return answer if isinstance(answer, dict) else {}


def refusal(answer: dict[str, Any]) -> str | None:
    """What the model hears when the call was not approved (who said so and why)."""
    decision = answer.get("decision")
    if decision == "approve":
        return None
    who = ", ".join(str(b.get("name") or b.get("id")) for b in answer.get("by") or []) or "nobody"
    if decision == "expire":
        return "Not done: the approval expired before anyone decided."
    reason = answer.get("reason") or "no reason given"
    return f"Not done: rejected by {who} ({reason})."


@tool
def deploy(service: str, version: str, environment: str, runtime: ToolRuntime) -> str:
    """Deploy a version of a service (api, web, worker) to staging or prod."""
    answer = ask_approval("deploy", {"service": service, "version": version, "environment": environment}, runtime)
    if (why := refusal(answer)) is not None:
        return why
    final = answer.get("args") or {"service": service, "version": version, "environment": environment}
    return f"Deployed {final['service']} {final['version']} to {final['environment']}."


@tool
def status(service: str) -> str:
    """Read-only: which version of a service runs where."""
    return f"{service}: v2.2 in prod, v2.3 in staging" if service in SERVICES else f"unknown service {service}"


agent = create_agent(chat_model(), tools=[deploy, status],
                     system_prompt="You operate deployments. Use the tools; report their results exactly.",
                     checkpointer=InMemorySaver())
