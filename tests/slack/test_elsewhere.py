"""Over real HTTP with real Bolt: a validly signed click that carries a real approval id but
comes from a place where the bot never posted that card decides nothing."""

from __future__ import annotations

from tests.slack.fake_slack import approval_id_of
from tests.slack.harness import slack_stack
from tests.slack.payloads import block_actions
from tests.slack.test_flow import DANA, ask, ephemerals

ELSEWHERE = "This approval belongs to another conversation."


async def test_a_click_from_another_channel_or_message_is_refused(database_url, tmp_path) -> None:
    async with slack_stack(database_url, tmp_path=tmp_path) as stack:
        ts, [card] = await ask(stack, "deploy api v2.3 to prod")
        apv, card_ts = approval_id_of(card), card.result["ts"]
        forged = [
            block_actions(DANA, "clearance_approve", apv, card_ts=card_ts, thread_ts=ts, channel="C0OTHER01"),
            block_actions(DANA, "clearance_approve", apv, card_ts="1700000000.999999", thread_ts=ts),
        ]
        for payload in forged:
            assert (await stack.interact(payload)).status == 200
            await stack.settle()
        assert ephemerals(stack, DANA) == [ELSEWHERE, ELSEWHERE]
        approval = await stack.runtime.ledger.get(apv)
        assert approval.status.value == "pending" and approval.decisions == ()
        assert len(stack.fake.of("chat.update")) == 0
        audit = [row["event"] for row in await stack.runtime.ledger.audit_trail()]
        assert audit.count("refused") == 2
        # The real card still works.
        ok = block_actions(DANA, "clearance_approve", apv, card_ts=card_ts, thread_ts=ts)
        assert (await stack.interact(ok)).status == 200
        await stack.settle()
        assert (await stack.runtime.ledger.get(apv)).status.value == "done"
