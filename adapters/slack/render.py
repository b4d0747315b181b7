"""Neutral card view → Block Kit. Pure.

Every message built here stays within Block Kit's documented limits (checked by
`adapters.slack.limits.violations` in the tests): user-supplied text is escaped so an
argument cannot ping `<!channel>`, and long arguments are split, then truncated.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from adapters.base import Actor, ApprovalCard, CardStatus
from adapters.slack.parse import (
    APPROVE_ACTION, REASON_BLOCK, REASON_INPUT, REJECT_ACTION, REJECT_VIEW,
)

SECTION_TEXT = 3000
FIELD_TEXT = 2000
HEADER_TEXT = 150
FALLBACK_TEXT = 3000  # Slack accepts 40k, but notifications and screen readers want short
ARG_SECTIONS = 6  # up to ~18k characters of arguments before truncating
DECISION_BLOCK = "clearance_decision"


def escape(text: str) -> str:
    """Slack's three control characters; everything else is literal."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mention(actor: Actor) -> str:
    if actor.platform == "slack" and actor.id:
        return f"<@{actor.id}>"
    return escape(actor.display or actor.qualified)


def mentions(actors: tuple[Actor, ...]) -> str:
    return ", ".join(mention(a) for a in actors) or "someone"


def _date(ts: float | None) -> str:
    if ts is None:
        return "never"
    fallback = dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(ts)}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _plain(text: str, limit: int = HEADER_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": cut(text, limit) or " ", "emoji": True}


def _mrkdwn(text: str, limit: int = SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": cut(text, limit) or " "}


def _chunks(text: str, size: int, most: int) -> tuple[list[str], bool]:
    """Split escaped text into at most `most` chunks of `size`, never inside an entity."""
    chunks: list[str] = []
    current = ""
    for ch in text:
        piece = escape(ch)
        if len(current) + len(piece) > size:
            chunks.append(current)
            current = ""
            if len(chunks) == most:
                return chunks, True
        current += piece
    if current or not chunks:
        chunks.append(current)
    return chunks, False


def _arg_blocks(args: Any) -> list[dict[str, Any]]:
    text = json.dumps(args, indent=2, ensure_ascii=False, default=str, sort_keys=False)
    fence = 8  # "```\n" + "\n```"
    head = "*Arguments*\n"
    chunks, truncated = _chunks(text, SECTION_TEXT - fence - len(head) - 40, ARG_SECTIONS)
    blocks = []
    for i, chunk in enumerate(chunks):
        prefix = head if i == 0 else ""
        suffix = ""
        if truncated and i == len(chunks) - 1:
            suffix = f"\n_…truncated ({len(text)} characters in all; see `clearance pending`)_"
        blocks.append({"type": "section", "text": _mrkdwn(f"{prefix}```\n{chunk}\n```{suffix}")})
    return blocks


def outcome(card: ApprovalCard) -> str:
    """The decided card's one-line outcome (DESIGN section 8)."""
    who = mentions(card.decided_by)
    result = escape(cut(card.result, 1500))
    if card.status is CardStatus.REJECTED:
        return f"Rejected by {who}" + (f": {escape(card.reason)}" if card.reason else "")
    if card.status is CardStatus.EXPIRED:
        return "Expired"
    if card.status is CardStatus.RUNNING:
        return f"Approved by {who}: running…"
    if card.status is CardStatus.WAITING_WORKER:
        return f"Approved by {who}: waiting for worker"
    if card.status is CardStatus.DONE:
        return f"Approved by {who}: done" + (f"\n>{result}" if result else "")
    if card.status is CardStatus.FAILED:
        return f"Approved by {who}: failed" + (f"\n>{result}" if result else "")
    return ""


_ICON = {
    CardStatus.RUNNING: ":hourglass_flowing_sand:", CardStatus.WAITING_WORKER: ":hourglass:",
    CardStatus.DONE: ":white_check_mark:", CardStatus.FAILED: ":x:",
    CardStatus.REJECTED: ":no_entry_sign:", CardStatus.EXPIRED: ":alarm_clock:",
}


def fallback_text(card: ApprovalCard) -> str:
    """What a phone notification shows: what is asked and by whom (or how it ended)."""
    summary = escape(cut(card.summary, 300))
    if card.status is CardStatus.PENDING:
        return f"Approval needed: {summary} — requested by {mention(card.requester)}"
    return cut(f"{summary}: {outcome(card).splitlines()[0]}", FALLBACK_TEXT)


def _buttons(card: ApprovalCard) -> dict[str, Any]:
    approve: dict[str, Any] = {
        "type": "button", "action_id": APPROVE_ACTION, "text": _plain("Approve", 75),
        "style": "primary", "value": card.approval_id,
    }
    if card.confirm:
        approve["confirm"] = {
            "title": _plain(f"Approve {card.tool}?", 100),
            "text": _mrkdwn(f"This runs `{escape(cut(card.summary, 200))}` now.", 300),
            "confirm": _plain("Approve", 30),
            "deny": _plain("Cancel", 30),
            "style": "primary",
        }
    reject = {
        "type": "button", "action_id": REJECT_ACTION, "text": _plain("Reject", 75),
        "style": "danger", "value": card.approval_id,
    }
    return {"type": "actions", "block_id": DECISION_BLOCK, "elements": [approve, reject]}


def render_card(card: ApprovalCard) -> dict[str, Any]:
    """`chat.postMessage` / `chat.update` arguments: `text` and `blocks`."""
    pending = card.status is CardStatus.PENDING
    title = f"Approval needed: {card.tool}" if pending else f"{card.tool}: {card.status.value.replace('_', ' ')}"
    tool = f"*Tool*\n`{escape(card.tool)}`" + (f" — {escape(card.description)}" if card.description else "")
    fields = [
        _mrkdwn(tool, FIELD_TEXT),
        _mrkdwn(f"*Requested by*\n{mention(card.requester)}", FIELD_TEXT),
        _mrkdwn(f"*Rule*\n{escape(card.rule or 'approval required')}", FIELD_TEXT),
        _mrkdwn(f"*Expires*\n{_date(card.expires_at)}", FIELD_TEXT),
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(title)},
        {"type": "section", "text": _mrkdwn(f"*{escape(cut(card.summary, 500))}*"), "fields": fields},
        *_arg_blocks(dict(card.args)),
    ]
    if card.quorum > 1 and pending:
        blocks.append({"type": "context", "elements": [
            _mrkdwn(card.progress(mention))]})
    if pending:
        blocks.append(_buttons(card))
    else:
        blocks.append({"type": "section", "text": _mrkdwn(f"{_ICON.get(card.status, '')} {outcome(card)}".strip())})
    blocks.append({"type": "context", "elements": [_mrkdwn(f"Approval `{card.approval_id}`")]})
    return {"text": cut(fallback_text(card), FALLBACK_TEXT), "blocks": blocks}


def render_text(text: str) -> dict[str, Any]:
    """A plain answer or progress line in the thread. Long answers are cut, not split:
    the whole answer stays in the run's history."""
    body = escape(cut(text, SECTION_TEXT - 10))
    return {"text": cut(body, FALLBACK_TEXT),
            "blocks": [{"type": "section", "text": _mrkdwn(body)}]}


def reject_modal(metadata: str) -> dict[str, Any]:
    """The modal Reject opens: an optional reason that reaches the card and the model."""
    return {
        "type": "modal",
        "callback_id": REJECT_VIEW,
        "private_metadata": metadata[:3000],
        "title": _plain("Reject request", 24),
        "submit": _plain("Reject", 24),
        "close": _plain("Cancel", 24),
        "blocks": [
            {"type": "section", "text": _mrkdwn("The reason is shown on the card and given to the agent.")},
            {
                "type": "input", "block_id": REASON_BLOCK, "optional": True,
                "label": _plain("Reason", 2000),
                "element": {"type": "plain_text_input", "action_id": REASON_INPUT, "multiline": True,
                            "max_length": 500,
                            "placeholder": _plain("e.g. freeze until Monday", 150)},
            },
        ],
    }
