"""Neutral card → terminal text. Pure.

Every argument is on its own line, its value as JSON, in full; every text from outside
(names, values, reasons, results) has its control, bidi and zero-width characters written
as `\\uXXXX`, so nothing reaches the terminal as an escape sequence, a fake line or reordered
text.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from adapters.base import ApprovalCard, CardStatus, Decision
from adapters.display import prose_lines, reveal, show

_OUTCOME = {
    CardStatus.RUNNING: "approved by {who}: running",
    CardStatus.WAITING_WORKER: "approved by {who}: waiting for worker",
    CardStatus.DONE: "approved by {who}: done",
    CardStatus.FAILED: "approved by {who}: failed",
    CardStatus.REJECTED: "rejected by {who}",
    CardStatus.EXPIRED: "expired",
    CardStatus.APPROVED: "approved by {who}: the agent runs it",
    CardStatus.ANSWERED: "answered by {who}",
}
ANSWER_TEXT = 200  # of a reply given in the tool's place, on the outcome line (the agent gets it whole)
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
_INDENT = " " * 15  # under the values of "    arguments: "


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return dt.datetime.fromtimestamp(ts).strftime("%H:%M:%S")


def _name(name: Any) -> str:
    """An argument name as is when it is a plain identifier, else JSON-quoted, so a name
    cannot pass for `name = value`."""
    text = str(name)
    return text if _PLAIN_NAME.fullmatch(text) else show(text)


def argument_lines(card: ApprovalCard) -> list[str]:
    if not card.args:
        return ["    arguments: (none)"]
    rows = [f"{_name(k)} = {show(v)}" for k, v in card.args.items()]
    return [f"    arguments: {rows[0]}", *(_INDENT + row for row in rows[1:])]


def render_progress(card: ApprovalCard) -> str:
    return f"[{card.number}] {reveal(card.progress())}"


def render_card(card: ApprovalCard) -> str:
    tool = reveal(card.tool)
    lines = [
        f"[{card.number}] Approval needed: {tool}",
        f"    tool:      {tool}" + (f" ({' / '.join(prose_lines(card.description))})" if card.description else ""),
        *argument_lines(card),
        f"    requester: {reveal(card.requester.display)}",
        f"    rule:      {reveal(card.rule)}",
        f"    expires:   {_when(card.expires_at)}",
    ]
    if card.quorum > 1:
        lines.append(f"    approvals: {reveal(card.progress())}")
    lines += [f"    edited:    {reveal(e.describe())}" for e in card.edits]
    if actions := action_hints(card):
        lines.append("    → " + "   |   ".join(actions))
    return "\n".join(lines + preview_lines(card))


def action_hints(card: ApprovalCard) -> list[str]:
    """The commands of the decisions the agent allows on this card: no approve without
    approve, no edit without edit, reply only where it takes an answer in the tool's place."""
    n = card.number
    hints = {Decision.APPROVE: f"approve {n}", Decision.REJECT: f"reject {n} <reason>",
             Decision.EDIT: f"edit {n} {card.editable[0]}=…" if card.editable else "",
             Decision.RESPOND: f"reply {n} <answer>"}
    return [hint for decision, hint in hints.items() if card.offers(decision)]


def preview_lines(card: ApprovalCard) -> list[str]:
    """The preview under the card, each line shown (hidden characters written out)."""
    if not card.preview:
        return []
    first, *rest = card.preview.splitlines() or [""]
    if card.preview_failed:
        return [f"    preview failed: {reveal(first)}", *(f"      {reveal(line)}" for line in rest)]
    return ["    preview:", *(f"      {reveal(line)}" for line in (first, *rest))]


def render_outcome(card: ApprovalCard) -> str:
    """One line per outcome; a multi-line result continues on indented lines, each shown."""
    who = ", ".join(a.display for a in card.decided_by) or "someone"
    text = _OUTCOME.get(card.status, card.status.value).format(who=who)
    if card.status is CardStatus.REJECTED and card.reason:
        text += f": {card.reason}"
    if card.status is CardStatus.ANSWERED and card.result:  # the reply is the result: one short line of it
        text += f": {card.result if len(card.result) <= ANSWER_TEXT else card.result[: ANSWER_TEXT - 1] + '…'}"
        return f"[{card.number}] {reveal(card.tool)}: {reveal(text)}"
    head = f"[{card.number}] {reveal(card.tool)}: {reveal(text)}"
    if not card.result or card.status not in (CardStatus.DONE, CardStatus.FAILED, CardStatus.ANSWERED):
        return head
    first, *rest = card.result.splitlines() or [""]
    return "\n".join([f"{head} — {reveal(first)}", *(f"    {reveal(line)}" for line in rest)])


HELP = """Type a request, e.g. "deploy api v2.3 to prod" or "restart worker in staging and scale web in staging to 6".
  approve N            approve card N
  reject N <reason>    reject card N, with an optional reason
  edit N name=value    change an editable argument of card N before anyone approves it
  reply N <answer>     answer in the tool's place, where the agent allows it (the tool does not run)
  as NAME              act as another user (to show that requesters cannot approve their own calls)
  pending              list the pending cards of this session
  quit                 leave (pending cards are kept; they are here when you come back)"""
