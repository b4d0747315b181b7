"""Reply in the tool's place, on Teams: an `Action.ShowCard` with one Input.Text and an
`Action.Execute` verb `respond`, whose data carries the approval id and the card revision it
was shown with (an answer written on a card an edit has since replaced is refused). Pure."""

from __future__ import annotations

from typing import Any

from adapters.base import ApprovalCard

REPLY_VERB = "respond"
REPLY_INPUT_ID = "reply"  # apart from the card's reason input, which Teams merges into the data too
MAX_REPLY = 3000


def reply_action(card: ApprovalCard) -> dict[str, Any]:
    answer = {"type": "Input.Text", "id": REPLY_INPUT_ID, "label": "Your answer", "isMultiline": True,
              "isRequired": True, "maxLength": MAX_REPLY, "errorMessage": "Write the answer the agent should get.",
              "placeholder": "The tool does not run: the agent gets this text as its result."}
    return {
        "type": "Action.ShowCard", "title": "Reply",
        "card": {"type": "AdaptiveCard", "body": [answer], "actions": [
            {"type": "Action.Execute", "title": "Send", "verb": REPLY_VERB,
             "data": {"approval_id": card.approval_id, "revision": card.revision}}]},
    }
