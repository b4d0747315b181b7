"""A thread never blocks, in Slack: while a deploy card waits, a question in the same thread is
answered and a second deploy gets its own card; approving the first reports back in the thread
after its card shows the outcome. The transcript is what the fake Web API received."""

from __future__ import annotations

import json
import os

from tests.slack.fake_slack import approval_id_of
from tests.slack.harness import slack_stack
from tests.slack.payloads import message
from tests.slack.test_flow import ALICE, DANA, ask, click


def transcript(calls) -> list[str]:  # type: ignore[no-untyped-def]
    lines = []
    for call in calls:
        if call.method in ("chat.postMessage", "chat.update"):
            lines.append(f"{call.method}: {call.args.get('text', '')}")
    return lines


async def test_slack_thread_keeps_going_while_a_card_waits(database_url, tmp_path) -> None:
    async with slack_stack(database_url, tmp_path=tmp_path) as stack:
        ts, [first] = await ask(stack, "deploy api v2.3 to prod")
        resp = await stack.event(message(ALICE, "status of api in prod", thread_ts=ts))
        assert resp.status == 200
        await stack.settle()
        resp = await stack.event(message(ALICE, "deploy web v1.9 to prod", thread_ts=ts))
        assert resp.status == 200
        await stack.settle()
        cards = stack.fake.cards()
        assert len(cards) == 2 and "web" in cards[1].args["text"]
        await click(stack, DANA, "clearance_approve", first, ts)
        await stack.settle()
        lines = transcript(stack.fake.calls)
        apv = approval_id_of(first)
        report = [i for i, line in enumerate(lines) if line.startswith(f"chat.postMessage: [{apv}] deploy(")]
        assert len(report) == 1 and "approved by" in lines[report[0]]
        done = [i for i, line in enumerate(lines) if line.startswith("chat.update") and "deploy" in line]
        assert done and done[0] < report[0]  # the card shows the outcome before the report
        assert any("status" in line.lower() for line in lines[:report[0]])
        out = os.environ.get("CLEARANCE_TRANSCRIPT")
        if out:
            with open(out, "w") as f:
                f.write(json.dumps(lines, indent=1, ensure_ascii=False))
