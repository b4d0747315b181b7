"""Slack's Web API has an outage: a card, a card update or an answer that Slack refused is
not lost. The ledger remembers what was not delivered and the sweeper delivers it once Slack
answers again, without a restart; thread answers are retried at once, a few times."""

from __future__ import annotations

import time

from bot.approvals.models import Status, Undelivered
from tests.slack.fake_slack import approval_id_of
from tests.slack.harness import slack_stack
from tests.slack.payloads import block_actions, mention, new_ts
from tests.slack.test_flow import ALICE, DANA


async def _sweep_later(stack, seconds: float) -> None:  # type: ignore[no-untyped-def]
    """A sweep as it would run once the backoff has passed (the clock is the service's)."""
    service = stack.runtime.service
    real = service.clock
    service.clock = lambda: real() + seconds
    stack.runtime.ledger.clock = service.clock
    try:
        await service.sweep()
        await stack.settle()
    finally:
        service.clock = real
        stack.runtime.ledger.clock = real


async def test_a_card_refused_by_slack_is_posted_by_the_sweeper(database_url, tmp_path) -> None:
    async with slack_stack(database_url, tmp_path=tmp_path) as stack:
        stack.fake.fail_503["chat.postMessage"] = 1  # the card's post fails
        ts = new_ts()
        assert (await stack.event(mention(ALICE, "deploy api v2.3 to prod", ts=ts))).status == 200
        await stack.settle()
        assert stack.fake.cards() == []
        [approval] = await stack.runtime.ledger.approvals(status=[Status.PENDING])
        assert approval.undelivered & Undelivered.CARD and approval.cards == ()

        await stack.runtime.service.sweep()  # within the backoff: nothing yet
        await stack.settle()
        assert stack.fake.cards() == []
        await _sweep_later(stack, 10)
        [card] = stack.fake.cards()
        assert approval_id_of(card) == approval.id
        fresh = await stack.runtime.ledger.get(approval.id)
        assert fresh is not None and fresh.undelivered == 0 and len(fresh.places) == 1

        # The card posted late works like any other.
        click = block_actions(DANA, "clearance_approve", approval.id, card_ts=card.result["ts"], thread_ts=ts)
        assert (await stack.interact(click)).status == 200
        await stack.settle()
        assert (await stack.runtime.ledger.get(approval.id)).status is Status.DONE  # type: ignore[union-attr]


async def test_a_refused_update_is_retried_and_answers_survive_a_blip(database_url, tmp_path) -> None:
    async with slack_stack(database_url, tmp_path=tmp_path) as stack:
        ts = new_ts()
        await stack.event(mention(ALICE, "deploy api v2.3 to prod", ts=ts))
        await stack.settle()
        [card] = stack.fake.cards()
        stack.fake.fail_503["chat.update"] = 10  # every update during the outage fails
        stack.fake.fail_503["chat.postMessage"] = 1  # and one thread post
        click = block_actions(DANA, "clearance_approve", approval_id_of(card), card_ts=card.result["ts"], thread_ts=ts)
        started = time.monotonic()
        await stack.interact(click)
        await stack.settle()
        approval = await stack.runtime.ledger.get(approval_id_of(card))
        assert approval is not None and approval.status is Status.DONE
        assert approval.undelivered & Undelivered.UPDATE
        # The answer reached the thread anyway (retried within seconds).
        assert any("deploy" in t for t in stack.fake.texts()), stack.fake.texts()
        assert time.monotonic() - started < 15

        stack.fake.fail_503["chat.update"] = 0  # Slack is back
        await _sweep_later(stack, 10)
        updates = [c for c in stack.fake.updates_of(card.result["ts"]) if c.result]
        assert updates and "done" in updates[-1].args["text"]
        assert (await stack.runtime.ledger.get(approval.id)).undelivered == 0  # type: ignore[union-attr]
