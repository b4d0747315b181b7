"""The approvals API's authority, adversarially: with both CLEARANCE_API_TOKEN and
CLEARANCE_API_TOKENS set, the shared token cannot speak as a name a named token owns; the
audit tells the credentials apart and never shows a token; a decision may name the revision
it read (409 when an edit replaced it); a body with a key given twice is refused."""

from __future__ import annotations

import json
from pathlib import Path

from tests.policy.test_api import call
from tests.policy.test_api_identities import bearer, deploy_card
from tests.policy.tools import runs_of

RELEASE, OTHER, SHARED = "rb-token-1f2e", "other-token-4d3c", "shared-token-77c1"
BOTH = {"CLEARANCE_API_TOKENS": f"release-bot={RELEASE},other={OTHER}", "CLEARANCE_API_TOKEN": SHARED}
EDITABLE = """
tools:
  - name: deploy
    parameters:
      type: object
      properties:
        service: {type: string, enum: [api, web, worker]}
        environment: {type: string, enum: [staging, prod]}
      required: [service, environment]
    aliases: ["deploy {service} to {environment}"]
    approval:
      - approvers: ["api:a", "api:b"]
        editable: [service]
    run: {command: ["sh", "-c", "echo ran {service} >> RUNS"]}
"""


async def test_the_shared_token_cannot_act_as_a_named_tokens_identity(database_url, tmp_path: Path) -> None:
    async with deploy_card(database_url, tmp_path, '["api:release-bot", "api:other"]',
                           **BOTH) as (rt, http, approval, runs):
        path = f"/api/approvals/{approval.id}/decision"
        for body in ({"decision": "approve", "by": "release-bot"}, {"decision": "reject", "by": "other"},
                     {"decision": "edit", "by": "release-bot", "args": {"service": "web"}}):
            status, answer = await call(http, "POST", path, headers=bearer(SHARED), json=body)
            assert status == 403 and "identity of its own token" in answer["error"], answer
        fresh = await rt.ledger.get(approval.id)
        assert fresh is not None and fresh.status.value == "pending" and fresh.decisions == ()
        # The quorum of two is filled only by the two named tokens.
        assert (await call(http, "POST", path, headers=bearer(RELEASE), json={"decision": "approve"}))[0] == 200
        status, answer = await call(http, "POST", path, headers=bearer(SHARED),
                                    json={"decision": "approve", "by": "release-bot"})
        assert status == 403
        assert (await call(http, "POST", path, headers=bearer(OTHER), json={"decision": "approve"}))[0] == 200
        await rt.service.drain()
        assert len(runs_of(runs)) == 1


async def test_the_audit_tells_the_credentials_apart_without_a_token(database_url, tmp_path: Path) -> None:
    async with deploy_card(database_url, tmp_path, '["api:release-bot", "api:ci"]', **BOTH) as (rt, http, approval, _):
        path = f"/api/approvals/{approval.id}/decision"
        assert (await call(http, "POST", path, headers=bearer(RELEASE), json={"decision": "approve"}))[0] == 200
        assert (await call(http, "POST", path, headers=bearer(SHARED),
                           json={"decision": "approve", "by": "ci"}))[0] == 200
        await rt.service.drain()
        trail = await rt.ledger.audit_trail()
        approvals = [r for r in trail if r["event"] == "approve"]
        assert [(r["actor"], r["detail"]["credential"]) for r in approvals] == [
            ("api:release-bot", "CLEARANCE_API_TOKENS:release-bot"), ("api:ci", "CLEARANCE_API_TOKEN")]
        text = json.dumps(trail, default=str)
        assert RELEASE not in text and SHARED not in text and OTHER not in text


async def test_a_decision_names_the_revision_it_read(database_url, tmp_path: Path) -> None:
    import aiohttp
    from aiohttp.test_utils import TestServer

    from bot.http.server import build_app
    from tests.conftest import console_message, runtime_for

    runs = tmp_path / "runs.txt"
    tools = EDITABLE.replace("RUNS", str(runs))
    async with runtime_for(database_url, tools, tmp_path, CLEARANCE_API_TOKENS="a=tok-a-1,b=tok-b-1") as rt:
        async with TestServer(build_app(rt, sweep=False), host="127.0.0.1") as server, \
                aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http:
            await rt.service.on_message(console_message("deploy api to prod"))
            [approval] = await rt.ledger.approvals(status=["pending"])
            status, seen = await call(http, "GET", f"/api/approvals/{approval.id}", headers=bearer("tok-b-1"))
            assert status == 200 and seen["revision"] == 1
            path = f"/api/approvals/{approval.id}/decision"
            status, edited = await call(http, "POST", path, headers=bearer("tok-a-1"),
                                        json={"decision": "edit", "args": {"service": "web"}})
            assert status == 200 and edited["revision"] == 2 and edited["args"]["service"] == "web"
            status, stale = await call(http, "POST", path, headers=bearer("tok-b-1"),
                                       json={"decision": "approve", "revision": 1})
            assert status == 409 and stale["approval"]["args"]["service"] == "web", stale
            assert (await rt.ledger.get(approval.id)).status.value == "pending"  # type: ignore[union-attr]
            status, done = await call(http, "POST", path, headers=bearer("tok-b-1"),
                                      json={"decision": "approve", "revision": 2})
            assert status == 200, done
            await rt.service.drain()
            assert runs.read_text().split() == ["ran", "web"]


async def test_a_key_given_twice_is_refused(database_url, tmp_path: Path) -> None:
    async with deploy_card(database_url, tmp_path, '["api:release-bot", "api:other"]',
                           **BOTH) as (rt, http, approval, runs):
        path = f"/api/approvals/{approval.id}/decision"
        for raw in ('{"decision": "reject", "decision": "approve"}',
                    '{"decision": "edit", "args": {"service": "web", "service": "api"}}'):
            status, answer = await call(http, "POST", path, headers={**bearer(RELEASE),
                                                                     "Content-Type": "application/json"}, data=raw)
            assert status == 400 and "duplicate key" in answer["error"], answer
        assert (await rt.ledger.get(approval.id)).decisions == ()  # type: ignore[union-attr]
        assert runs_of(runs) == []
