"""Block Kit validity as slack_sdk's models see it: every block and view parses back into
the SDK's model, passes its limit validators, and round-trips unchanged (nothing dropped)."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS = 50


def check_message(message: dict[str, Any]) -> None:
    """A `chat.postMessage` / `chat.update` / `chat.postEphemeral` body."""
    blocks = message.get("blocks") or []
    assert message.get("text"), "no fallback text"
    assert len(message["text"]) <= 40_000
    assert len(blocks) <= MESSAGE_BLOCKS, f"{len(blocks)} blocks"
    for block in blocks:
        model = Block.parse(block)
        assert model is not None, block
        model.validate_json()  # raises SlackObjectFormationError on a broken limit
        assert model.to_dict() == block


def check_view(view: dict[str, Any]) -> None:
    model = View(**view)
    model.validate_json()
    for block in view.get("blocks") or []:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
