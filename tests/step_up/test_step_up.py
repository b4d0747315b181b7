"""Step-up over real HTTP: a click on a step-up card is not yet a decision; the clicker alone
gets a one-time link; the link sends the browser to the identity provider (code flow with
PKCE S256, state, nonce, prompt=login, max_age, acr_values), and the callback counts the
approval only for a fresh login of the clicker's own, audited with its iss, sub, auth_time
and acr. Every refusal counts for nothing, answers a 4xx page and is audited `refused`."""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp

from bot.approvals.models import Status
from tests.slack.fake_slack import approval_id_of
from tests.slack.harness import Stack, slack_stack
from tests.slack.payloads import block_actions, mention, new_ts
from tests.step_up.idp import CLIENT_ID, CLIENT_SECRET, FakeIdp, Login

ALICE, DANA, ERIN = "U0ALICE01", "U0DANA001", "U0ERIN001"
PUBLIC = "https://clearance.example.com"
TOOLS = """
tools:
  - name: deploy
    parameters:
      type: object
      properties: {service: {type: string}, environment: {type: string}}
      required: [service, environment]
    aliases: ["deploy {service} to {environment}"]
    approval:
      - approvers: ["*"]
        quorum: QUORUM
        step_up: STEP_UP
    run: {command: ["sh", "-c", "echo ran >> RUNS"]}
"""


@contextlib.asynccontextmanager
async def stepping(database_url: str, tmp_path: Path, *, quorum: int = 1, step_up: str = "true",
                   **extra: Any) -> AsyncIterator[tuple[Stack, FakeIdp]]:
    tools = TOOLS.replace("QUORUM", str(quorum)).replace("STEP_UP", step_up).replace("RUNS", str(tmp_path / "runs"))
    async with FakeIdp() as idp, slack_stack(database_url, tools_yaml=tools, tmp_path=tmp_path,
                                             CLEARANCE_OIDC_ISSUER=idp.issuer, CLEARANCE_OIDC_CLIENT_ID=CLIENT_ID,
                                             CLEARANCE_OIDC_CLIENT_SECRET=CLIENT_SECRET, CLEARANCE_PUBLIC_URL=PUBLIC,
                                             **extra) as stack:
        stack.fake.emails.update({DANA: "dana@example.com", ERIN: "erin@example.com"})
        yield stack, idp


def runs(tmp_path: Path) -> int:
    path = tmp_path / "runs"
    return len(path.read_text().splitlines()) if path.exists() else 0


async def card(stack: Stack) -> tuple[str, Any]:
    ts = new_ts()
    await stack.event(mention(ALICE, "deploy api to prod", ts=ts))
    await stack.settle()
    return ts, [c for c in stack.fake.cards() if c.args.get("thread_ts") == ts][0]


async def link_for(stack: Stack, user: str, ts: str, posted: Any) -> str:
    """Click Approve; the link the clicker alone was told."""
    before = len(stack.fake.of("chat.postEphemeral"))
    await stack.interact(block_actions(user, "clearance_approve", approval_id_of(posted),
                                       card_ts=posted.result["ts"], thread_ts=ts))
    await stack.settle()
    told = [c for c in stack.fake.of("chat.postEphemeral")[before:] if c.args.get("user") == user]
    assert len(told) == 1, told
    found = re.search(r"https://clearance\.example\.com/auth/step-up\?t=[\w-]+", told[0].args["text"])
    assert found, told[0].args["text"]
    return found.group(0)


def local(stack: Stack, url: str) -> str:
    """The public URL as this test reaches the server (a proxy would, in production)."""
    return str(stack.server.make_url(url.removeprefix(PUBLIC)))  # type: ignore[union-attr]


async def to_callback(stack: Stack, link: str) -> tuple[int, str]:
    """A browser opening the link and logging in at the provider: where it is sent back to
    (or the page, when the link is refused)."""
    async with aiohttp.ClientSession() as browser:
        async with browser.get(local(stack, link), allow_redirects=False) as resp:
            if resp.status != 302:
                return resp.status, html.unescape(await resp.text())
            to_idp = resp.headers["Location"]
        async with browser.get(to_idp, allow_redirects=False) as resp:
            return 302, resp.headers["Location"]


async def callback(stack: Stack, back: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as browser, browser.get(local(stack, back), allow_redirects=False) as resp:
        return resp.status, html.unescape(await resp.text())


async def log_in(stack: Stack, link: str) -> tuple[int, str]:
    """What a browser does with the link: to the provider, back to the callback; the page."""
    status, back = await to_callback(stack, link)
    return await callback(stack, back) if status == 302 else (status, back)


async def test_a_fresh_login_of_the_clicker_counts_the_approval(database_url, tmp_path: Path) -> None:
    async with stepping(database_url, tmp_path) as (stack, idp):
        ts, posted = await card(stack)
        link = await link_for(stack, DANA, ts, posted)
        approval = (await stack.runtime.ledger.approvals())[0]
        assert approval.status is Status.PENDING and approval.decisions == ()  # not yet a decision
        status, text = await log_in(stack, link)
        assert status == 200 and "Approval counted" in text, text
        await stack.settle()
        asked = idp.authorizations[0]
        assert asked["prompt"] == "login" and asked["max_age"] == "0" and asked["scope"] == "openid email"
        assert asked["code_challenge_method"] == "S256" and asked["redirect_uri"] == f"{PUBLIC}/auth/callback"
        assert asked["state"] and asked["nonce"] and "acr_values" not in asked
        done = await stack.runtime.ledger.get(approval.id)
        assert done is not None and done.status is Status.DONE and runs(tmp_path) == 1
        row = [r for r in await stack.runtime.ledger.audit_trail() if r["event"] == "approve"][0]
        assert row["actor"] == f"slack:{DANA}"
        assert set(row["detail"]["step_up"]) == {"iss", "sub", "auth_time", "acr"}
        assert row["detail"]["step_up"]["iss"] == idp.issuer
        assert (await log_in(stack, link))[0] == 410  # a link counts once


async def test_refusals_count_for_nothing(database_url, tmp_path: Path) -> None:
    async with stepping(database_url, tmp_path, step_up='{max_age: 0, acr_values: ["phr"]}') as (stack, idp):
        ts, posted = await card(stack)
        cases = [
            (Login(email="erin@example.com", acr="phr"), "someone else's"),  # another person's login
            (Login(acr="pwd"), "not made the way the rule asks"),  # the rule asks for acr phr
            (Login(acr="phr", auth_time_offset=-600), "made before the link"),  # a stale login
            (Login(acr="phr", nonce="forged"), "wrong nonce"),
        ]
        for login, why in cases:
            idp.login = login
            status, text = await log_in(stack, await link_for(stack, DANA, ts, posted))
            assert status == 403 and why in text, (login, text)
        assert idp.authorizations[-1]["acr_values"] == "phr"
        async with aiohttp.ClientSession() as browser:
            async with browser.get(local(stack, f"{PUBLIC}/auth/step-up?t=forged-token")) as resp:
                assert resp.status == 404
            async with browser.get(local(stack, f"{PUBLIC}/auth/callback?code=x&state=made-up")) as resp:
                assert resp.status == 400
        approval = (await stack.runtime.ledger.approvals())[0]
        assert approval.status is Status.PENDING and approval.decisions == () and runs(tmp_path) == 0
        refused = [r for r in await stack.runtime.ledger.audit_trail() if r["event"] == "refused"]
        assert len(refused) >= 4 and all("step_up" in r["detail"] for r in refused)


async def test_an_expired_link_and_the_approvals_api(database_url, tmp_path: Path) -> None:
    async with stepping(database_url, tmp_path, CLEARANCE_API_TOKENS="ci=ci-token-1") as (stack, idp):
        ts, posted = await card(stack)
        link = await link_for(stack, DANA, ts, posted)
        real = stack.runtime.service.clock
        stack.runtime.service.clock = lambda: real() + 301  # the link is five minutes old
        assert (await log_in(stack, link))[0] == 410
        stack.runtime.service.clock = real
        approval = (await stack.runtime.ledger.approvals())[0]
        decide = local(stack, f"{PUBLIC}/api/approvals/{approval.id}/decision")
        async with stack.http.post(decide, json={"decision": "approve"},
                                   headers={"Authorization": "Bearer ci-token-1"}) as resp:
            assert resp.status == 403 and "not a person" in (await resp.json())["error"]
        assert runs(tmp_path) == 0


async def test_two_approvers_stepping_up_at_once_fill_a_quorum_of_two(database_url, tmp_path: Path) -> None:
    async with stepping(database_url, tmp_path, quorum=2) as (stack, idp):
        ts, posted = await card(stack)
        links = [await link_for(stack, DANA, ts, posted), await link_for(stack, ERIN, ts, posted)]
        idp.queue = [Login(email="dana@example.com"), Login(sub="user-2", email="erin@example.com")]
        backs = [(await to_callback(stack, link))[1] for link in links]
        pages = await asyncio.gather(*(callback(stack, back) for back in backs))  # the two callbacks race
        assert [status for status, _ in pages] == [200, 200], pages
        await stack.settle()
        approval = (await stack.runtime.ledger.approvals())[0]
        assert approval.status is Status.DONE and len(approval.approvers) == 2 and runs(tmp_path) == 1


def test_a_step_up_rule_needs_an_issuer(tmp_path: Path, monkeypatch, capsys) -> None:
    from bot.cli import main

    tools = tmp_path / "tools.yml"
    tools.write_text(TOOLS.replace("QUORUM", "1").replace("STEP_UP", "true").replace("RUNS", str(tmp_path / "r")))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/c.db")
    monkeypatch.setenv("CLEARANCE_TOOLS", str(tools))
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert err == ("clearance: configuration error: CLEARANCE_OIDC_ISSUER: required by the step_up rule of deploy "
                   "(the identity provider approvers log in at again)\n")


async def test_teams_step_up_is_the_clickers_aad_object_id(database_url, tmp_path: Path) -> None:
    from tests.teams.conftest import teams_server
    from tests.teams.fakes import USERS
    from tests.teams.fakes import message as teams_message

    tools = TOOLS.replace("QUORUM", "1").replace("STEP_UP", "true").replace("RUNS", str(tmp_path / "runs"))
    async with FakeIdp() as idp, teams_server(database_url, tools_yaml=tools, tmp_path=tmp_path,
                                              CLEARANCE_OIDC_ISSUER=idp.issuer, CLEARANCE_OIDC_CLIENT_ID=CLIENT_ID,
                                              CLEARANCE_OIDC_CLIENT_SECRET=CLIENT_SECRET,
                                              CLEARANCE_PUBLIC_URL=PUBLIC) as srv:
        await srv.post(teams_message(srv.connector.url, "deploy api to prod"))
        await srv.settle()
        approval = (await srv.runtime.ledger.approvals())[0]

        async def step_up(user: str, login: Login) -> int:
            _, body = await srv.post(srv.connector.click(approval.id, "approve", user=user))
            found = re.search(r"https://clearance\.example\.com/auth/step-up\?t=[\w-]+", str(body["value"]))
            assert found, body
            idp.login = login
            async with aiohttp.ClientSession() as browser:
                async with browser.get(srv.url + found.group(0).removeprefix(PUBLIC), allow_redirects=False) as r:
                    to_idp = r.headers["Location"]
                async with browser.get(to_idp, allow_redirects=False) as r:
                    back = r.headers["Location"]
                async with browser.get(srv.url + back.removeprefix(PUBLIC), allow_redirects=False) as r:
                    return r.status

        assert await step_up("dana", Login(email=None, oid=USERS["erin"][1])) == 403  # erin's login, dana's click
        assert (await srv.runtime.ledger.get(approval.id)).status is Status.PENDING  # type: ignore[union-attr]
        assert await step_up("dana", Login(email=None, oid=USERS["dana"][1])) == 200
        await srv.settle()
        assert (await srv.runtime.ledger.get(approval.id)).status is Status.DONE  # type: ignore[union-attr]
