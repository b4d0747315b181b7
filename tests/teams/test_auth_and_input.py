"""JWT on by default (missing or bad token → 401), tenant pinning, and malformed activities
→ 4xx, never 5xx."""

from __future__ import annotations

import logging

import jwt
import pytest

from tests.teams.conftest import teams_server
from tests.teams.fakes import TENANT, card_action, message

APP_ID = "0e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7"
SECRET = "s3cr3t-teams-app-password-value"


def _hs256_token() -> str:
    # Well-formed JWT, but not signed by Microsoft (and no key id): must never pass.
    return jwt.encode({"aud": APP_ID, "iss": "https://api.botframework.com", "serviceurl": "http://127.0.0.1"},
                      "not-the-key-but-long-enough-for-hs256-0123456789", algorithm="HS256")


@pytest.mark.parametrize("authorization", [
    None, "Bearer", "Bearer garbage", "Basic dXNlcjpwYXNz", "Bearer a.b.c", "bearer  two tokens", "HS256",
])
@pytest.mark.parametrize("tenant", [None, TENANT], ids=["multi-tenant", "single-tenant"])
async def test_jwt_on_missing_or_bad_token_is_401(tmp_path, caplog, authorization, tenant) -> None:
    caplog.set_level(logging.DEBUG)
    tenant_setting = {"TEAMS_TENANT_ID": tenant} if tenant else {}
    async with teams_server(f"sqlite:///{tmp_path}/j.db", TEAMS_ALLOW_ANONYMOUS=False,
                            TEAMS_APP_ID=APP_ID, TEAMS_APP_PASSWORD=SECRET, **tenant_setting) as srv:
        if authorization == "HS256":
            authorization = f"Bearer {_hs256_token()}"
        headers = {"Authorization": authorization} if authorization is not None else {}
        for activity in (message(srv.connector.url, "deploy api v2.3 to prod"),
                         card_action(srv.connector.url, "apv_x", "approve")):
            status, _ = await srv.post(activity, headers=headers)
            assert status == 401
        await srv.settle()
        assert srv.connector.calls == []
        assert await srv.runtime.ledger.approvals() == []
    assert SECRET not in caplog.text


async def test_single_tenant_ignores_other_tenants(tmp_path) -> None:
    async with teams_server(f"sqlite:///{tmp_path}/t.db", TEAMS_TENANT_ID=TENANT) as srv:
        other = "11111111-2222-3333-4444-555555555555"
        status, _ = await srv.post(message(srv.connector.url, "deploy api v2.3 to prod", tenant=other))
        assert status in (200, 202)
        await srv.settle()
        assert srv.connector.cards() == []
        status, _ = await srv.post(message(srv.connector.url, "deploy api v2.3 to prod"))
        await srv.settle()
        assert len(srv.connector.cards()) == 1


def _bad_activities(url: str) -> list[tuple[str, object]]:
    good = message(url, "status")
    click = card_action(url, "apv_doesnotmatter", "approve")

    def without(d: dict, *keys: str) -> dict:
        return {k: v for k, v in d.items() if k not in keys}

    def with_value(value: object) -> dict:
        return {**click, "value": value}

    action = click["value"]["action"]
    return [
        ("array", []),
        ("string", "hello"),
        ("empty object", {}),
        ("no type", without(good, "type")),
        ("numeric type", {**good, "type": 7}),
        ("no conversation", without(good, "conversation")),
        ("conversation is a list", {**good, "conversation": ["x"]}),
        ("no conversation id", {**good, "conversation": {"tenantId": TENANT}}),
        ("no serviceUrl", without(good, "serviceUrl")),
        ("file serviceUrl", {**good, "serviceUrl": "file:///etc/passwd"}),
        ("from is a string", {**good, "from": "alice"}),
        ("entities not a list", {**good, "entities": "nope"}),
        ("invoke without value", without(click, "value")),
        ("invoke value is a string", with_value("approve")),
        ("invoke without action", with_value({"trigger": "manual"})),
        ("invoke Action.Submit", with_value({"action": {**action, "type": "Action.Submit"}})),
        ("invoke unknown verb", with_value({"action": {**action, "verb": "delete"}})),
        ("invoke data not an object", with_value({"action": {**action, "data": "apv_x"}})),
        ("invoke without approval_id", with_value({"action": {**action, "data": {"reason": "x"}}})),
        ("unsupported invoke", {**click, "name": "task/fetch"}),
    ]


async def test_malformed_activities_get_4xx_never_5xx(tmp_path) -> None:
    async with teams_server(f"sqlite:///{tmp_path}/m.db") as srv:
        status, _ = await srv.post(None, data=b"{not json", headers={"Content-Type": "application/json"})
        assert status == 400
        status, _ = await srv.post(None, data=b"\xff\xfe", headers={"Content-Type": "application/json"})
        assert status == 400
        for name, activity in _bad_activities(srv.connector.url):
            status, body = await srv.post(activity)
            assert 400 <= status < 500, (name, status, body)
        # Well-formed clicks on ids that do not exist are answered for the clicker, not retried.
        for approval_id in ("apv_doesnotmatter", "x" * 300):
            status, body = await srv.post(card_action(srv.connector.url, approval_id, "approve"))
            assert status == 200 and body["type"] == "application/vnd.microsoft.activity.message", body
        await srv.settle()
        assert srv.connector.calls == []


async def test_anonymous_mode_warns_at_start_and_jwt_mode_does_not(tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="clearance.teams")
    async with teams_server(f"sqlite:///{tmp_path}/w.db"):
        pass
    warned = [r for r in caplog.records if r.levelno == logging.WARNING and "TEAMS_ALLOW_ANONYMOUS" in r.getMessage()]
    assert len(warned) == 1
    caplog.clear()
    async with teams_server(f"sqlite:///{tmp_path}/w2.db", TEAMS_ALLOW_ANONYMOUS=False,
                            TEAMS_APP_ID=APP_ID, TEAMS_APP_PASSWORD=SECRET, TEAMS_TENANT_ID=TENANT):
        pass
    assert not any("TEAMS_ALLOW_ANONYMOUS" in r.getMessage() for r in caplog.records)
    assert any("JWT validated, single-tenant" in r.getMessage() for r in caplog.records)
    assert SECRET not in caplog.text
