"""Slack: Bolt for Python (HTTP at POST /slack/events, or Socket Mode), Block Kit cards."""

from __future__ import annotations

from adapters.slack.bolt import SlackInbound
from adapters.slack.transport import SlackAdapter, make_client

__all__ = ["SlackAdapter", "SlackInbound", "make_client"]
