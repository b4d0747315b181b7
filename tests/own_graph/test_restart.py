"""The shipped example agent (`create_agent` + HumanInTheLoopMiddleware) behind a real
`clearance serve`: cards posted, the process killed with SIGKILL while they wait, two
replicas started on the same database, and the last card's approve clicked on both at once.
The run continues from its checkpoint; the batched interrupt is resumed exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from tests.llm.fake_openai import FakeOpenAI, calls, text
from tests.ops.procs import card_in, click_on, mention_on, slack_env, start_serve
from tests.slack.fake_slack import FakeSlack, approval_id_of

DEPLOY = ("deploy", {"service": "api", "version": "v2.3", "environment": "prod"})
RESTART = ("restart", {"service": "web", "environment": "prod"})


async def until_recorded(database_url: str, cards: int) -> None:
    """Until the ledger knows where every posted card is (it records that just after posting)."""
    from bot.ledger.ledger import Ledger
    from bot.ledger.store import open_database

    for _ in range(200):
        async with open_database(database_url) as db:
            if len([a for a in await Ledger(db).approvals() if a.cards]) >= cards:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the cards' places were never recorded")


async def until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_kill_9_while_cards_wait_then_two_replicas_race_on_the_last_card(database_url, tmp_path: Path) -> None:
    fake_slack = await FakeSlack().start()
    async with FakeOpenAI(calls(DEPLOY, RESTART), text("Deployed api and restarted web.")) as model:
        tools = tmp_path / "tools.yml"
        tools.write_text("graph: graph.examples.hitl_agent:agent\n")
        env = slack_env(fake_slack, database_url, tools, OPENAI_API_KEY="sk-example", OPENAI_BASE_URL=model.base_url,
                        CLEARANCE_SWEEP_INTERVAL="0.3")
        first = await start_serve(env, tmp_path, "first")
        replicas = []
        try:
            async with aiohttp.ClientSession() as http:
                ts = await mention_on(http, first, "ship api v2.3 to prod and restart web")
                await until(lambda: len([c for c in fake_slack.cards() if c.args.get("thread_ts") == ts]) == 2,
                            30, "two cards")
                await until_recorded(database_url, 2)  # where each card is, so its clicks count
                first.kill()  # SIGKILL: no shutdown, no drain
                deploy, restart = [c for c in fake_slack.cards() if c.args.get("thread_ts") == ts]

                replicas = list(await asyncio.gather(start_serve(env, tmp_path, "a"), start_serve(env, tmp_path, "b")))
                assert await click_on(http, replicas[0], deploy, ts) == 200
                await asyncio.sleep(0.5)
                assert len(model.requests) == 1  # the batch waits for its last card
                codes = await asyncio.gather(*(click_on(http, r, restart, ts) for r in replicas))
                assert codes == [200, 200]

                def answered() -> list[str]:
                    said = [c.args.get("text") for c in fake_slack.posts() if c.args.get("thread_ts") == ts]
                    return [t for t in said if t == "Deployed api and restarted web."]
                await until(lambda: bool(answered()), 30, "the model's answer")
                await asyncio.sleep(1.0)  # time for a second resume to show up
                assert len(answered()) == 1
                assert len(model.requests) == 2
                tool_results = [m["content"] for m in model.requests[1].messages if m["role"] == "tool"]
                assert sorted(tool_results) == ["Deployed api v2.3 to prod.", "Restarted web in prod."]
                assert card_in(fake_slack, ts) is not None and approval_id_of(deploy) != approval_id_of(restart)
        finally:
            codes = [r.stop() for r in replicas]
            await fake_slack.stop()
    assert codes == [0, 0], "".join(r.output() for r in replicas)
    for r in replicas:
        assert "Traceback" not in r.output(), r.output()
