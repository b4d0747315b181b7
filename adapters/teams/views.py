"""One person's own view of a pending card, through Teams' Universal Actions refresh. Pure.

Teams asks the bot for the card again for each listed user who opens it (at most 60 users
automatically), so each sees only the buttons they may use now: the requester a Withdraw,
one who approved a note and no Approve. Anyone else, and everyone when Teams cannot refresh
for them all, sees the shared card, which then keeps a Refresh button to ask for their own.
"""

from __future__ import annotations

from typing import Any

from adapters.base import ApprovalCard, ViewerRole

REFRESH_VERB = "refresh"
MAX_REFRESH_USERS = 60  # Teams refreshes a card automatically for at most 60 listed users

# The verbs each kind of viewer keeps; None keeps every button the card offers.
_KEEPS: dict[ViewerRole, frozenset[str] | None] = {
    ViewerRole.DECIDER: None,
    ViewerRole.REQUESTER: frozenset({"reject"}),  # shown as Withdraw
    ViewerRole.APPROVED: frozenset({"reject"}),  # may still change their mind
    ViewerRole.EDITOR: frozenset({"reject", "edit"}),
    ViewerRole.OBSERVER: frozenset(),
}


def listed_users(card: ApprovalCard) -> list[str]:
    """The Teams users the rule names (the requester too, who may withdraw), as MRIs
    (`8:orgid:<aad object id>`); empty when anyone may decide."""
    ids = [q.removeprefix("teams:") for q in card.approver_ids if q.startswith("teams:") and ":group:" not in q]
    return [f"8:orgid:{i}" for i in dict.fromkeys(ids)]


def refresh_action(card: ApprovalCard) -> dict[str, Any]:
    return {"type": "Action.Execute", "title": "Refresh", "verb": REFRESH_VERB,
            "data": {"approval_id": card.approval_id}}


def refresh(card: ApprovalCard, users: list[str]) -> dict[str, Any]:
    return {"action": refresh_action(card), "userIds": users[:MAX_REFRESH_USERS]}


def needs_refresh_button(card: ApprovalCard, users: list[str]) -> bool:
    """Some who may decide will not get their own view by themselves: beyond Teams' limit,
    or members of a group, whom no list of users can name."""
    return len(users) > MAX_REFRESH_USERS or any(":group:" in q for q in card.approver_ids)


def _verbs(action: dict[str, Any]) -> set[str]:
    """What a button does: its verb, or for a ShowCard (Edit, Reply) the verbs inside it."""
    if action.get("type") == "Action.ShowCard":
        return {str(a.get("verb")) for a in (action.get("card") or {}).get("actions") or []}
    return {str(action.get("verb"))}


def personal(card: ApprovalCard, content: dict[str, Any], *, input_ids: frozenset[str]) -> dict[str, Any]:
    """`content` (the card with every button) cut down to what `card.viewer` may do, with
    a line saying why when something is missing. `input_ids`: inputs that only serve buttons."""
    viewer = card.viewer
    if viewer is None or "actions" not in content:
        return content
    keeps = _KEEPS[viewer.role]
    actions = [dict(a) for a in content["actions"] if keeps is None or _verbs(a) & keeps]
    if viewer.role is ViewerRole.REQUESTER:
        for action in actions:
            action["title"] = "Withdraw"
    body = list(content["body"])
    if not actions:
        body = [item for item in body if item.get("id") not in input_ids]
    if viewer.note:
        body.append({"type": "TextBlock", "text": viewer.note, "wrap": True, "weight": "Bolder", "size": "Small"})
    result = {**content, "body": body, "actions": actions}
    if not actions:
        del result["actions"]
    return result
