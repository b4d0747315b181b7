"""Invariant: the bot's secrets never reach a thread, a card, the audit trail, an API answer
or the model — not even when an approved tool prints them."""

from __future__ import annotations

import json
import sys

from adapters.base import Actor, Decision, DecisionClick
from bot.approvals.models import Status
from tests.conftest import console_message, runtime_for

SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-1111-secret-bot-token",
    "SLACK_SIGNING_SECRET": "signing-secret-value-22",
    "CLEARANCE_API_TOKEN": "api-token-value-333",
}
DEPLOY_TOKEN = "deploy-token-value-55555"
PRINTS_EVERYTHING = f"""
tools:
  - name: leak
    parameters: {{type: object, properties: {{}}}}
    aliases: ["leak"]
    approval: [{{approvers: ["*"]}}]
    env: {{TOKEN: "${{DEPLOY_TOKEN}}"}}
    run:
      command: ["{sys.executable}", "-c", "import os, json; print(json.dumps(dict(os.environ)))"]
  - name: leak_now
    parameters: {{type: object, properties: {{}}}}
    aliases: ["leak now"]
    approval: [{{required: false}}]
    env: {{TOKEN: "${{DEPLOY_TOKEN}}"}}
    run:
      command: ["{sys.executable}", "-c", "import os; print('token', os.environ['TOKEN'])"]
"""


async def test_an_approved_tool_printing_secrets_leaks_none(tmp_path, monkeypatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DEPLOY_TOKEN", DEPLOY_TOKEN)
    async with runtime_for(f"sqlite:///{tmp_path}/c.db", PRINTS_EVERYTHING, tmp_path) as rt:
        await rt.service.on_message(console_message("leak"))
        await rt.service.on_message(console_message("leak now", session="u"))
        [approval] = await rt.ledger.approvals(status=[Status.PENDING])
        await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, Actor("console", "bob", "bob")))
        await rt.service.drain()
        done = await rt.ledger.get(approval.id)
        assert done is not None and done.status is Status.DONE
        # The command saw only the minimal environment plus its own env: copy.
        printed = json.loads(done.result.replace("[redacted]", "REDACTED"))  # type: ignore[union-attr]
        assert set(printed) <= {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TOKEN", "CLEARANCE_IDEMPOTENCY_KEY",
                                "CLEARANCE_APPROVED_BY", "LC_CTYPE"}
        assert printed["TOKEN"] == "REDACTED"
        outputs = {
            "thread": json.dumps(rt.recorder.texts),
            "cards": json.dumps([repr(c) for c in rt.recorder.cards + rt.recorder.updates]),
            "audit": json.dumps(await rt.ledger.audit_trail(), default=str),
            "api": json.dumps([a.to_public() for a in await rt.ledger.approvals()]),
        }
        for thread in ("console:t", "console:u"):
            state = await rt.graph.aget_state({"configurable": {"thread_id": thread}})
            outputs[f"model {thread}"] = json.dumps([m.content for m in state.values["messages"]])
        assert "token [redacted]" in outputs["model console:u"]  # the ungated call ran and was cleaned
        for where, text in outputs.items():
            for secret in [*SECRETS.values(), DEPLOY_TOKEN]:
                assert secret not in text, f"{secret} leaked into {where}"
