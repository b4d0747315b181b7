"""Neutral card view → Block Kit, built with slack_sdk's models. Pure.

`to_dict()` validates Slack's limits (section text, fields, buttons, modals); on top of it:
- every argument is shown in full, each in its own section, as JSON with hidden characters
  escaped (`adapters.display`); a value too long for one section continues in the next,
  split only between whole characters, never cut;
- user-supplied text is escaped for mrkdwn: `&`, `<`, `>` as Slack requires (so nothing can
  ping `<!channel>` or fake a link), arguments sit in code blocks (where `*`, `_`, `~` do not
  format) with backticks written as `\\u0060` so nothing can close the block;
- argument sections are `verbatim`, so Slack does not turn URLs or names into links.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from adapters.base import Actor, ApprovalCard, CardStatus, Decision
from adapters.display import prose_lines, reveal, show, units
from adapters.slack.edit import edit_blocks, edit_button
from adapters.slack.parse import (
    APPROVE_ACTION,
    REASON_BLOCK,
    REASON_INPUT,
    REJECT_ACTION,
    REJECT_VIEW,
)
from adapters.slack.reply import reply_button

SECTION_TEXT = SectionBlock.text_max_length  # 3000
FIELD_TEXT = 2000
HEADER_TEXT = HeaderBlock.text_max_length  # 150
MESSAGE_BLOCKS = 50
FALLBACK_TEXT = 3000  # Slack accepts 40k, but notifications and screen readers want short
DECISION_BLOCK = "clearance_decision"
ARGS_HEAD = "*Arguments*\n"
FENCE = "```\n", "\n```"
# Room for one piece of an argument in a section, leaving space for the heading and fences.
CHUNK = SECTION_TEXT - len(ARGS_HEAD) - len(FENCE[0]) - len(FENCE[1])
_ENTITY = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_FALLBACK_VALUE = 40
ANSWER_TEXT = 200  # of a reply given in the tool's place, on the decided card (the agent gets it whole)


def escape(text: str) -> str:
    """Slack's three control characters; everything else is literal."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """For our own texts (rules, results, descriptions), never for argument values."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def code_unit(unit: str) -> str:
    """One display unit as it may appear inside a code block: a backtick becomes its JSON
    escape (only JSON strings contain backticks), `&<>` become entities."""
    if unit == "`":
        return "\\u0060"
    return _ENTITY.get(unit, unit)


def code_text(shown: str) -> str:
    return "".join(code_unit(u) for u in units(shown))


def mention(actor: Actor) -> str:
    if actor.platform == "slack" and actor.id:
        return f"<@{actor.id}>"
    return f"`{code_text(show(actor.display or actor.qualified))}`"


def mentions(actors: tuple[Actor, ...]) -> str:
    return ", ".join(mention(a) for a in actors) or "someone"


def _date(ts: float | None) -> str:
    if ts is None:
        return "never"
    fallback = dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(ts)}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _plain(text: str, limit: int = HEADER_TEXT, emoji: bool = True) -> PlainTextObject:
    return PlainTextObject(text=cut(text, limit) or " ", emoji=emoji)


def _mrkdwn(text: str, limit: int = SECTION_TEXT, verbatim: bool | None = None) -> MarkdownTextObject:
    return MarkdownTextObject(text=cut(text, limit) or " ", verbatim=verbatim)


def _pieces(shown: str, size: int) -> list[str]:
    """`shown` escaped for a code block, in pieces of at most `size` characters, split
    between whole units only, and never right after a space (a trailing space is invisible,
    so the reader could not tell where it went)."""
    escaped = [code_unit(u) for u in units(shown)]
    pieces: list[str] = []
    start = 0
    while start < len(escaped):
        end, length = start, 0
        while end < len(escaped) and length + len(escaped[end]) <= size:
            length += len(escaped[end])
            end += 1
        if end < len(escaped):
            back = end
            while back > start + 1 and escaped[back - 1] == " ":
                back -= 1
            if escaped[back - 1] != " ":
                end = back
        pieces.append("".join(escaped[start:end]))
        start = end
    return pieces or [""]


def argument_blocks(args: Iterable[tuple[str, Any]]) -> list[SectionBlock]:
    """One section per argument, `"name": value`, in a code block; a long one continues in
    the following sections (the JSON quotes show where a value starts and ends)."""
    blocks: list[SectionBlock] = []
    for name, value in args:
        for piece in _pieces(f"{show(name)}: {show(value)}", CHUNK):
            head = ARGS_HEAD if not blocks else ""
            blocks.append(SectionBlock(text=_mrkdwn(f"{head}{FENCE[0]}{piece}{FENCE[1]}", verbatim=True)))
    if not blocks:
        blocks.append(SectionBlock(text=_mrkdwn("*Arguments*\nnone")))
    return blocks


def _quoted(text: str) -> str:
    """Free text someone typed (a reject reason), as an inline JSON string: no line breaks,
    formatting or mentions of its own."""
    return f"`{code_text(show(text))}`"


def _result(text: str) -> str:
    """A tool's output in a code block: lines kept, hidden characters escaped, cut (the whole
    result is in the thread and the audit trail)."""
    lines = [reveal(line) for line in cut(text, 1500).split("\n")]
    return FENCE[0] + "\n".join("".join(code_unit(ch) for ch in line) for line in lines) + FENCE[1]


def outcome(card: ApprovalCard) -> str:
    """The decided card's one-line outcome, then the result (if any) on the lines below."""
    who = mentions(card.decided_by)
    result = f"\n{_result(card.result)}" if card.result else ""
    if card.status is CardStatus.REJECTED:
        return f"Rejected by {who}" + (f": {_quoted(card.reason)}" if card.reason else "")
    if card.status is CardStatus.EXPIRED:
        return "Expired"
    if card.status is CardStatus.RUNNING:
        return f"Approved by {who}: running…"
    if card.status is CardStatus.WAITING_WORKER:
        return f"Approved by {who}: waiting for worker"
    if card.status is CardStatus.DONE:
        return f"Approved by {who}: done{result}"
    if card.status is CardStatus.FAILED:
        return f"Approved by {who}: failed{result}"
    if card.status is CardStatus.APPROVED:
        return f"Approved by {who}: the agent runs it"
    if card.status is CardStatus.ANSWERED:  # the reply is the result: one short line of it
        return f"Answered by {who}" + (f": {_quoted(cut(card.result, ANSWER_TEXT))}" if card.result else "")
    return ""


_ICON = {
    CardStatus.RUNNING: ":hourglass_flowing_sand:", CardStatus.WAITING_WORKER: ":hourglass:",
    CardStatus.DONE: ":white_check_mark:", CardStatus.FAILED: ":x:",
    CardStatus.REJECTED: ":no_entry_sign:", CardStatus.EXPIRED: ":alarm_clock:",
    CardStatus.APPROVED: ":white_check_mark:", CardStatus.ANSWERED: ":speech_balloon:",
}


def _plain_value(text: str) -> bool:
    """Can this value go into the mrkdwn fallback as is, without formatting or pinging?
    Letters, digits, spaces and `.,/@+=-`, and underscores only inside a word (Slack
    italicises only `_x_` that starts and ends at a word boundary)."""
    if not text or len(text) > _FALLBACK_VALUE or text != text.strip():
        return False
    for i, ch in enumerate(text):
        if ch == "_":
            if not (0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()):
                return False
        elif not (ch.isascii() and (ch.isalnum() or ch in " .,/@+=-")):
            return False
    return True


def _summary(card: ApprovalCard) -> str:
    """`deploy service=api, environment=prod`; a value that is long or has characters that
    could format or hide shows as `(on the card)`: a summary that never misquotes."""
    parts = []
    for name, value in card.args.items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        shown = text if _plain_value(text) and _plain_value(name) else "(on the card)"
        parts.append(f"{name}={shown}" if _plain_value(name) else shown)
    tool = card.tool if _plain_value(card.tool) else "a tool"
    return cut(f"{tool} {', '.join(parts)}".strip(), 1000)


def fallback_text(card: ApprovalCard) -> str:
    """What a phone notification shows: what is asked and by whom (or how it ended)."""
    if card.status is CardStatus.PENDING:
        return f"Approval needed: {_summary(card)} — requested by {mention(card.requester)}"
    return cut(f"{_summary(card)}: {outcome(card).splitlines()[0]}", FALLBACK_TEXT)


def decision_buttons(card: ApprovalCard) -> list[ButtonElement]:
    """The buttons of the decisions the agent allows on this card, in a fixed order: no
    Approve without approve, no Edit without edit (and an editable argument), Reply only
    where the agent takes an answer in the tool's place."""
    buttons: list[ButtonElement] = []
    if card.offers(Decision.APPROVE):
        confirm = None
        if card.confirm:
            confirm = ConfirmObject(
                title=_plain("Approve this request?", 100),
                text=_mrkdwn("It runs now, with the arguments shown on the card.", 300),
                confirm=_plain("Approve", 30), deny=_plain("Cancel", 30), style="primary")
        buttons.append(ButtonElement(text=_plain("Approve", 75), action_id=APPROVE_ACTION, value=card.approval_id,
                                     style="primary", confirm=confirm))
    if card.offers(Decision.REJECT):
        buttons.append(ButtonElement(text=_plain("Reject", 75), action_id=REJECT_ACTION, value=card.approval_id,
                                     style="danger"))
    if card.offers(Decision.EDIT):
        buttons.append(edit_button(card))
    if card.offers(Decision.RESPOND):
        buttons.append(reply_button(card))
    return buttons


def _buttons(card: ApprovalCard, block_id: str = DECISION_BLOCK) -> list[ActionsBlock]:
    """The actions block, or nothing when the card offers no decision (Slack refuses an
    empty one)."""
    buttons = decision_buttons(card)
    return [ActionsBlock(block_id=block_id, elements=buttons)] if buttons else []


def _facts(card: ApprovalCard) -> SectionBlock:
    tool = f"*Tool*\n`{code_text(reveal(card.tool))}`"
    if card.description:
        tool += " — " + "\n".join(escape(line) for line in prose_lines(card.description))
    return SectionBlock(fields=[
        _mrkdwn(tool, FIELD_TEXT),
        _mrkdwn(f"*Requested by*\n{mention(card.requester)}", FIELD_TEXT),
        _mrkdwn(f"*Rule*\n{escape(reveal(card.rule or 'approval required'))}", FIELD_TEXT),
        _mrkdwn(f"*Expires*\n{_date(card.expires_at)}", FIELD_TEXT),
    ])


def render_card(card: ApprovalCard) -> dict[str, Any]:
    """`chat.postMessage` / `chat.update` arguments: `text` and `blocks`. Raises ValueError
    if the arguments need more blocks than a message holds (the bot refuses such a call
    before any card, so this is a bug, never a silent cut)."""
    pending = card.status is CardStatus.PENDING
    state = card.status.value.replace("_", " ")
    title = f"Approval needed: {reveal(card.tool)}" if pending else f"{reveal(card.tool)}: {state}"
    blocks: list[Block] = [HeaderBlock(text=_plain(title, emoji=False)), _facts(card),
                           *argument_blocks(card.args.items()), *edit_blocks(card, mention, _result, escape)]
    if card.quorum > 1 and pending:
        blocks.append(ContextBlock(elements=[_mrkdwn(card.progress(mention))]))
    if pending:
        blocks.extend(_buttons(card))
    else:
        blocks.append(SectionBlock(text=_mrkdwn(f"{_ICON.get(card.status, '')} {outcome(card)}".strip())))
    footer = f"Approval `{code_text(card.approval_id)}`"
    if card.origin:
        footer += f" · {link(card.origin, 'open the requesting thread')}"
    blocks.append(ContextBlock(elements=[_mrkdwn(footer)]))
    if len(blocks) > MESSAGE_BLOCKS:
        raise ValueError(f"card {card.approval_id}: {len(blocks)} blocks, more than a message holds")
    return {"text": cut(fallback_text(card), FALLBACK_TEXT), "blocks": [b.to_dict() for b in blocks]}


def link(url: str, label: str) -> str:
    """A mrkdwn link; a URL that could break out of the link syntax is shown as text."""
    if not url.startswith("https://") or any(c in url for c in "<>| \n"):
        return escape(label)
    return f"<{url}|{escape(label)}>"


def render_mention(user_ids: list[str], text: str) -> dict[str, Any]:
    """A text that notifies `user_ids` (Slack user ids, checked: nothing else can be pinged)."""
    mentions_ = " ".join(f"<@{u}>" for u in user_ids if u.isascii() and u.isalnum())
    body = render_text(text)
    shown = f"{mentions_} {body['text']}".strip()
    return {"text": cut(shown, FALLBACK_TEXT), "blocks": [SectionBlock(text=_mrkdwn(shown)).to_dict()]}


HOME_LIMIT = 30  # cards listed on the home tab (a view holds 100 blocks; each card takes 3)


def render_home(cards: list[ApprovalCard]) -> dict[str, Any]:
    """The App Home tab: every card the user may decide, newest last, with working buttons
    (each button's value is the approval id, as on the card)."""
    blocks: list[Block] = [HeaderBlock(text=_plain("Your pending approvals", emoji=False))]
    if not cards:
        blocks.append(SectionBlock(text=_mrkdwn("Nothing is waiting for you.")))
    for i, card in enumerate(cards[:HOME_LIMIT]):
        text = (f"*{escape(reveal(card.tool))}* {escape(_summary(card).removeprefix(card.tool).strip())}\n"
                f"Requested by {mention(card.requester)} · expires {_date(card.expires_at)}")
        if card.origin:
            text += f" · {link(card.origin, 'thread')}"
        blocks.append(SectionBlock(text=_mrkdwn(text)))
        blocks.extend(_buttons(card, block_id=f"{DECISION_BLOCK}_{i}"))
        blocks.append(ContextBlock(elements=[_mrkdwn(f"Approval `{code_text(card.approval_id)}`")]))
    if len(cards) > HOME_LIMIT:
        blocks.append(ContextBlock(elements=[_mrkdwn(f"… and {len(cards) - HOME_LIMIT} more")]))
    return View(type="home", blocks=blocks).to_dict()


def render_text(text: str) -> dict[str, Any]:
    """A plain answer or progress line in the thread. Long answers are cut, not split:
    the whole answer stays in the run's history."""
    body = escape(cut(text, SECTION_TEXT - 10))
    return {"text": cut(body, FALLBACK_TEXT), "blocks": [SectionBlock(text=_mrkdwn(body)).to_dict()]}


def reject_modal(metadata: str) -> dict[str, Any]:
    """The modal Reject opens: an optional reason that reaches the card and the model."""
    if len(metadata) > View.private_metadata_max_length:
        raise ValueError("reject modal metadata too long")
    view = View(
        type="modal", callback_id=REJECT_VIEW, private_metadata=metadata,
        title=_plain("Reject request", 24), submit=_plain("Reject", 24), close=_plain("Cancel", 24),
        blocks=[
            SectionBlock(text=_mrkdwn("The reason is shown on the card and given to the agent.")),
            InputBlock(block_id=REASON_BLOCK, optional=True, label=_plain("Reason", 2000),
                       element=PlainTextInputElement(action_id=REASON_INPUT, multiline=True, max_length=500,
                                                     placeholder=_plain("e.g. freeze until Monday", 150))),
        ],
    )
    return view.to_dict()
