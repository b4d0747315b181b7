"""Edit before approving, on Teams: the Edit `Action.ShowCard` (one Input.Text per editable
argument, its id the argument's name, pre-filled) with an `Action.Execute` verb `edit`, and
the blocks a card shows about edits and the preview. Pure."""

from __future__ import annotations

import json
from typing import Any, Callable

from adapters.base import ApprovalCard

EDIT_VERB = "edit"
PREVIEW_LIMIT = 1500


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def edit_action(card: ApprovalCard) -> dict[str, Any]:
    inputs = [{"type": "Input.Text", "id": name, "label": name, "value": _text(card.args.get(name)),
               "isRequired": False, "maxLength": 3000} for name in card.editable]
    return {
        "type": "Action.ShowCard", "title": "Edit",
        "card": {"type": "AdaptiveCard", "body": inputs, "actions": [
            {"type": "Action.Execute", "title": "Save", "verb": EDIT_VERB,
             "data": {"approval_id": card.approval_id}}]},
    }


def edit_body(card: ApprovalCard, escape: Callable[[str], str], lines: Callable[[str], str]) -> list[dict[str, Any]]:
    """TextBlocks for the card's edits and preview; `escape` and `lines` are the renderer's."""
    body: list[dict[str, Any]] = []
    for edit in card.edits:
        body.append({"type": "TextBlock", "text": escape(edit.describe()), "wrap": True, "size": "Small",
                     "color": "Warning", "spacing": "Small"})
    if card.preview:
        head = "Preview failed: " if card.preview_failed else "Preview"
        body.append({"type": "TextBlock", "text": escape(head), "weight": "Bolder", "wrap": True,
                     "spacing": "Medium"})
        body.append({"type": "TextBlock", "text": lines(card.preview[:PREVIEW_LIMIT]), "wrap": True,
                     "fontType": "Monospace", "size": "Small", "spacing": "None"})
    return body
