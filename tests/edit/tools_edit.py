"""A tools file for edit and preview tests: prod deploys need two approvers, the version is
editable, and the preview is the demo's plan (or a command given by the test)."""

from __future__ import annotations

from typing import Any

DEPLOY = """tools:
  - name: deploy
    description: Deploy a service version to an environment
    parameters:
      type: object
      properties:
        service: {{type: string, enum: [api, web, worker]}}
        version: {{type: string, pattern: "^v?[0-9][0-9.]*$"}}
        environment: {{type: string, enum: [staging, prod]}}
      required: [service, environment]
      additionalProperties: false
    aliases:
      - "deploy {{service}} {{version}} to {{environment}}"
    approval:
      - when: {{version: "v9"}}
        required: false
      - when: {{environment: prod}}
        approvers: ["*"]
        quorum: {quorum}
        editable: [version]
    preview:
{preview}
    run:
      python: "graph.demo:deploy"
"""
PLAN = '      python: "graph.demo:deploy_plan"'


def tools(quorum: int = 2, preview: str = PLAN) -> str:
    return DEPLOY.format(quorum=quorum, preview=preview)


def command_preview(argv: list[Any], timeout: str = "30s") -> str:
    import json

    return f"      command: {json.dumps([str(a) for a in argv])}\n      timeout: {timeout}"
