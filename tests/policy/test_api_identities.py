"""Approvals API identities over real HTTP on 127.0.0.1: one named token is one identity
`api:<name>`, the shared token lets `by` pick the name, names are matched whole, and one token
is one approver toward a quorum whatever names it uses."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.approvals.models import Approval, Status
from bot.config import load_settings
from bot.errors import ConfigError
from bot.http.api import APPROVALS_API
from bot.http.server import build_app
from tests.conftest import console_message, runtime_for
from tests.policy.test_api import call
from tests.policy.tools import policy_tools, runs_of

RELEASE, POLICY, SHARED = "rb-token-1f2e", "policy-token-9a8b", "shared-token-77c1"
NAMED = f"release-bot={RELEASE},policy={POLICY}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextlib.asynccontextmanager
async def deploy_card(database_url: str, tmp_path: Path, approvers: str,
                      **settings: Any) -> AsyncIterator[tuple[Any, aiohttp.ClientSession, Approval, Path]]:
    """A pending `deploy api to prod` (quorum 2 among `approvers`) and a client of the server."""
    runs = tmp_path / "runs.txt"
    async with runtime_for(database_url, policy_tools(runs, approvers=approvers), tmp_path, **settings) as rt:
        async with TestServer(build_app(rt, sweep=False), host="127.0.0.1") as server, \
                aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http:
            await rt.service.on_message(console_message("deploy api to prod"))
            [approval] = await rt.ledger.approvals(status=["pending"])
            yield rt, http, approval, runs


async def test_two_named_tokens_fill_a_quorum_of_two(database_url, tmp_path) -> None:
    async with deploy_card(database_url, tmp_path, '["api:release-bot", "api:policy"]',
                           CLEARANCE_API_TOKENS=NAMED) as (rt, http, approval, runs):
        path = f"/api/approvals/{approval.id}/decision"
        status, body = await call(http, "POST", path, headers=bearer(RELEASE), json={"decision": "approve"})
        assert status == 200 and body["status"] == "pending"
        status, body = await call(http, "POST", path, headers=bearer(POLICY),
                                  json={"decision": "approve", "by": "policy"})
        # The execution starts at once in the background, so the answer may already show it.
        assert status == 200 and body["status"] in ("approved", "executing", "done")
        assert [d["by"]["id"] for d in body["decisions"]] == ["release-bot", "policy"]
        await rt.service.drain()
        assert len(runs_of(runs)) == 1


async def test_by_must_be_the_named_tokens_own_name(tmp_path) -> None:
    async with deploy_card(f"sqlite:///{tmp_path}/c.db", tmp_path, '["api:release-bot", "api:policy"]',
                           CLEARANCE_API_TOKENS=NAMED) as (rt, http, approval, _):
        path = f"/api/approvals/{approval.id}/decision"
        status, body = await call(http, "POST", path, headers=bearer(RELEASE),
                                  json={"decision": "approve", "by": "policy"})
        assert status == 403 and "api:release-bot" in body["error"]
        status, _ = await call(http, "POST", f"/api/approvals/{approval.id}/result", headers=bearer(RELEASE),
                               json={"content": "x", "by": "ci"})
        assert status == 403
        assert (await rt.ledger.get(approval.id)).decisions == ()  # type: ignore[union-attr]


async def test_names_are_matched_whole(tmp_path) -> None:
    # `$` in a re.match pattern also matches before a final newline: "release-bot\n" used to pass.
    async with deploy_card(f"sqlite:///{tmp_path}/c.db", tmp_path, '["api:release-bot", "api:other"]',
                           CLEARANCE_API_TOKEN=SHARED) as (rt, http, approval, _):
        path = f"/api/approvals/{approval.id}/decision"
        for name in ("release-bot\n", "release-bot\n\n", " release-bot", "release bot", "a@b", "x" * 65, ""):
            status, body = await call(http, "POST", path, headers=bearer(SHARED),
                                      json={"decision": "approve", "by": name})
            assert status == 400 and body["error"].startswith("by:"), name
        assert (await rt.ledger.get(approval.id)).decisions == ()  # type: ignore[union-attr]


async def test_one_shared_token_under_two_names_is_one_approver(database_url, tmp_path) -> None:
    # Every name used with the shared token carries via="token:@CLEARANCE_API_TOKEN": a policy that
    # counts distinct approver keys sees one approver, whatever the names.
    async with deploy_card(database_url, tmp_path, '["api:x", "api:y"]',
                           CLEARANCE_API_TOKEN=SHARED) as (rt, http, approval, runs):
        path = f"/api/approvals/{approval.id}/decision"
        status, body = await call(http, "POST", path, headers=bearer(SHARED), json={"decision": "approve", "by": "x"})
        assert status == 200 and body["status"] == "pending"
        # Refused as already approved, or accepted but left uncounted: either way no quorum.
        await call(http, "POST", path, headers=bearer(SHARED), json={"decision": "approve", "by": "y"})
        await rt.service.drain()
        assert (await rt.ledger.get(approval.id)).status is Status.PENDING  # type: ignore[union-attr]
        assert runs_of(runs) == []


async def test_both_variables_each_token_keeps_its_rule(tmp_path) -> None:
    async with deploy_card(f"sqlite:///{tmp_path}/c.db", tmp_path, '["api:ci", "api:policy"]',
                           CLEARANCE_API_TOKEN=SHARED, CLEARANCE_API_TOKENS=NAMED) as (rt, http, approval, runs):
        path = f"/api/approvals/{approval.id}/decision"
        status, _ = await call(http, "POST", path, headers=bearer(POLICY), json={"decision": "approve", "by": "ci"})
        assert status == 403
        assert (await call(http, "POST", path, headers=bearer(SHARED), json={"decision": "approve"}))[0] == 400
        status, body = await call(http, "POST", path, headers=bearer(SHARED), json={"decision": "approve", "by": "ci"})
        assert status == 200 and body["status"] == "pending"
        status, body = await call(http, "POST", path, headers=bearer(POLICY), json={"decision": "approve"})
        assert status == 200 and body["status"] == "approved"
        await rt.service.drain()
        assert len(runs_of(runs)) == 1
        trail = {r["actor"] for r in await rt.ledger.audit_trail() if r["event"] == "approve"}
        assert trail == {"api:ci", "api:policy"}


async def test_every_api_route_needs_a_known_token(tmp_path) -> None:
    """The bearer check is the sub-app's middleware: every route it serves is behind it."""
    async with deploy_card(f"sqlite:///{tmp_path}/c.db", tmp_path, '["api:policy", "api:release-bot"]',
                           CLEARANCE_API_TOKENS=NAMED) as (rt, http, approval, _):
        app = build_app(rt, sweep=False)
        routes = list(app[APPROVALS_API].router.routes())
        assert len(routes) == 4
        for route in routes:
            path = route.resource.canonical.replace("{id}", approval.id)  # type: ignore[union-attr]
            for headers in (None, bearer("nope"), bearer(RELEASE + "x"), {"Authorization": RELEASE}):
                status, body = await call(http, route.method, path, headers=headers, json={"decision": "approve"})
                assert status == 401 and body == {"error": "unauthorized"}, (route.method, path, headers)
        assert (await rt.ledger.get(approval.id)).decisions == ()  # type: ignore[union-attr]


@pytest.mark.parametrize("value", ["release-bot", "release-bot=", "=s3cr3t", "a b=s3cr3t", "a=s3cr3t,a=s3cr3t2",
                                   "a=s3cr3t,b=s3cr3t", '{"a": "s3cr3t"}', "release-bot\n=s3cr3t"])
def test_bad_api_tokens_is_one_line_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(CLEARANCE_API_TOKENS=value)
    message = str(caught.value)
    assert message.startswith("CLEARANCE_API_TOKENS: ") and "\n" not in message
    assert "s3cr3t" not in message  # a token is never echoed, even a malformed one


def test_api_tokens_are_secrets_and_may_be_blank() -> None:
    settings = load_settings(CLEARANCE_API_TOKENS=f" {NAMED} ")
    assert {n: t.get_secret_value() for n, t in settings.api_tokens.items()} == {"release-bot": RELEASE,
                                                                                "policy": POLICY}
    assert RELEASE not in repr(settings)
    assert load_settings(CLEARANCE_API_TOKENS="  ").api_tokens == {}
    with pytest.raises(ConfigError, match="CLEARANCE_API_TOKENS"):
        load_settings(CLEARANCE_API_TOKENS=NAMED, CLEARANCE_API_TOKEN=POLICY)
