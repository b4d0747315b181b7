"""Neutral card → terminal text. Pure."""

from __future__ import annotations

import datetime as dt
import json

from adapters.base import ApprovalCard, CardStatus

_OUTCOME = {
    CardStatus.RUNNING: "approved by {who}: running",
    CardStatus.WAITING_WORKER: "approved by {who}: waiting for worker",
    CardStatus.DONE: "approved by {who}: done",
    CardStatus.FAILED: "approved by {who}: failed",
    CardStatus.REJECTED: "rejected by {who}",
    CardStatus.EXPIRED: "expired",
}


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return dt.datetime.fromtimestamp(ts).strftime("%H:%M:%S")


def render_card(card: ApprovalCard) -> str:
    args = json.dumps(dict(card.args), ensure_ascii=False)
    lines = [
        f"[{card.number}] Approval needed: {card.summary}",
        f"    tool:      {card.tool}" + (f" ({card.description})" if card.description else ""),
        f"    arguments: {args}",
        f"    requester: {card.requester.display}",
        f"    rule:      {card.rule}",
        f"    expires:   {_when(card.expires_at)}",
    ]
    if card.quorum > 1:
        lines.append(f"    approvals: {card.progress()}")
    lines.append(f"    → approve {card.number}   |   reject {card.number} <reason>")
    return "\n".join(lines)


def render_outcome(card: ApprovalCard) -> str:
    who = ", ".join(a.display for a in card.decided_by) or "someone"
    text = _OUTCOME.get(card.status, card.status.value).format(who=who)
    if card.status is CardStatus.REJECTED and card.reason:
        text += f": {card.reason}"
    if card.result and card.status in (CardStatus.DONE, CardStatus.FAILED):
        text += f" — {card.result}"
    return f"[{card.number}] {card.summary}: {text}"


HELP = """Type a request, e.g. "deploy api v2.3 to prod" or "restart worker in staging and scale web in staging to 6".
  approve N            approve card N
  reject N <reason>    reject card N, with an optional reason
  as NAME              act as another user (to show that requesters cannot approve their own calls)
  pending              list the pending cards of this session
  quit                 leave (pending cards are kept; they are here when you come back)"""
