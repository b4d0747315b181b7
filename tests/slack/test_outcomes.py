"""Expiry, failures and quorum as Slack shows them; URL verification; the manifest."""

from __future__ import annotations

import asyncio
import json
import pathlib
import re
import textwrap

import yaml

from tests.slack.harness import slack_stack
from tests.slack.payloads import event_body, sign
from tests.slack.test_flow import ALICE, DANA, ERIN, ask, check_limits, click, ephemerals, has_buttons, outcome_text

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOOLS = """
tools:
  - name: purge
    description: Purge a cache
    parameters: {type: object, properties: {cache: {type: string}}, required: [cache]}
    aliases: ["purge {cache}"]
    approval:
      - when: {cache: fast}
        expires_after: 1s
      - when: {cache: pair}
        quorum: 2
    run: {command: ["sh", "-c", "echo disk on fire >&2; exit 3"]}
"""


async def test_expired_card_failed_tool_and_quorum(tmp_path) -> None:
    async with slack_stack(f"sqlite:///{tmp_path}/c.db", tools_yaml=TOOLS, tmp_path=tmp_path) as s:
        # Expiry: a late click is told so, and the card says Expired.
        ts, [card] = await ask(s, "purge fast")
        await asyncio.sleep(1.2)
        await click(s, DANA, "clearance_approve", card, ts)
        await s.settle()
        assert "expired" in ephemerals(s, DANA)[0]
        [update] = s.fake.updates_of(card.result["ts"])
        assert "Expired" in outcome_text(update) and not has_buttons(update)

        # Quorum 2: the first approval keeps the buttons and shows progress.
        ts, [card] = await ask(s, "purge pair")
        await click(s, DANA, "clearance_approve", card, ts)
        await s.settle()
        [progress] = s.fake.updates_of(card.result["ts"])
        assert has_buttons(progress) and "1 of 2 approvals" in json.dumps(progress.args["blocks"], ensure_ascii=False)
        # The tool fails: the progress line and the card say so in one sentence.
        await click(s, ERIN, "clearance_approve", card, ts)
        await s.settle()
        final = s.fake.updates_of(card.result["ts"])[-1]
        assert "failed" in outcome_text(final) and not has_buttons(final)
        running = [c for c in s.fake.posts() if c.args["text"] == "Running purge…"][0]
        assert s.fake.updates_of(running.result["ts"])[0].args["text"].startswith("purge failed:")
        check_limits(s)


async def test_url_verification_challenge(tmp_path) -> None:
    async with slack_stack(f"sqlite:///{tmp_path}/c.db") as s:
        body = json.dumps({"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                           "type": "url_verification"})
        headers = {"Content-Type": "application/json", **sign(body)}
        async with s.http.post(s.url, data=body, headers=headers) as resp:
            assert resp.status == 200
            assert (await resp.json())["challenge"].startswith("3eZbrw1a")
        reaction = event_body({"type": "reaction_added", "user": ALICE})
        assert (await s.post(reaction, content_type="application/json")).status < 500


def test_manifest_is_complete() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert manifest["features"]["bot_user"]["display_name"]
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read", "chat:write", "channels:history", "groups:history", "im:history",
        "users:read", "usergroups:read", "im:write", "users:read.email"}  # the last for step-up
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["bot_events"] == [
        "app_home_opened", "app_mention", "message.channels", "message.groups", "message.im"]
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert settings["interactivity"] == {"is_enabled": True,
                                         "request_url": settings["event_subscriptions"]["request_url"]}
    assert settings["socket_mode_enabled"] is False
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True  # "your pending approvals"

    # The Socket Mode variant documented in the README is valid YAML with the same events.
    doc = (ROOT / "README.md").read_text()
    block = re.search(r"```yaml\n(\s*settings:.*?)```", doc, re.S)
    assert block is not None
    variant = yaml.safe_load(textwrap.dedent(block.group(1)))["settings"]
    assert variant["socket_mode_enabled"] is True
    assert "request_url" not in variant["event_subscriptions"] and "request_url" not in variant["interactivity"]
    assert variant["event_subscriptions"]["bot_events"] == settings["event_subscriptions"]["bot_events"]
