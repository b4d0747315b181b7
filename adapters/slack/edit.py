"""Edit before approving, on Slack: the Edit button's modal, its submission, and the lines a
card shows about edits and the preview. Pure: no I/O.

The modal has one input per editable argument, pre-filled with the current value (text as
is, anything else as JSON). Its `private_metadata` carries the approval, where to answer,
the place of the click that opened it (where its submission counts, as for the reject
modal) and the card revision it was opened on, so an edit made on a card that changed in
the meantime is refused instead of silently overwriting the newer arguments.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
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
    EDIT_ACTION,
    EDIT_VIEW,
    SlackClick,
    as_mapping,
    modal_origin,
)

VALUE_INPUT = "value"
BLOCK_PREFIX = "arg:"
MAX_VALUE = 3000  # a plain-text input holds at most 3000 characters
PREVIEW_LIMIT = 1500


def edit_button(card: ApprovalCard) -> ButtonElement:
    return ButtonElement(text=PlainTextObject(text="Edit"), action_id=EDIT_ACTION, value=card.approval_id)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def edit_metadata(click: SlackClick, revision: int) -> str:
    data = click.conversation.data
    place = click.place
    return json.dumps({"a": click.approval_id, "team": data["team"], "c": data["channel"], "t": data["thread_ts"],
                       "p": [place.workspace, place.channel, place.message], "r": revision},
                      separators=(",", ":"))


def edit_modal(card: ApprovalCard, metadata: str) -> dict[str, Any]:
    """`views.open` view: one pre-filled input per editable argument."""
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(
        text="Change the arguments, then check the card again: approvals so far will no longer count, "
             "and you cannot approve your own edit.", verbatim=True))]
    for name in card.editable:
        current = _text(card.args.get(name))
        element = PlainTextInputElement(action_id=VALUE_INPUT, max_length=MAX_VALUE,
                                        initial_value=current[:MAX_VALUE] if current else None)
        blocks.append(InputBlock(block_id=BLOCK_PREFIX + name, optional=True,
                                 label=PlainTextObject(text=reveal(name)[:2000] or " ", emoji=False), element=element))
    view = View(type="modal", callback_id=EDIT_VIEW, private_metadata=metadata,
                title=PlainTextObject(text=f"Edit {reveal(card.tool)}"[:24]),
                submit=PlainTextObject(text="Save"), close=PlainTextObject(text="Cancel"), blocks=blocks)
    return view.to_dict()


@dataclass(frozen=True)
class SlackEdit:
    click: SlackClick
    args: dict[str, str]
    revision: int


def parse_edit_submission(body: Mapping[str, Any]) -> SlackEdit | None:
    """The edit modal's `view_submission` → the submitted values by argument name."""
    origin = modal_origin(body, EDIT_VIEW)
    revision = origin.meta.get("r") if origin is not None else None
    if origin is None or not isinstance(revision, int):
        return None
    args: dict[str, str] = {}
    for block_id, inputs in origin.state.items():
        if isinstance(block_id, str) and block_id.startswith(BLOCK_PREFIX):
            value = as_mapping(as_mapping(inputs).get(VALUE_INPUT)).get("value")
            args[block_id[len(BLOCK_PREFIX):]] = value if isinstance(value, str) else ""
    click = SlackClick(origin.approval_id, Decision.EDIT, origin.actor, origin.conversation, origin.place)
    return SlackEdit(click, args, revision)


def view_errors(card: ApprovalCard | None, errors: Mapping[str, str], message: str) -> dict[str, str]:
    """Slack's `response_action: errors` map: each problem under its argument's input; a
    problem with the edit as a whole under the first input."""
    names = list(card.editable) if card is not None else []
    out: dict[str, str] = {}
    for name, text in errors.items():
        key = name if name in names else (names[0] if names else "")
        if key:
            block = BLOCK_PREFIX + key
            out[block] = (out[block] + " " if block in out else "") + text
    if not out and names:
        out[BLOCK_PREFIX + names[0]] = message
    return {k: v[:150] for k, v in out.items()}


def edit_blocks(card: ApprovalCard, mention: Any, code: Any, escape: Any) -> list[Block]:
    """What a card says about its edits and its preview. `mention`, `code` and `escape` are
    the card renderer's own (mentions, code blocks, mrkdwn escaping)."""
    blocks: list[Block] = []
    if card.edits:
        lines = [f"{escape(reveal(e.change_text))}, edited by {mention(e.by)}" for e in card.edits]
        label = f"*Edited* (revision {card.revision})\n" + "\n".join(lines)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=label[:3000])]))
    if card.preview:
        head = "Preview failed: " if card.preview_failed else "*Preview*\n"
        blocks.append(SectionBlock(text=MarkdownTextObject(text=head + code(card.preview[:PREVIEW_LIMIT]),
                                                           verbatim=True)))
    return blocks
