"""Starting the Slack side logs nothing a user must puzzle over."""

from __future__ import annotations

import logging

import pytest

from adapters.base import InboundHandlers
from adapters.slack import SlackAdapter, SlackInbound, make_client


async def _nothing(*args: object) -> None:
    return None


async def _no_thread(thread_id: str) -> bool:
    return False


async def test_no_unused_token_warning_when_slack_bot_token_is_set(monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-2-abc")
    caplog.set_level(logging.DEBUG)
    adapter = SlackAdapter(make_client("xoxb-1-2-abc", "http://127.0.0.1:9/api/"))
    SlackInbound(adapter, InboundHandlers(_nothing, _nothing, _no_thread), signing_secret="s3cret")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
