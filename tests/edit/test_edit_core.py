"""Edits and previews through the real service, ledger and graph (SQLite and Postgres):
races between an edit and an approval, previews once per revision, failing and timed-out
previews, redaction, and the approvals API."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from adapters.base import Actor, Decision, DecisionClick, Outcome
from bot.approvals.models import Status
from bot.http.server import build_app
from tests.conftest import console_message, runtime_for
from tests.edit.tools_edit import command_preview, tools

DANA = Actor("console", "dana", "dana")
ERIN = Actor("console", "erin", "erin")
TOKEN = "edit-api-token"


def version_in_state(tmp_path: Any) -> str | None:
    path = tmp_path / "demo-state.json"
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("prod", {}).get("api", {}).get("version")


async def test_edit_and_approval_race_exactly_one_wins(database_url, tmp_path) -> None:
    for order in ("approve-first", "edit-first"):
        async with runtime_for(database_url, tools(quorum=1), tmp_path) as rt:
            thread = f"race-{order}"
            await rt.service.on_message(console_message("deploy api v2.3 to prod", session=thread))
            (approval,) = await rt.ledger.approvals(status=["pending"], thread_id=f"console:{thread}")
            approve = DecisionClick(approval.id, Decision.APPROVE, DANA)
            edit = DecisionClick(approval.id, Decision.EDIT, ERIN, args={"version": "v2.4"})
            first, second = (approve, edit) if order == "approve-first" else (edit, approve)
            results = await asyncio.gather(rt.service.on_decision(first), rt.service.on_decision(second))
            await rt.service.drain()
            by_kind = {click.decision: r for click, r in zip((first, second), results, strict=True)}
            accepted = [r for r in results if r.outcome is Outcome.ACCEPTED]
            assert len(accepted) == 1, [(r.outcome, r.message) for r in results]
            after = await rt.ledger.get(approval.id)
            executed = [r for r in await rt.ledger.audit_trail() if r["event"] == "executing"
                        and r["approval_id"] == approval.id]
            if by_kind[Decision.APPROVE].outcome is Outcome.ACCEPTED:
                # The approval of revision 1 won: v2.3 ran, once; the edit was refused.
                assert after.status is Status.DONE and after.args["version"] == "v2.3"
                assert len(executed) == 1 and version_in_state(tmp_path) == "v2.3"
                assert by_kind[Decision.EDIT].outcome is Outcome.ALREADY_DECIDED
            else:
                # The edit won: nothing ran; the approval of the old revision did not count.
                assert after.status is Status.PENDING and after.args["version"] == "v2.4"
                assert after.revision == 2 and not executed
                assert by_kind[Decision.APPROVE].outcome is Outcome.ALREADY_DECIDED
                assert "edited" in by_kind[Decision.APPROVE].message
            (tmp_path / "demo-state.json").unlink(missing_ok=True)


async def test_preview_once_per_revision_and_on_the_card(database_url, tmp_path) -> None:
    count = tmp_path / "previews"
    script = f'echo "$CLEARANCE_PREVIEW $1" >> {count}; echo "plan for $1 (preview=$CLEARANCE_PREVIEW)"'
    preview = command_preview(["sh", "-c", script, "sh", "{version}"])
    async with runtime_for(database_url, tools(preview=preview), tmp_path) as rt:
        await rt.service.on_message(console_message("deploy api v2.3 to prod"))
        (card,) = rt.recorder.cards
        assert card.preview == "plan for v2.3 (preview=1)" and not card.preview_failed
        # A new message re-runs the thread: the waiting call is not previewed again.
        await rt.service.on_message(console_message("status"))
        await rt.service.sweep()
        assert count.read_text().splitlines() == ["1 v2.3"]
        result = await rt.service.on_decision(DecisionClick(card.approval_id, Decision.EDIT, DANA,
                                                            args={"version": "v2.4"}))
        assert result.outcome is Outcome.ACCEPTED
        await rt.service.drain()
        assert count.read_text().splitlines() == ["1 v2.3", "1 v2.4"]
        last = rt.recorder.updates[-1]
        assert last.preview == "plan for v2.4 (preview=1)" and last.revision == 2
        assert [e.change_text for e in last.edits] == ["version: v2.3 → v2.4"]
        assert len(rt.recorder.cards) == 1
        trail = await rt.ledger.audit_trail()
        assert [r["detail"]["revision"] for r in trail if r["event"] == "previewed"] == [1, 2]


async def test_failing_and_timed_out_previews_leave_the_card_decidable(database_url, tmp_path) -> None:
    for argv, timeout, expected in ((["sh", "-c", "echo boom; exit 3"], "30s", "exit status 3: boom"),
                                    (["sleep", "5"], "0.3s", "timed out after 0.3s")):
        async with runtime_for(database_url, tools(quorum=1, preview=command_preview(argv, timeout)),
                               tmp_path) as rt:
            await rt.service.on_message(console_message("deploy api v2.3 to prod", session=timeout))
            card = rt.recorder.cards[-1]
            assert card.preview_failed and card.preview == expected
            result = await rt.service.on_decision(DecisionClick(card.approval_id, Decision.APPROVE, DANA))
            assert result.outcome is Outcome.ACCEPTED
            await rt.service.drain()
            assert (await rt.ledger.get(card.approval_id)).status is Status.DONE


async def test_preview_output_is_redacted(database_url, tmp_path, monkeypatch) -> None:
    secret = "tok-very-secret-0123456789"
    monkeypatch.setenv("DEPLOY_TOKEN", secret)
    preview = command_preview(["sh", "-c", 'echo "using $TOKEN"']) + "\n    env: {TOKEN: \"${DEPLOY_TOKEN}\"}"
    async with runtime_for(database_url, tools(preview=preview), tmp_path) as rt:
        await rt.service.on_message(console_message("deploy api v2.3 to prod"))
        (card,) = rt.recorder.cards
        assert card.preview == "using [redacted]"
        trail = json.dumps(await rt.ledger.audit_trail())
        assert secret not in trail and "using [redacted]" in trail


async def test_api_edit(database_url, tmp_path) -> None:
    async with runtime_for(database_url, tools(), tmp_path, CLEARANCE_API_TOKEN=TOKEN) as rt:
        await rt.service.on_message(console_message("deploy api v2.3 to prod"))
        (approval,) = await rt.ledger.approvals(status=["pending"])
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with TestServer(build_app(rt, sweep=False), host="127.0.0.1") as server, \
                aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http:
            async def decide(body: dict) -> tuple[int, Any]:
                async with http.post(f"/api/approvals/{approval.id}/decision", json=body, headers=auth) as resp:
                    return resp.status, await resp.json()

            assert (await decide({"decision": "edit", "args": {"version": "not a version"}, "by": "ops"}))[0] == 400
            assert (await decide({"decision": "edit", "args": {"service": "web"}, "by": "ops"}))[0] == 403
            assert (await decide({"decision": "edit", "by": "ops"}))[0] == 400
            status, body = await decide({"decision": "edit", "args": {"version": "v2.4"}, "by": "ops"})
            assert status == 200 and body["args"]["version"] == "v2.4" and body["status"] == "pending"
            # The editor counts as a requester: approving their own edit is refused.
            status, body = await decide({"decision": "approve", "by": "ops"})
            assert status == 403
        await rt.service.drain()
        edited = [r for r in await rt.ledger.audit_trail() if r["event"] == "edited"]
        assert len(edited) == 1 and edited[0]["actor"] == "api:ops"
