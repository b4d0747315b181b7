"""Tools files and small helpers shared by the core tests."""

from __future__ import annotations

from pathlib import Path


def counting_tools(count_file: Path, *, sleep: float = 0.2, quorum: int = 1,
                   expires: str | None = None) -> str:
    """A gated `act` tool whose command appends one line per execution to `count_file`, so
    a test can count executions across tasks and processes."""
    expiry = f"\n        expires_after: {expires}" if expires else ""
    return f"""
tools:
  - name: act
    description: Do something observable
    parameters:
      type: object
      properties:
        target: {{type: string, pattern: "^[a-z0-9-]+$"}}
      required: [target]
      additionalProperties: false
    aliases: ["act on {{target}}"]
    approval:
      - approvers: ["*"]
        quorum: {quorum}
        allow_self_approval: false{expiry}
    run:
      command: ["sh", "-c",
                "echo \\"$CLEARANCE_IDEMPOTENCY_KEY {{target}}\\" >> {count_file};
                 sleep {sleep}; echo acted on {{target}}"]
      timeout: 30s
  - name: look
    description: Read-only
    parameters: {{type: object, properties: {{}}}}
    aliases: ["look"]
    approval: [{{required: false}}]
    run:
      command: ["echo", "all quiet"]
"""


def executions(count_file: Path) -> list[str]:
    if not count_file.exists():
        return []
    return [line for line in count_file.read_text().splitlines() if line.strip()]
