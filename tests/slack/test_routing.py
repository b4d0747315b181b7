"""Reaching the approvers on Slack, end to end over real HTTP against FakeSlack: a copy in
the approvals channel and DMs to the on-call group, reminders and escalation driven by the
sweeper with an injected clock (across a restart), and the App Home list."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.slack.fake_slack import APP_ID, TEAM, Call, FakeSlack, approval_id_of, blocks_of
from tests.slack.harness import Stack, slack_stack
from tests.slack.payloads import CHANNEL, block_actions, mention, new_ts

ALICE, DANA, ERIN, LEAD = "U0ALICE01", "U0DANA001", "U0ERIN001", "U0LEAD001"
APPROVALS = "C0APPROVALS"


def tools(runs: Any) -> str:
    return f"""
tools:
  - name: deploy
    description: Deploy a service to an environment
    parameters:
      type: object
      properties:
        service: {{type: string}}
        environment: {{type: string}}
      required: [service, environment]
    aliases: ["deploy {{service}} to {{environment}}"]
    approval:
      - when: {{environment: prod}}
        approvers: ["slack:group:S0ONCALL"]
        notify: ["slack:channel:{APPROVALS}", "slack:dm"]
        remind_every: 10m
        escalate:
          - after: 30m
            approvers: ["slack:{LEAD}"]
            notify: ["slack:dm"]
        expires_after: 2h
    run:
      command: ["sh", "-c", "echo {{service}} >> {runs}; echo deployed {{service}}"]
"""


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def new_fake_groups(fake: FakeSlack) -> None:
    fake.groups["S0ONCALL"] = [DANA, ERIN]


async def start(s: Stack, clock: Clock) -> None:
    s.runtime.service.clock = clock  # the sweeper's time, injected
    new_fake_groups(s.fake)


async def ask(s: Stack) -> tuple[str, str]:
    ts = new_ts()
    assert (await s.event(mention(ALICE, "deploy api to prod", ts=ts))).status == 200
    await s.settle()
    card = [c for c in s.fake.cards() if c.args.get("thread_ts") == ts][0]
    return ts, approval_id_of(card)


def copies(s: Stack, approval_id: str) -> list[Call]:
    return [c for c in s.fake.cards() if approval_id_of(c) == approval_id]


def click_on(user: str, action: str, copy: Call) -> dict[str, Any]:
    ts = copy.result["ts"]
    return block_actions(user, action, approval_id_of(copy), card_ts=ts, thread_ts=copy.args.get("thread_ts") or ts,
                         channel=copy.result["channel"])


def reminders(s: Stack) -> list[Call]:
    return [c for c in s.fake.posts() if str(c.args.get("text", "")).startswith("Reminder")]


async def audit_events(s: Stack, event: str) -> list[dict[str, Any]]:
    return [r for r in await s.runtime.ledger.audit_trail() if r["event"] == event]


async def test_copies_in_channel_and_dms_decided_once_everywhere(database_url, tmp_path) -> None:
    runs = tmp_path / "runs.txt"
    async with slack_stack(database_url, tools_yaml=tools(runs), tmp_path=tmp_path) as s:
        await start(s, Clock())
        ts, approval_id = await ask(s)
        posted = copies(s, approval_id)
        where = sorted(c.result["channel"] for c in posted)
        assert where == sorted([CHANNEL, APPROVALS, "D" + DANA[1:11], "D" + ERIN[1:11]]), where
        channel_copy = next(c for c in posted if c.result["channel"] == APPROVALS)
        assert "thread_ts" not in channel_copy.args or not channel_copy.args["thread_ts"]
        footer = str(blocks_of(channel_copy)[-1])
        assert f"https://acme.slack.com/archives/{CHANNEL}/p" in footer  # chat.getPermalink of the thread's card
        notice = [t for t in s.fake.texts() if "also sent to" in t]
        assert len(notice) == 1 and APPROVALS in notice[0] and "2 approvers by direct message" in notice[0]

        dm = next(c for c in posted if c.result["channel"] == "D" + DANA[1:11])
        assert (await s.interact(click_on(DANA, "clearance_approve", dm))).status == 200
        await s.settle()
        assert runs.read_text().splitlines() == ["api"]  # executed once
        for copy in posted:  # every copy shows the outcome, none keeps buttons
            updates = s.fake.updates_of(copy.result["ts"])
            assert updates and not any(b["type"] == "actions" for b in blocks_of(updates[-1])), copy.result

        # A later click on another copy is refused: already decided, nothing runs again.
        assert (await s.interact(click_on(ERIN, "clearance_approve", channel_copy))).status == 200
        await s.settle()
        told = [c.args["text"] for c in s.fake.of("chat.postEphemeral") if c.args.get("user") == ERIN]
        assert told and "Already approved" in told[-1]
        assert runs.read_text().splitlines() == ["api"]


async def test_a_copy_elsewhere_of_another_approval_decides_nothing(database_url, tmp_path) -> None:
    async with slack_stack(database_url, tools_yaml=tools(tmp_path / "runs.txt"), tmp_path=tmp_path) as s:
        await start(s, Clock())
        _, first = await ask(s)
        _, second = await ask(s)
        dm_of_first = next(c for c in copies(s, first) if c.result["channel"].startswith("D"))
        forged = click_on(DANA, "clearance_approve", dm_of_first)
        forged["actions"][0]["value"] = second  # the second approval's id on the first one's copy
        await s.interact(forged)
        await s.settle()
        assert (await s.runtime.ledger.get(second)).status.value == "pending"
        assert await audit_events(s, "refused")


async def test_reminders_escalation_and_restart(database_url, tmp_path) -> None:
    runs = tmp_path / "runs.txt"
    clock = Clock()
    t0 = clock.now
    fake = await FakeSlack().start()
    try:
        async with slack_stack(database_url, tools_yaml=tools(runs), tmp_path=tmp_path, fake=fake) as s:
            await start(s, clock)
            ts, approval_id = await ask(s)
            thread_card = next(c for c in copies(s, approval_id) if c.result["channel"] == CHANNEL)
            clock.now = t0 + 5 * 60
            await s.runtime.service.sweep()
            assert reminders(s) == []
            clock.now = t0 + 10 * 60 + 1
            await s.runtime.service.sweep()
            await s.runtime.service.sweep()  # the same interval: nothing more
            # By DM (the rule notifies by DM), to each undecided approver of the group.
            assert sorted(c.args["channel"] for c in reminders(s)) == sorted(["D" + DANA[1:11], "D" + ERIN[1:11]])
            # Before escalation the lead cannot decide.
            await s.interact(click_on(LEAD, "clearance_approve", thread_card))
            await s.settle()
            assert (await s.runtime.ledger.get(approval_id)).status.value == "pending"

        # Restart: a new runtime on the same database.
        async with slack_stack(database_url, tools_yaml=tools(runs), tmp_path=tmp_path, fake=fake) as s:
            await start(s, clock)
            clock.now = t0 + 15 * 60
            await s.runtime.service.sweep()
            assert len(reminders(s)) == 2  # no repeated step
            clock.now = t0 + 41 * 60  # downtime: three intervals missed, and the escalation is due
            await s.runtime.service.sweep()
            await s.runtime.service.sweep()
            assert len(await audit_events(s, "reminded")) == 2  # one catch-up reminder, not three
            escalated = await audit_events(s, "escalated")
            assert len(escalated) == 1 and escalated[0]["detail"]["approvers"] == [f"slack:{LEAD}"]
            approval = await s.runtime.ledger.get(approval_id)
            assert f"slack:{LEAD}" in approval.rule.approvers
            assert approval.rule.escalated_approvers == (f"slack:{LEAD}",)
            lead_dm = [c for c in copies(s, approval_id) if c.result["channel"] == "D" + LEAD[1:11]]
            assert len(lead_dm) == 1  # the new approver got the card
            # The catch-up reminder reached the escalated approver too.
            assert "D" + LEAD[1:11] in [c.args["channel"] for c in reminders(s)]

            assert (await s.interact(click_on(LEAD, "clearance_approve", lead_dm[0]))).status == 200
            await s.settle()
            assert runs.read_text().splitlines() == ["api"]
            count = len(reminders(s))
            clock.now = t0 + 90 * 60
            await s.runtime.service.sweep()
            assert len(reminders(s)) == count  # none after the decision
            assert len(await audit_events(s, "escalated")) == 1
    finally:
        await fake.stop()


def home_opened(user: str) -> dict[str, Any]:
    return {"type": "app_home_opened", "user": user, "channel": "D" + user[1:11], "tab": "home",
            "event_ts": new_ts()}


def home_click(user: str, action: str, approval_id: str, view_id: str) -> dict[str, Any]:
    return {
        "type": "block_actions", "team": {"id": TEAM, "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "api_app_id": APP_ID, "token": "legacy-verification-token",
        "container": {"type": "view", "view_id": view_id},
        "trigger_id": f"1.{int(time.time())}.{uuid.uuid4().hex}",
        "view": {"id": view_id, "type": "home", "team_id": TEAM, "blocks": [], "app_id": APP_ID},
        "actions": [{"action_id": action, "block_id": "clearance_decision_0", "value": approval_id,
                     "type": "button", "action_ts": f"{time.time():.6f}"}],
    }


def published(s: Stack, user: str) -> list[Call]:
    return [c for c in s.fake.of("views.publish") if c.args.get("user_id") == user]


def listed(call: Call) -> list[str]:
    view = call.args["view"]
    view = __import__("json").loads(view) if isinstance(view, str) else view
    return [e["value"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]


async def test_app_home_lists_and_decides(database_url, tmp_path) -> None:
    runs = tmp_path / "runs.txt"
    async with slack_stack(database_url, tools_yaml=tools(runs), tmp_path=tmp_path) as s:
        await start(s, Clock())
        _, approval_id = await ask(s)
        await s.event(home_opened(ALICE))  # the requester may not approve: not listed
        await s.event(home_opened(DANA))
        await s.settle()
        assert listed(published(s, ALICE)[-1]) == []
        assert listed(published(s, DANA)[-1]) == [approval_id, approval_id]
        view_id = published(s, DANA)[-1].result["view"]["id"]

        # A click from someone else's view id counts nowhere.
        await s.interact(home_click(ERIN, "clearance_approve", approval_id, view_id))
        await s.settle()
        assert (await s.runtime.ledger.get(approval_id)).status.value == "pending"
        assert any(c.args.get("channel") == ERIN for c in s.fake.of("chat.postMessage"))  # told by DM

        before = len(published(s, DANA))
        await s.interact(home_click(DANA, "clearance_approve", approval_id, view_id))
        await s.settle()
        assert (await s.runtime.ledger.get(approval_id)).status.value == "done"
        assert runs.read_text().splitlines() == ["api"]
        assert len(published(s, DANA)) == before + 1 and listed(published(s, DANA)[-1]) == []  # re-published


