"""The inbox: an interrupt of a run started with the SDK (not by Clearance) gets its card once,
in a thread of its own in CLEARANCE_INBOX_CHANNEL, whether found by the periodic look or at
once through the server's run webhook (bearer token; it only triggers a look); the decision
resumes the run on the server and its answer goes to the card's thread."""

from __future__ import annotations

import asyncio
from pathlib import Path

from langgraph_sdk import get_client

from tests.agent_server.conftest import ran
from tests.agent_server.devserver import DevServer
from tests.llm.fake_openai import FakeOpenAI, calls, text
from tests.slack.fake_slack import approval_id_of
from tests.slack.harness import slack_stack
from tests.slack.payloads import block_actions

INBOX = "C0INBOX01"
DANA = "U0DANA001"
DEPLOY = ("deploy", {"service": "api", "version": "v2.3", "environment": "prod"})


async def _outside_run(server: DevServer, message: str) -> str:
    client = get_client(url=server.url, api_key=None)
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "agent", input={"messages": [{"role": "user",
                                                                                     "content": message}]})
    await client.runs.join(thread["thread_id"], run["run_id"])
    return str(thread["thread_id"])


async def test_an_outside_run_gets_one_card_in_the_inbox_and_is_resumed(database_url, model: FakeOpenAI,
                                                                       agent_server: DevServer, tmp_path: Path) -> None:
    model.add(calls(DEPLOY), text("Deployed, as approved in Slack."))
    async with slack_stack(database_url, tmp_path=tmp_path, CLEARANCE_LANGGRAPH_URL=agent_server.url,
                           CLEARANCE_INBOX_CHANNEL=f"slack:channel:{INBOX}") as stack:
        await _outside_run(agent_server, "nightly: deploy api v2.3 to prod")
        inbox = stack.runtime.inbox
        assert await inbox.look() == 1
        assert await inbox.look() == 0  # once
        await asyncio.gather(inbox.look(), inbox.look())
        roots = [c for c in stack.fake.posts() if c.args.get("channel") == INBOX and not c.args.get("thread_ts")]
        assert len(roots) == 1 and "waits for a decision" in roots[0].args["text"]
        ts = roots[0].result["ts"]
        cards = [c for c in stack.fake.cards() if c.args.get("thread_ts") == ts]
        assert len(cards) == 1
        resp = await stack.interact(block_actions(DANA, "clearance_approve", approval_id_of(cards[0]),
                                                  card_ts=cards[0].result["ts"], thread_ts=ts, channel=INBOX))
        assert resp.status == 200
        await stack.settle()
        assert ran(tmp_path) == ["deployed api v2.3 to prod"]
        answers = [c.args.get("text") for c in stack.fake.posts() if c.args.get("thread_ts") == ts]
        assert "Deployed, as approved in Slack." in answers


async def test_the_run_webhook_triggers_a_look_and_needs_its_token(database_url, model: FakeOpenAI,
                                                                  agent_server: DevServer, tmp_path: Path) -> None:
    model.add(calls(DEPLOY))
    async with slack_stack(database_url, tmp_path=tmp_path, CLEARANCE_LANGGRAPH_URL=agent_server.url,
                           CLEARANCE_INBOX_CHANNEL=f"slack:channel:{INBOX}",
                           CLEARANCE_WEBHOOK_TOKEN="hook-token-5e1") as stack:
        url = str(stack.server.make_url("/langgraph/webhook"))  # type: ignore[union-attr]
        await _outside_run(agent_server, "deploy api")
        async with stack.http.post(url, json={"status": "success"}) as resp:
            assert resp.status == 401
        async with stack.http.post(url, json={"status": "success"},
                                   headers={"Authorization": "Bearer wrong"}) as resp:
            assert resp.status == 401
        await stack.settle()
        assert not stack.fake.cards()
        async with stack.http.post(url, json={"status": "success", "thread_id": "forged"},
                                   headers={"Authorization": "Bearer hook-token-5e1"}) as resp:
            assert resp.status == 202
        await stack.settle()
        assert len(stack.fake.cards()) == 1


async def test_the_servers_own_webhook_brings_the_card(database_url, model: FakeOpenAI, tmp_path: Path) -> None:
    """The real server calls the webhook when its run ends (paused by interrupt(): `success`),
    with the token from its webhooks headers; the card follows without a periodic look."""
    model.add(calls(DEPLOY))
    workdir = tmp_path / "hooked-server"
    workdir.mkdir()
    webhooks = {"env_prefix": "LG_WEBHOOK_", "headers": {"Authorization": "Bearer ${{ env.LG_WEBHOOK_TOKEN }}"},
                "url": {"require_https": False, "disable_loopback": False}}
    server = DevServer(workdir, {"AGENT_SERVER_OPENAI": model.base_url, "AGENT_SERVER_RAN": str(tmp_path / "ran.txt"),
                                 "LG_WEBHOOK_TOKEN": "hook-token-5e1"}, webhooks=webhooks)
    await server.start()
    try:
        async with slack_stack(database_url, tmp_path=tmp_path, CLEARANCE_LANGGRAPH_URL=server.url,
                               CLEARANCE_INBOX_CHANNEL=f"slack:channel:{INBOX}",
                               CLEARANCE_WEBHOOK_TOKEN="hook-token-5e1") as stack:
            hook = str(stack.server.make_url("/langgraph/webhook"))  # type: ignore[union-attr]
            client = get_client(url=server.url, api_key=None)
            thread = await client.threads.create()
            await client.runs.create(thread["thread_id"], "agent", webhook=hook,
                                     input={"messages": [{"role": "user", "content": "deploy api"}]})
            for _ in range(200):
                await stack.settle()
                if stack.fake.cards():
                    break
                await asyncio.sleep(0.1)
            assert len(stack.fake.cards()) == 1, server.log()
    finally:
        server.stop()


async def test_two_replicas_looking_at_once_card_an_interrupt_once(pg_url, model: FakeOpenAI,
                                                                  agent_server: DevServer, tmp_path: Path) -> None:
    from bot.platforms import attach_platforms
    from tests.conftest import runtime_for
    from tests.slack.fake_slack import BOT_TOKEN

    model.add(calls(DEPLOY))
    async with slack_stack(pg_url, tmp_path=tmp_path, CLEARANCE_LANGGRAPH_URL=agent_server.url,
                           CLEARANCE_INBOX_CHANNEL=f"slack:channel:{INBOX}") as stack:
        from aiohttp import web

        async with runtime_for(pg_url, None, tmp_path, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=stack.fake.api_url,
                               SLACK_SIGNING_SECRET="x" * 32, CLEARANCE_LANGGRAPH_URL=agent_server.url,
                               CLEARANCE_INBOX_CHANNEL=f"slack:channel:{INBOX}") as other:
            app = web.Application()
            await attach_platforms(app, other.settings, other.service)
            runner = web.AppRunner(app)
            await runner.setup()
            try:
                await _outside_run(agent_server, "deploy api")
                found = await asyncio.gather(stack.runtime.inbox.look(), other.inbox.look())
                await asyncio.gather(stack.runtime.inbox.look(), other.inbox.look())
                await stack.settle()
                await other.service.drain()
            finally:
                await runner.cleanup()
        assert sum(found) <= 1
        roots = [c for c in stack.fake.posts() if c.args.get("channel") == INBOX and not c.args.get("thread_ts")]
        assert len(roots) == 1
        assert len(stack.fake.cards()) == 1
