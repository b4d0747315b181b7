"""End to end over real HTTP on loopback: signed Slack requests → real Bolt → the bot →
FakeSlack. The main flows run on SQLite and Postgres."""

from __future__ import annotations

import asyncio
import json
import time

from langchain_core.messages import ToolMessage

from tests.slack.blockkit import check_message, check_view
from tests.slack.fake_slack import Call, approval_id_of, blocks_of
from tests.slack.harness import Stack, slack_stack
from tests.slack.payloads import CHANNEL, block_actions, mention, new_ts, view_submission

ALICE, DANA, ERIN = "U0ALICE01", "U0DANA001", "U0ERIN001"


def check_limits(stack: Stack) -> None:
    for call in stack.fake.of("chat.postMessage") + stack.fake.of("chat.update") + stack.fake.of("chat.postEphemeral"):
        check_message({"text": call.args.get("text"), "blocks": blocks_of(call)})
    for call in stack.fake.of("views.open"):
        view = call.args["view"]
        check_view(json.loads(view) if isinstance(view, str) else view)


async def ask(stack: Stack, text: str, user: str = ALICE) -> tuple[str, list[Call]]:
    """Mention the bot in the channel; return the thread ts and the cards it posted."""
    before = len(stack.fake.cards())
    ts = new_ts()
    resp = await stack.event(mention(user, text, ts=ts))
    assert resp.status == 200
    await stack.settle()
    return ts, stack.fake.cards()[before:]


async def click(stack: Stack, user: str, action: str, card: Call, thread_ts: str) -> float:
    payload = block_actions(user, action, approval_id_of(card), card_ts=card.result["ts"],
                            thread_ts=thread_ts)
    start = time.perf_counter()
    resp = await stack.interact(payload)
    elapsed = time.perf_counter() - start
    assert resp.status == 200
    return elapsed


def outcome_text(call: Call) -> str:
    return "\n".join(b["text"]["text"] for b in blocks_of(call) if b["type"] == "section" and "text" in b)


def has_buttons(call: Call) -> bool:
    return any(b["type"] == "actions" for b in blocks_of(call))


def ephemerals(stack: Stack, user: str) -> list[str]:
    return [c.args["text"] for c in stack.fake.of("chat.postEphemeral") if c.args.get("user") == user]


async def test_mention_card_approve_result_answer(database_url) -> None:
    async with slack_stack(database_url) as s:
        ts, cards = await ask(s, "deploy api v2.3 to prod")
        assert len(cards) == 1
        card = cards[0]
        assert card.args["channel"] == CHANNEL and card.args["thread_ts"] == ts
        assert card.args["text"].startswith("Approval needed: deploy")
        assert f"requested by <@{ALICE}>" in card.args["text"]
        buttons = [b for b in blocks_of(card) if b["type"] == "actions"][0]["elements"]
        assert [(b["text"]["text"], b.get("style")) for b in buttons] == [
            ("Approve", "primary"), ("Reject", "danger"), ("Edit", None)]  # the bundled deploy rule has `editable`
        approval_id = approval_id_of(card)
        assert all(b["value"] == approval_id for b in buttons)
        assert "confirm" in buttons[0]  # the prod rule says confirm: true

        elapsed = await click(s, DANA, "clearance_approve", card, ts)
        assert elapsed < 1.0
        await s.settle()

        updates = s.fake.updates_of(card.result["ts"])
        assert updates, "the card was not updated"
        assert all(not has_buttons(u) for u in updates)
        assert f"Approved by <@{DANA}>" in outcome_text(updates[0])
        assert "done" in outcome_text(updates[-1])
        texts = s.fake.texts()
        assert "Running deploy…" in texts
        progress = [c for c in s.fake.posts() if c.args["text"] == "Running deploy…"][0]
        assert "deploy finished" in s.fake.updates_of(progress.result["ts"])[0].args["text"]
        assert all(c.args.get("thread_ts") == ts for c in s.fake.posts())
        assert texts[-1] != "Running deploy…"  # the agent's final answer closes the thread
        assert s.fake.of("users.info"), "names are looked up"
        approval = await s.runtime.ledger.get(approval_id)
        assert approval.status.value == "done"
        assert approval.deciders[0].name == "u0dana001"
        assert not s.fake.of("chat.postEphemeral")
        check_limits(s)


async def test_reject_with_reason_reaches_card_and_model(database_url) -> None:
    async with slack_stack(database_url) as s:
        ts, [card] = await ask(s, "deploy api v2.3 to prod")
        await click(s, DANA, "clearance_reject", card, ts)
        await s.settle()
        [opened] = s.fake.of("views.open")
        assert opened.args["trigger_id"]
        assert not s.fake.of("chat.update"), "reject waits for the modal"
        resp = await s.interact(view_submission(DANA, opened.result["view"], "freeze until Monday"))
        assert resp.status == 200
        await s.settle()
        [update] = s.fake.updates_of(card.result["ts"])
        # The reason someone typed is quoted: it cannot format, mention or fake a line.
        assert f'Rejected by <@{DANA}>: `"freeze until Monday"`' in outcome_text(update)
        assert not has_buttons(update)
        state = await s.runtime.graph.aget_state({"configurable": {"thread_id": f"slack:T0TEAM001:{CHANNEL}:{ts}"}})
        tool_msgs = [m for m in state.values["messages"] if isinstance(m, ToolMessage)]
        assert tool_msgs and "freeze until Monday" in tool_msgs[-1].content and tool_msgs[-1].status == "error"
        assert s.fake.texts(), "the agent answered in the thread"
        check_limits(s)


async def test_self_approval_and_non_approver_get_ephemerals(tmp_path) -> None:
    tools = """
tools:
  - name: deploy
    description: Deploy
    parameters:
      type: object
      properties:
        service: {type: string}
        environment: {type: string}
      required: [service, environment]
    aliases: ["deploy {service} to {environment}"]
    approval:
      - approvers: ["slack:U0DANA001", "slack:U0ALICE01"]
        allow_self_approval: false
    run: {python: "graph.demo:deploy"}
"""
    async with slack_stack(f"sqlite:///{tmp_path}/c.db", tools_yaml=tools, tmp_path=tmp_path) as s:
        ts, [card] = await ask(s, "deploy api to prod")
        await click(s, ALICE, "clearance_approve", card, ts)  # the requester
        await click(s, ERIN, "clearance_approve", card, ts)  # not listed
        await s.settle()
        assert "someone else" in ephemerals(s, ALICE)[0]
        assert "not an approver" in ephemerals(s, ERIN)[0]
        eph = s.fake.of("chat.postEphemeral")[0].args
        assert eph["channel"] == CHANNEL and eph["thread_ts"] == ts
        assert not s.fake.of("chat.update"), "a refused click changes nothing"
        await click(s, DANA, "clearance_approve", card, ts)
        await s.settle()
        assert f"Approved by <@{DANA}>" in outcome_text(s.fake.updates_of(card.result["ts"])[0])


async def test_double_click_and_two_approvers_at_once(database_url) -> None:
    async with slack_stack(database_url) as s:
        ts, [card] = await ask(s, "deploy api v2.3 to prod")
        await asyncio.gather(*(click(s, user, "clearance_approve", card, ts) for user in (DANA, DANA, ERIN, ERIN)))
        await s.settle()
        assert s.fake.texts().count("Running deploy…") == 1, "executed exactly once"
        approval = await s.runtime.ledger.get(approval_id_of(card))
        assert approval.status.value == "done" and len(approval.deciders) == 1
        winner = approval.deciders[0].id
        losers = s.fake.of("chat.postEphemeral")
        assert len(losers) == 3
        assert all(c.args["text"].startswith("Already approved by") for c in losers)
        first = s.fake.updates_of(card.result["ts"])[0]
        assert f"Approved by <@{winner}>" in outcome_text(first)
        check_limits(s)


async def test_parallel_calls_two_cards_clicked_concurrently(database_url) -> None:
    async with slack_stack(database_url) as s:
        ts, cards = await ask(s, "restart api in prod and restart worker in prod")
        assert len(cards) == 2
        posted = len(s.fake.texts())
        await asyncio.gather(*(click(s, DANA, "clearance_approve", c, ts) for c in cards))
        await s.settle()
        later = s.fake.texts()[posted:]
        assert later.count("Running restart…") == 2
        answers = [t for t in later if t != "Running restart…"]
        assert len(answers) == 1, later  # one final answer after both decisions
        done = await s.runtime.ledger.approvals(status=["done"])
        assert len(done) == 2
        for c in cards:
            assert any(f"Approved by <@{DANA}>" in outcome_text(u) for u in s.fake.updates_of(c.result["ts"]))
        check_limits(s)


async def test_429_on_post_message_is_retried(tmp_path) -> None:
    async with slack_stack(f"sqlite:///{tmp_path}/c.db") as s:
        s.fake.fail_429["chat.postMessage"] = 1
        ts, cards = await ask(s, "deploy api v2.3 to prod")
        assert len(cards) == 1
        attempts = s.fake.of("chat.postMessage")
        assert len(attempts) == 2 and not attempts[0].result and attempts[1].result
