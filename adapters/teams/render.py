"""Neutral card view → Adaptive Card 1.5 JSON and invoke responses. Pure.

The card must read well on a phone: a short bold title, a one-line summary, then a
FactSet (Teams mobile shows facts stacked). The reason input is optional so an empty
field never blocks a tap on Approve or Reject.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from adapters.base import ApprovalCard, CardStatus

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MESSAGE_CONTENT_TYPE = "application/vnd.microsoft.activity.message"
ERROR_CONTENT_TYPE = "application/vnd.microsoft.error"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
REASON_INPUT_ID = "reason"

_OUTCOME: dict[CardStatus, tuple[str, str]] = {
    # status → (headline template, TextBlock color)
    CardStatus.RUNNING: ("Approved by {who}: running…", "Good"),
    CardStatus.WAITING_WORKER: ("Approved by {who}: waiting for worker", "Good"),
    CardStatus.DONE: ("Approved by {who}: done", "Good"),
    CardStatus.FAILED: ("Approved by {who}: failed", "Attention"),
    CardStatus.REJECTED: ("Rejected by {who}", "Attention"),
    CardStatus.EXPIRED: ("Expired", "Warning"),
}


def _plain(text: str) -> str:
    """Adaptive Card TextBlocks interpret a markdown subset; keep user-supplied text from
    becoming links (a phishing vector on an approval card)."""
    return text.replace("](", "]\u200b(")


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def format_args(args: Any) -> str:
    """Every argument, untruncated: what is approved is exactly what is shown (DESIGN 9.5)."""
    if not args:
        return "(none)"
    return ", ".join(f"{k}={_value(v)}" for k, v in dict(args).items())


def format_expiry(expires_at: float | None) -> str:
    if expires_at is None:
        return "never"
    return dt.datetime.fromtimestamp(expires_at, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def deciders(card: ApprovalCard) -> str:
    return ", ".join(a.display for a in card.decided_by) or "someone"


def outcome_text(card: ApprovalCard) -> str:
    """"Approved by …" / "Rejected by …: reason" / "Expired" (DESIGN section 8)."""
    template, _ = _OUTCOME.get(card.status, ("{status}", "Default"))
    text = template.format(who=deciders(card), status=card.status.value)
    if card.status is CardStatus.REJECTED and card.reason:
        text += f": {card.reason}"
    return text


def title(card: ApprovalCard) -> str:
    if card.status is CardStatus.PENDING:
        return f"Approve {card.tool}?"
    if card.status is CardStatus.EXPIRED:
        return f"{card.tool}: expired"
    if card.status is CardStatus.REJECTED:
        return f"{card.tool}: rejected"
    return f"{card.tool}: approved"


def _facts(card: ApprovalCard) -> list[dict[str, str]]:
    facts = [
        {"title": "Tool", "value": card.tool},
        {"title": "Arguments", "value": format_args(card.args)},
        {"title": "Requester", "value": card.requester.display},
        {"title": "Rule", "value": card.rule or "approval required"},
        {"title": "Expires", "value": format_expiry(card.expires_at)},
    ]
    if card.quorum > 1:
        facts.append({"title": "Approvals", "value": card.progress()})
    return [{"title": f["title"], "value": _plain(f["value"])} for f in facts]


def render_card(card: ApprovalCard) -> dict[str, Any]:
    """ApprovalCard → Adaptive Card 1.5. Pending cards carry Approve/Reject
    `Action.Execute` buttons; decided cards carry no actions and say the outcome."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": _plain(title(card)), "weight": "Bolder", "size": "Medium",
         "wrap": True, "style": "heading"},
        {"type": "TextBlock", "text": _plain(card.summary), "wrap": True, "isSubtle": True, "spacing": "None"},
    ]
    if card.description:
        body.append({"type": "TextBlock", "text": _plain(card.description), "wrap": True, "size": "Small"})
    body.append({"type": "FactSet", "facts": _facts(card)})
    result: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": VERSION,
        "body": body,
    }
    if card.status is CardStatus.PENDING:
        if card.confirm:
            body.append({"type": "TextBlock", "text": "This rule asks for a deliberate confirmation: "
                         "check the arguments before approving.", "wrap": True, "color": "Warning",
                         "size": "Small"})
        body.append({
            "type": "Input.Text", "id": REASON_INPUT_ID, "placeholder": "Reason (optional)",
            "label": "Reason (optional)", "isRequired": False, "maxLength": 500,
        })
        data = {"approval_id": card.approval_id}
        result["actions"] = [
            {"type": "Action.Execute", "title": "Approve", "verb": "approve", "data": dict(data),
             "style": "positive"},
            {"type": "Action.Execute", "title": "Reject", "verb": "reject", "data": dict(data),
             "style": "destructive"},
        ]
        result["fallbackText"] = f"Approval needed: {card.summary} (requested by {card.requester.display})"
        return result
    _, color = _OUTCOME.get(card.status, ("", "Default"))
    body.append({"type": "TextBlock", "text": _plain(outcome_text(card)), "wrap": True,
                 "weight": "Bolder", "color": color})
    if card.result and card.status in (CardStatus.DONE, CardStatus.FAILED):
        body.append({"type": "TextBlock", "text": _plain(card.result[:1500]), "wrap": True,
                     "fontType": "Monospace", "size": "Small"})
    result["fallbackText"] = f"{card.summary}: {outcome_text(card)}"
    return result


def card_attachment(card: ApprovalCard) -> dict[str, Any]:
    return {"contentType": CARD_CONTENT_TYPE, "content": render_card(card)}


def notification_summary(card: ApprovalCard) -> str:
    """Activity `summary`: what phones show in the notification instead of "sent a card"."""
    if card.status is CardStatus.PENDING:
        return f"Approval needed: {card.summary} (requested by {card.requester.display})"
    return f"{card.summary}: {outcome_text(card)}"


# -- invoke responses (the body of the HTTP 200 answering `adaptiveCard/action`) --------------


def card_response(card: ApprovalCard) -> dict[str, Any]:
    """The decided card replaces the clicker's card at once. An empty or malformed body
    makes Teams show an error and retry the click."""
    return {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": render_card(card)}


def message_response(text: str) -> dict[str, Any]:
    """A refusal: Teams shows the text to the clicker only and leaves the card as it is."""
    return {"statusCode": 200, "type": MESSAGE_CONTENT_TYPE, "value": text}


def error_response(status: int, code: str, message: str) -> dict[str, Any]:
    return {"statusCode": status, "type": ERROR_CONTENT_TYPE, "value": {"code": code, "message": message}}
