"""Reply in the tool's place, on Slack: the Reply button, its modal with one text input, and
the modal's submission. Pure: no I/O.

A reply decides the call as an approval would (the tool does not run; the text is what the
agent gets instead of its result), so the modal is bound like the edit modal: its
`private_metadata` carries the approval, where to answer, the place of the click that
opened it (where its submission counts) and the card revision it was opened on, so a reply
written while someone edited the arguments is refused rather than applied to a call its
author never saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from slack_sdk.models.blocks import (
    ButtonElement,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from adapters.base import ApprovalCard, Decision
from adapters.display import reveal
from adapters.slack.parse import (
    RESPOND_ACTION,
    RESPOND_VIEW,
    SlackClick,
    as_mapping,
    modal_origin,
)

REPLY_BLOCK = "reply"
REPLY_INPUT = "reply"
MAX_REPLY = 3000  # the most a plain-text input holds; the bot refuses longer forged ones too
ERROR_TEXT = 150  # Slack shows at most this much of an input's error


def reply_button(card: ApprovalCard) -> ButtonElement:
    return ButtonElement(text=PlainTextObject(text="Reply"), action_id=RESPOND_ACTION, value=card.approval_id)


def reply_modal(card: ApprovalCard, metadata: str) -> dict[str, Any]:
    """`views.open` view: one required multi-line input for the answer."""
    if len(metadata) > View.private_metadata_max_length:
        raise ValueError("reply modal metadata too long")
    tool = reveal(card.tool)
    note = ("Answer in the tool's place: it does not run, and your text is what the agent gets as its "
            "result. The card shows who answered.")
    view = View(type="modal", callback_id=RESPOND_VIEW, private_metadata=metadata,
                title=PlainTextObject(text=f"Reply: {tool}"[:24]), submit=PlainTextObject(text="Send"),
                close=PlainTextObject(text="Cancel"), blocks=[
                    SectionBlock(text=MarkdownTextObject(text=note, verbatim=True)),
                    InputBlock(block_id=REPLY_BLOCK, label=PlainTextObject(text="Your answer"),
                               element=PlainTextInputElement(action_id=REPLY_INPUT, multiline=True,
                                                             max_length=MAX_REPLY)),
                ])
    return view.to_dict()


@dataclass(frozen=True)
class SlackReply:
    click: SlackClick  # decision RESPOND, the text in `reason`
    revision: int


def parse_reply_submission(body: Mapping[str, Any]) -> SlackReply | None:
    """The reply modal's `view_submission` → the answer (as typed: the bot judges empty and
    over-long ones) and the revision the modal was opened on."""
    origin = modal_origin(body, RESPOND_VIEW)
    revision = origin.meta.get("r") if origin is not None else None
    if origin is None or not isinstance(revision, int) or isinstance(revision, bool):
        return None
    value = as_mapping(as_mapping(origin.state.get(REPLY_BLOCK)).get(REPLY_INPUT)).get("value")
    text = value if isinstance(value, str) else ""
    click = SlackClick(origin.approval_id, Decision.RESPOND, origin.actor, origin.conversation, origin.place,
                       reason=text)
    return SlackReply(click, revision)


def reply_errors(message: str) -> dict[str, str]:
    """Slack's `response_action: errors` map: the refusal under the input, so the author can
    fix the text (or read why they may not answer) without losing it."""
    return {REPLY_BLOCK: message if len(message) <= ERROR_TEXT else message[: ERROR_TEXT - 1] + "…"}
