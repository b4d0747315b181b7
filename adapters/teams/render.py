"""Neutral card view → Adaptive Card 1.5 JSON and invoke responses. Pure.

The card must read well on a phone: a short bold title, then the arguments as a FactSet
(Teams mobile shows facts stacked), then who asks, under which rule, until when. The reason
input is optional so an empty field never blocks a tap on Approve or Reject.

What is approved is exactly what is shown. Every argument is its own Fact, name apart from
value, and every value is JSON, so `a="x, b=y"` is one quoted value and never looks like two
arguments; nothing is shortened. Teams runs TextBlocks and Facts through markdown, so every
text that did not come from this module is escaped: hidden and reordering characters written
as `\\uXXXX`, markdown punctuation behind a backslash. A value cannot start a line, turn
bold, become a link or a code block, or fake an "Approved by" line.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Mapping

from adapters.base import ApprovalCard, CardStatus, Decision
from adapters.display import prose_lines, reveal, show
from adapters.teams import views
from adapters.teams.edit import edit_action, edit_body
from adapters.teams.reply import reply_action

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MESSAGE_CONTENT_TYPE = "application/vnd.microsoft.activity.message"
ERROR_CONTENT_TYPE = "application/vnd.microsoft.error"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
REASON_INPUT_ID = "reason"
ARGUMENTS_ID = "arguments"  # the FactSet with one Fact per argument
FACTS_ID = "facts"  # the FactSet with tool, requester, rule, expiry
RESULT_LIMIT = 1500  # a result is an outcome report, not what was approved: long ones are cut, visibly
NOTIFICATION_LIMIT = 200
ANSWER_TEXT = 200  # of a reply given in the tool's place, on the decided card (the agent gets it whole)

_OUTCOME: dict[CardStatus, tuple[str, str]] = {
    # status → (headline template, TextBlock color)
    CardStatus.RUNNING: ("Approved by {who}: running…", "Good"),
    CardStatus.WAITING_WORKER: ("Approved by {who}: waiting for worker", "Good"),
    CardStatus.DONE: ("Approved by {who}: done", "Good"),
    CardStatus.FAILED: ("Approved by {who}: failed", "Attention"),
    CardStatus.REJECTED: ("Rejected by {who}", "Attention"),
    CardStatus.EXPIRED: ("Expired", "Warning"),
    CardStatus.APPROVED: ("Approved by {who}: the agent runs it", "Good"),
    CardStatus.ANSWERED: ("Answered by {who}", "Good"),
}

# Inline markdown (emphasis, code spans and fences, strikethrough, links, autolinks, HTML,
# entities) and the escape character itself. A backslash before ASCII punctuation shows the
# character literally; where a client does not honour the escape, the backslash stays
# visible, which is ugly but never a change of meaning.
_INLINE = str.maketrans({c: "\\" + c for c in "\\`*_[]~<>&"})
# Block markdown counts only at the start of a line (escaped text is one line): a heading,
# a list item, a setext underline or a rule. A negative number (`-5`) is none of these.
_BLOCK = re.compile(r"^(?:(#)|([+\-=])(?=[\s+\-=]|$)|(\d+)([.)])(?=\s|$))")


def _unblock(match: re.Match[str]) -> str:
    if match.group(3):
        return f"{match.group(3)}\\{match.group(4)}"
    return "\\" + (match.group(1) or match.group(2))


_SPACE_RUN = re.compile(r"(?<= ) ")


def escape(text: str) -> str:
    """Any text as it must appear in an Adaptive Card TextBlock or Fact: one line, hidden
    characters written out, markdown shown literally, and runs of spaces kept (HTML would
    fold `a  b` into `a b`)."""
    shown = _BLOCK.sub(_unblock, reveal(text).strip().translate(_INLINE), count=1)
    return _SPACE_RUN.sub("\u00a0", shown)


def _lines(text: str) -> str:
    """Multi-line text (a tool's output) as paragraphs, each line escaped and literal;
    leading spaces become no-break spaces so an indented line is not a code block."""
    out = []
    for line in text.splitlines():
        body = line.lstrip(" ")
        out.append("\u00a0" * (len(line) - len(body)) + escape(body))
    return "\n\n".join(out)


def argument_facts(args: Mapping[str, Any]) -> list[dict[str, str]]:
    """One Fact per argument: the name, and the value as JSON, in full."""
    return [{"title": escape(str(name)), "value": escape(show(value))} for name, value in args.items()]


def call_text(card: ApprovalCard, limit: int | None = None) -> str:
    """The call on one plain line, e.g. `deploy(service="api", environment="prod")`; with a
    limit, a call that does not fit names its argument count instead of being cut."""
    args = ", ".join(f"{reveal(str(k))}={show(v)}" for k, v in card.args.items())
    text = f"{reveal(card.tool)}({args})"
    if limit is not None and len(text) > limit:
        count = len(card.args)
        return f"{reveal(card.tool)} ({count} argument{'' if count == 1 else 's'}, see the card)"
    return text


def format_expiry(expires_at: float | None) -> str:
    if expires_at is None:
        return "never"
    return dt.datetime.fromtimestamp(expires_at, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def deciders(card: ApprovalCard) -> str:
    return ", ".join(a.display for a in card.decided_by) or "someone"


def outcome_text(card: ApprovalCard) -> str:
    """"Approved by …" / "Rejected by …: reason" / "Expired", plain (not escaped)."""
    template, _ = _OUTCOME.get(card.status, ("{status}", "Default"))
    text = template.format(who=deciders(card), status=card.status.value)
    if card.status is CardStatus.REJECTED and card.reason:
        text += f": {card.reason}"
    if card.status is CardStatus.ANSWERED and card.result:  # the reply is the result: one short line of it
        text += f": {card.result if len(card.result) <= ANSWER_TEXT else card.result[: ANSWER_TEXT - 1] + '…'}"
    return text


def title(card: ApprovalCard) -> str:
    if card.status is CardStatus.PENDING:
        return f"Approve {card.tool}?"
    if card.status is CardStatus.EXPIRED:
        return f"{card.tool}: expired"
    if card.status is CardStatus.REJECTED:
        return f"{card.tool}: rejected"
    if card.status is CardStatus.ANSWERED:
        return f"{card.tool}: answered"
    return f"{card.tool}: approved"


def _facts(card: ApprovalCard) -> list[dict[str, str]]:
    facts = [
        ("Tool", card.tool),
        ("Requester", card.requester.display),
        ("Rule", card.rule or "approval required"),
        ("Expires", format_expiry(card.expires_at)),
    ]
    if card.quorum > 1:
        facts.append(("Approvals", card.progress()))
    return [{"title": name, "value": escape(value)} for name, value in facts]


def _arguments(card: ApprovalCard) -> list[dict[str, Any]]:
    heading = {"type": "TextBlock", "text": "Arguments", "weight": "Bolder", "wrap": True, "spacing": "Medium"}
    if not card.args:
        return [heading, {"type": "TextBlock", "text": "(none)", "wrap": True, "isSubtle": True, "spacing": "None"}]
    return [heading, {"type": "FactSet", "id": ARGUMENTS_ID, "facts": argument_facts(card.args), "spacing": "Small"}]


def render_card(card: ApprovalCard, *, for_approver: bool = False) -> dict[str, Any]:
    """ApprovalCard → Adaptive Card 1.5. Pending cards carry Approve/Reject
    `Action.Execute` buttons; decided cards carry no actions and say the outcome.

    When the rule names its Teams approvers, the posted card has no buttons and a `refresh`
    for those users only: Teams fetches each one's own version (`for_approver`, drawn for
    `card.viewer`), so everyone else sees the facts and the state."""
    users = views.listed_users(card) if card.status is CardStatus.PENDING else []
    if users and not for_approver:
        result = _render(card, buttons=False)
        result["refresh"] = views.refresh(card, users)
        if views.needs_refresh_button(card, users):
            result["actions"] = [views.refresh_action(card)]
        return result
    result = _render(card, buttons=True)
    if for_approver:
        result = views.personal(card, result, input_ids=frozenset({REASON_INPUT_ID}))
    if users:
        result["refresh"] = views.refresh(card, users)
    return result


def _execute(decision: Decision, data: Mapping[str, Any]) -> dict[str, Any]:
    title, style = _BUTTON[decision]
    return {"type": "Action.Execute", "title": title, "verb": decision.value, "data": dict(data), "style": style}


_BUTTON = {Decision.APPROVE: ("Approve", "positive"), Decision.REJECT: ("Reject", "destructive")}


def decision_actions(card: ApprovalCard) -> list[dict[str, Any]]:
    """The actions of the decisions the agent allows on this card, in a fixed order: no
    Approve without approve, no Edit without edit (and an editable argument), Reply only where
    the agent takes an answer in the tool's place."""
    data = {"approval_id": card.approval_id}
    actions = [_execute(d, data) for d in (Decision.APPROVE, Decision.REJECT) if card.offers(d)]
    if card.offers(Decision.EDIT):
        actions.append(edit_action(card))
    if card.offers(Decision.RESPOND):
        actions.append(reply_action(card))
    return actions


def _render(card: ApprovalCard, *, buttons: bool) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": escape(title(card)), "weight": "Bolder", "size": "Medium",
         "wrap": True, "style": "heading"},
    ]
    if card.description:
        body.append({"type": "TextBlock", "text": "\n\n".join(escape(line) for line in prose_lines(card.description)),
                     "wrap": True, "size": "Small",
                     "isSubtle": True, "spacing": "None"})
    body.extend(_arguments(card))
    body.extend(edit_body(card, escape, _lines))
    body.append({"type": "FactSet", "id": FACTS_ID, "facts": _facts(card), "spacing": "Medium"})
    if card.origin.startswith("https://"):
        body.append({"type": "TextBlock", "text": f"[Open the requesting conversation]({card.origin})",
                     "wrap": True, "size": "Small"})
    result: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": VERSION,
        "body": body,
    }
    if card.status is CardStatus.PENDING and not buttons:
        body.append({"type": "TextBlock", "text": "Waiting for a decision by its approvers.", "wrap": True,
                     "isSubtle": True, "size": "Small"})
        result["fallbackText"] = escape(notification_summary(card))
        return result
    if card.status is CardStatus.PENDING:
        if card.confirm:
            body.append({"type": "TextBlock", "text": "This rule asks for a deliberate confirmation: "
                         "check the arguments before approving.", "wrap": True, "color": "Warning",
                         "size": "Small"})
        body.append({
            "type": "Input.Text", "id": REASON_INPUT_ID, "placeholder": "Reason (optional)",
            "label": "Reason (optional)", "isRequired": False, "maxLength": 500,
        })
        result["actions"] = decision_actions(card)
        result["fallbackText"] = escape(notification_summary(card))
        return result
    _, color = _OUTCOME.get(card.status, ("", "Default"))
    body.append({"type": "TextBlock", "text": escape(outcome_text(card)), "wrap": True,
                 "weight": "Bolder", "color": color})
    if card.result and card.status in (CardStatus.DONE, CardStatus.FAILED):
        shown = card.result[:RESULT_LIMIT]
        text = _lines(shown)
        if len(card.result) > len(shown):
            text += f"\n\n… ({len(card.result) - len(shown)} more characters)"
        body.append({"type": "TextBlock", "text": text, "wrap": True, "fontType": "Monospace", "size": "Small"})
    result["fallbackText"] = escape(notification_summary(card))
    return result


def card_attachment(card: ApprovalCard) -> dict[str, Any]:
    return {"contentType": CARD_CONTENT_TYPE, "content": render_card(card)}


def notification_summary(card: ApprovalCard) -> str:
    """Activity `summary`: what phones show in the notification instead of "sent a card".
    Plain text, values JSON-quoted like on the card; a long call names its argument count."""
    call = call_text(card, NOTIFICATION_LIMIT)
    if card.status is CardStatus.PENDING:
        return f"Approval needed: {call} (requested by {reveal(card.requester.display)})"
    return f"{call}: {reveal(outcome_text(card))}"


def render_pending(cards: list[ApprovalCard]) -> dict[str, Any]:
    """"My pending approvals" as one card: each call with its facts and its own Approve and
    Reject buttons (data: the approval id, and `from: list` so the answer is a message and
    the list stays)."""
    body: list[dict[str, Any]] = [{"type": "TextBlock", "text": "Your pending approvals", "weight": "Bolder",
                                   "size": "Medium", "wrap": True, "style": "heading"}]
    if not cards:
        body.append({"type": "TextBlock", "text": "Nothing is waiting for you.", "wrap": True})
    for card in cards[:20]:
        data = {"approval_id": card.approval_id, "from": "list"}
        body.append({"type": "Container", "separator": True, "items": [
            {"type": "TextBlock", "text": escape(call_text(card, NOTIFICATION_LIMIT)), "wrap": True,
             "weight": "Bolder"},
            {"type": "FactSet", "facts": [{"title": "Requester", "value": escape(card.requester.display)},
                                          {"title": "Expires", "value": escape(format_expiry(card.expires_at))}]},
            {"type": "ActionSet", "actions": [_execute(d, data) for d in (Decision.APPROVE, Decision.REJECT)
                                              if card.offers(d)]},
        ]})
    return {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": body,
            "fallbackText": f"{len(cards)} approval(s) waiting for you"}


# -- invoke responses (the body of the HTTP 200 answering `adaptiveCard/action`) --------------


def card_response(card: ApprovalCard, *, for_approver: bool = False) -> dict[str, Any]:
    """The decided card replaces the clicker's card at once (or, on a refresh, the card as
    an approver sees it). An empty or malformed body makes Teams show an error and retry."""
    return {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": render_card(card, for_approver=for_approver)}


def message_response(text: str) -> dict[str, Any]:
    """A refusal: Teams shows the text to the clicker only and leaves the card as it is."""
    return {"statusCode": 200, "type": MESSAGE_CONTENT_TYPE, "value": text}


def error_response(status: int, code: str, message: str) -> dict[str, Any]:
    return {"statusCode": status, "type": ERROR_CONTENT_TYPE, "value": {"code": code, "message": message}}
