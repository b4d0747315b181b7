"""Tools files and small helpers for the policy tests."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, AsyncIterator

from langchain_core.messages import ToolMessage

from adapters.base import Actor
from bot.approvals.models import Approval
from tests.conftest import console_message, runtime_for

ALICE = Actor("console", "alice", "alice")  # the requester in console_message()
DANA = Actor("console", "dana", "dana")
ERIN = Actor("console", "erin", "erin")


def policy_tools(runs: Path, *, quorum: int = 2, approvers: str = '["console:dana", "console:erin"]',
                 expires: str | None = None, webhook_url: str = "http://127.0.0.1:9/unused") -> str:
    """deploy: prod needs `quorum` approvers and no self-approval; staging runs without a card.
    migrate: an external tool (an outside worker posts the result).
    notify: a webhook tool, signed with $HOOK_SECRET."""
    expiry = f"\n        expires_after: {expires}" if expires else ""
    return f"""
tools:
  - name: deploy
    description: Deploy a service to an environment
    parameters:
      type: object
      properties:
        service: {{type: string, enum: [api, web, worker]}}
        environment: {{type: string, enum: [staging, prod]}}
      required: [service, environment]
      additionalProperties: false
    aliases: ["deploy {{service}} to {{environment}}"]
    approval:
      - when: {{environment: prod}}
        approvers: {approvers}
        quorum: {quorum}
        allow_self_approval: false{expiry}
      - required: false
    run:
      command: ['sh', '-c',
                'echo "$CLEARANCE_IDEMPOTENCY_KEY {{service}} {{environment}}" >> {runs};
                 echo deployed {{service}} to {{environment}}']
      timeout: 30s
  - name: migrate
    description: Run database migrations (by the CI worker)
    parameters:
      type: object
      properties:
        service: {{type: string, enum: [api, web, worker]}}
      required: [service]
    aliases: ["migrate {{service}}"]
    approval:
      - approvers: ["api:ci", "console:dana"]{expiry}
    run:
      external: true
  - name: notify
    description: Tell the release channel
    parameters:
      type: object
      properties:
        service: {{type: string}}
      required: [service]
    aliases: ["notify {{service}}"]
    approval:
      - approvers: ["console:dana"]
    run:
      webhook: {{url: "{webhook_url}", secret_env: HOOK_SECRET, retries: 2}}
      timeout: 5s
"""


def runs_of(runs: Path) -> list[str]:
    if not runs.exists():
        return []
    return [line for line in runs.read_text().splitlines() if line.strip()]


def tool_messages(state: Any) -> list[ToolMessage]:
    return [m for m in state.values.get("messages", []) if isinstance(m, ToolMessage)]


def cfg(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


@contextlib.asynccontextmanager
async def one_card(database_url: str, tmp_path: Path, text: str = "deploy api to prod",
                   settings: dict[str, Any] | None = None, **tools: Any) -> AsyncIterator[tuple[Any, Approval, Path]]:
    """A runtime whose thread has asked for one gated call: (runtime, its approval, runs file)."""
    runs = tmp_path / "runs.txt"
    async with runtime_for(database_url, policy_tools(runs, **tools), tmp_path, **(settings or {})) as rt:
        await rt.service.on_message(console_message(text))
        [approval] = await rt.ledger.approvals(status=["pending"])
        yield rt, approval, runs
