"""The console's `edit N name=value` and the preview printed under the card. Pure."""

from __future__ import annotations

from adapters.base import Actor, ApprovalCard, CardEdit, Decision
from adapters.console.parse import Decide, parse_line
from adapters.console.render import render_card


def test_edit_command_parses() -> None:
    assert parse_line("edit 3 version=v2.4") == Decide("3", Decision.EDIT, args=(("version", "v2.4"),))
    assert parse_line("edit #3 version=v2.4 replicas=4") == Decide(
        "3", Decision.EDIT, args=(("version", "v2.4"), ("replicas", "4")))
    assert parse_line("edit the config please") is not None and not isinstance(parse_line("edit 3"), Decide)


def test_card_shows_edits_and_preview() -> None:
    dana = Actor("console", "dana", "dana")
    card = ApprovalCard("apv_x", "deploy", {"version": "v2.4"}, Actor("console", "alice", "alice"), "rule",
                        number=1, editable=("version",), revision=2,
                        edits=(CardEdit(dana, (("version", "v2.3", "v2.4"),)),),
                        preview="api: v1.0 → v2.4 in prod\n\x1b[31mred")
    text = render_card(card)
    assert "edited:    version: v2.3 → v2.4, edited by dana" in text
    assert "edit 1 version=…" in text
    assert text.endswith("    preview:\n      api: v1.0 → v2.4 in prod\n      \\u001b[31mred")
    failed = render_card(ApprovalCard("apv_x", "deploy", {}, dana, "rule", preview="timed out after 30s",
                                      preview_failed=True))
    assert failed.endswith("    preview failed: timed out after 30s")
