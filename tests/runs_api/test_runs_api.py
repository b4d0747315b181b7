"""Runs started outside a chat over real HTTP: `POST /api/runs` posts a root message in the
channel (`api:<name> asked: …`) and runs the agent in its thread, with cards as usual; the
requester is the token's identity, so four-eyes holds; the same Idempotency-Key never starts a
second run; bad input is a 4xx in the JSON error model."""

from __future__ import annotations

from pathlib import Path

from tests.slack.harness import slack_stack
from tests.slack.payloads import CHANNEL

TOKEN = "pager-token-3c9d"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_a_run_from_outside_posts_in_the_channel_and_cards_in_its_thread(database_url, tmp_path: Path) -> None:
    async with slack_stack(database_url, tmp_path=tmp_path, CLEARANCE_API_TOKENS=f"pager={TOKEN}") as stack:
        base = str(stack.server.make_url("/"))  # type: ignore[union-attr]
        body = {"text": "deploy api v2.3 to prod", "post_to": f"slack:channel:{CHANNEL}"}
        headers = {**AUTH, "Idempotency-Key": "alert-4711"}
        async with stack.http.post(base + "api/runs", json=body, headers=headers) as resp:
            assert resp.status == 201, await resp.text()
            started = await resp.json()
        await stack.settle()
        roots = [c for c in stack.fake.posts() if c.args.get("channel") == CHANNEL and not c.args.get("thread_ts")]
        assert [c.args.get("text") for c in roots] == ["api:pager asked: deploy api v2.3 to prod"]
        ts = roots[0].result["ts"]
        assert started["thread_id"].endswith(f":{CHANNEL}:{ts}")
        cards = [c for c in stack.fake.cards() if c.args.get("thread_ts") == ts]
        assert len(cards) == 1
        approval = (await stack.runtime.ledger.approvals(status=["pending"]))[0]
        assert approval.requester.qualified == "api:pager"
        async with stack.http.post(base + f"api/approvals/{approval.id}/decision", json={"decision": "approve"},
                                   headers=AUTH) as resp:
            assert resp.status == 403  # the requester cannot approve its own call

        async with stack.http.post(base + "api/runs", json=body, headers=headers) as resp:
            assert resp.status == 200 and await resp.json() == started  # the same key: the same run
        await stack.settle()
        assert len([c for c in stack.fake.posts() if c.args.get("channel") == CHANNEL
                    and not c.args.get("thread_ts")]) == 1


async def test_bad_runs_requests_are_4xx(database_url, tmp_path: Path) -> None:
    async with slack_stack(database_url, tmp_path=tmp_path, CLEARANCE_API_TOKENS=f"pager={TOKEN}") as stack:
        url = str(stack.server.make_url("/api/runs"))  # type: ignore[union-attr]
        cases = [
            ({}, {"text": "x", "post_to": f"slack:channel:{CHANNEL}"}, 401),
            (AUTH, {"text": "x", "post_to": "slack:dm"}, 400),
            (AUTH, {"text": "x", "post_to": "teams:conversation:19:abc@thread.tacv2"}, 400),  # Teams is off
            (AUTH, {"text": "", "post_to": f"slack:channel:{CHANNEL}"}, 400),
            (AUTH, {"text": "x", "post_to": f"slack:channel:{CHANNEL}", "by": "someone-else"}, 403),
            (AUTH, {"text": "x", "post_to": f"slack:channel:{CHANNEL}", "extra": 1}, 400),
        ]
        for headers, body, status in cases:
            async with stack.http.post(url, json=body, headers=headers) as resp:
                assert resp.status == status, (body, await resp.text())
                assert "error" in await resp.json()
        bad_json = {**AUTH, "Content-Type": "application/json"}
        async with stack.http.post(url, data=b"{not json", headers=bad_json) as resp:
            assert resp.status == 400


async def test_clearance_run_from_a_shell(tmp_path: Path) -> None:
    import asyncio
    import os
    import sys

    from tests.ops.procs import ROOT, slack_env
    from tests.slack.fake_slack import FakeSlack

    fake = await FakeSlack().start()
    try:
        tools = tmp_path / "none.yml"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CLEARANCE_", "DATABASE_URL"))}
        env.update(slack_env(fake, f"sqlite:///{tmp_path}/c.db", tools), PYTHONPATH=str(ROOT))
        env.pop("CLEARANCE_TOOLS")  # the bundled tools
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--post-to", f"slack:channel:{CHANNEL}", "--by", "ci", "--json",
            "deploy api v2.3 to prod", cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
        assert proc.returncode == 0, err.decode()
        import json

        started = json.loads(out.decode().strip().splitlines()[-1])
        roots = [c for c in fake.posts() if c.args.get("channel") == CHANNEL and not c.args.get("thread_ts")]
        assert [c.args.get("text") for c in roots] == ["console:ci asked: deploy api v2.3 to prod"]
        assert started["thread_id"].endswith(roots[0].result["ts"])
        assert [c for c in fake.cards() if c.args.get("thread_ts") == roots[0].result["ts"]]
    finally:
        await fake.stop()
