"""Each interrupt dialect of a user's own graph end to end over the platforms' real wire
formats: signed Slack events and interactions through real Bolt, Bot Framework activities
and Universal Action invokes through the Agents SDK, against the fake Slack and connector;
on SQLite and PostgreSQL. The graph is a real `create_agent` whose model is the local
OpenAI-compatible fake."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.llm.fake_openai import FakeOpenAI, calls, text
from tests.own_graph.conftest import ran
from tests.slack.fake_slack import approval_id_of
from tests.slack.harness import slack_stack
from tests.slack.payloads import block_actions, mention, message, new_ts
from tests.teams.conftest import teams_server
from tests.teams.fakes import message as teams_message

ALICE, DANA = "U0ALICE01", "U0DANA001"
DEPLOY = ("deploy", {"service": "api", "version": "v2.3", "environment": "prod"})
RESTART = ("restart", {"service": "web", "environment": "prod"})
# graph → (what the model asks for, how many cards, what runs once every card is approved)
SHAPES = {
    "tutorial": ([("gated_deploy", DEPLOY[1])], 1, ["deployed api v2.3 to prod"]),
    "hitl": ([DEPLOY, RESTART], 2, ["deployed api v2.3 to prod", "restarted web in prod"]),
    "per_call": ([DEPLOY, RESTART], 2, ["deployed api v2.3 to prod", "restarted web in prod"]),
}


@pytest.mark.parametrize("graph", sorted(SHAPES))
async def test_slack_cards_for_each_dialect(graph: str, database_url, fake: FakeOpenAI, tmp_path: Path) -> None:
    asked, n_cards, runs = SHAPES[graph]
    fake.add(calls(*asked), text("All done, as approved."))
    async with slack_stack(database_url, tmp_path=tmp_path,
                           CLEARANCE_GRAPH=f"tests.own_graph.agents:{graph}") as stack:
        ts = new_ts()
        assert (await stack.event(mention(ALICE, "ship api and restart web", ts=ts))).status == 200
        await stack.settle()
        cards = [c for c in stack.fake.cards() if c.args.get("thread_ts") == ts]
        assert len(cards) == n_cards
        for card in cards:
            resp = await stack.interact(block_actions(DANA, "clearance_approve", approval_id_of(card),
                                                      card_ts=card.result["ts"], thread_ts=ts))
            assert resp.status == 200
            await stack.settle()
        assert sorted(ran(tmp_path)) == sorted(runs)
        answers = [c.args.get("text") for c in stack.fake.posts() if c.args.get("thread_ts") == ts]
        assert "All done, as approved." in answers
        assert len(fake.requests) == 2


async def test_slack_question_is_answered_in_the_thread(database_url, fake: FakeOpenAI, tmp_path: Path) -> None:
    async with slack_stack(database_url, tmp_path=tmp_path, CLEARANCE_GRAPH="tests.own_graph.agents:asking") as stack:
        ts = new_ts()
        await stack.event(mention(ALICE, "deploy api", ts=ts))
        await stack.settle()
        said = [c.args.get("text") or "" for c in stack.fake.posts() if c.args.get("thread_ts") == ts]
        assert any("Which environment?" in t for t in said), said
        await stack.event(message(ALICE, "prod", thread_ts=ts))
        await stack.settle()
        said = [c.args.get("text") for c in stack.fake.posts() if c.args.get("thread_ts") == ts]
        assert said[-1] == "Deploying to prod."


@pytest.mark.parametrize("graph", sorted(SHAPES))
async def test_teams_cards_for_each_dialect(graph: str, database_url, fake: FakeOpenAI, tmp_path: Path) -> None:
    asked, n_cards, runs = SHAPES[graph]
    fake.add(calls(*asked), text("All done, as approved."))
    async with teams_server(database_url, tmp_path=tmp_path, CLEARANCE_GRAPH=f"tests.own_graph.agents:{graph}") as srv:
        status, _ = await srv.post(teams_message(srv.connector.url, "ship api and restart web"))
        assert status in (200, 201, 202)
        await srv.settle()
        cards = srv.connector.cards()
        assert len(cards) == n_cards
        for card in cards:
            content = card.body["attachments"][0]["content"]
            approval_id = next(a["data"]["approval_id"] for a in content["actions"] if a.get("verb") == "approve")
            status, body = await srv.post(srv.connector.click(approval_id, "approve", user="dana"))
            assert status == 200 and body["statusCode"] == 200
            await srv.settle()
        assert sorted(ran(tmp_path)) == sorted(runs)
        assert "All done, as approved." in srv.connector.texts()


async def test_teams_question_is_answered_by_the_next_message(database_url, fake: FakeOpenAI, tmp_path: Path) -> None:
    async with teams_server(database_url, tmp_path=tmp_path, CLEARANCE_GRAPH="tests.own_graph.agents:asking") as srv:
        await srv.post(teams_message(srv.connector.url, "deploy api"))
        await srv.settle()
        assert any("Which environment?" in t for t in srv.connector.texts())
        await srv.post(teams_message(srv.connector.url, "staging"))
        await srv.settle()
        assert srv.connector.texts()[-1] == "Deploying to staging."
