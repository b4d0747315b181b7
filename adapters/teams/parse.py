"""Bot Framework Activity JSON (as Teams sends it) → neutral events. Pure: no I/O.

Teams sends camelCase JSON (`serviceUrl`, `from.aadObjectId`, `conversation.tenantId`);
everything here reads that wire shape so it can be tested with captured payloads.
"""

from __future__ import annotations

import html
import re
from typing import Any, Mapping
from urllib.parse import urlsplit

from adapters.base import Actor, Conversation, Decision, DecisionClick, InboundMessage, Place

PLATFORM = "teams"
CARD_ACTION = "adaptiveCard/action"
_AT = re.compile(r"<at[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]{1,200}>")
_SPACE = re.compile(r"[ \t\u00a0]+")
MAX_TEXT = 8000
MAX_REASON = 500


class ParseError(ValueError):
    """The activity is not something Teams would send: answered with a 400."""


def _obj(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ParseError(f"{what} must be an object")
    return value


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _map(value: Any) -> Mapping[str, Any]:
    """An optional object: anything else counts as empty."""
    return value if isinstance(value, Mapping) else {}


def check_activity(body: Any) -> Mapping[str, Any]:
    """The minimum every activity must carry before the SDK sees it; the SDK's own model
    validation runs after this, but its errors are less precise."""
    activity = _obj(body, "activity")
    if not _str(activity.get("type")):
        raise ParseError("activity.type is required")
    # The SDK routes and replies by channel ("msteams"); without one it cannot start a turn.
    if not _str(activity.get("channelId")).strip():
        raise ParseError("channelId is required")
    conv = _obj(activity.get("conversation"), "conversation")
    if not _str(conv.get("id")):
        raise ParseError("conversation.id is required")
    url = activity.get("serviceUrl")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ParseError("serviceUrl must be an http(s) URL")
    if "from" in activity and activity["from"] is not None:
        _obj(activity["from"], "from")
    # Teams always names the bot as recipient; without it the SDK cannot address its reply
    # and answers an invoke with a 501.
    _obj(activity.get("recipient"), "recipient")
    in_conversation, in_channel_data = _tenants(activity)
    if in_conversation and in_channel_data and in_conversation.lower() != in_channel_data.lower():
        # Teams sends the same tenant in both; which one to believe is not ours to guess.
        raise ParseError("conversation.tenantId and channelData.tenant.id disagree")
    return activity


def _tenants(activity: Mapping[str, Any]) -> tuple[str, str]:
    """The tenant as `conversation.tenantId` and as `channelData.tenant.id`."""
    conv = activity.get("conversation")
    in_conversation = _str(conv.get("tenantId")) if isinstance(conv, Mapping) else ""
    data = activity.get("channelData")
    tenant = data.get("tenant") if isinstance(data, Mapping) else None
    in_channel_data = _str(tenant.get("id")) if isinstance(tenant, Mapping) else ""
    return in_conversation, in_channel_data


def tenant_of(activity: Mapping[str, Any]) -> str:
    in_conversation, in_channel_data = _tenants(activity)
    return in_channel_data or in_conversation


def thread_id(tenant: str, conversation_id: str) -> str:
    """One LangGraph thread per Teams conversation (a channel thread's
    id carries `;messageid=`, so each channel thread is its own run)."""
    return f"{PLATFORM}:{tenant}:{conversation_id}"


def conversation_of(activity: Mapping[str, Any]) -> Conversation:
    """The full conversation reference, stored with the run so cards and answers can be
    posted proactively later, after a restart too."""
    conv = _obj(activity.get("conversation"), "conversation")
    bot = _map(activity.get("recipient"))
    tenant = tenant_of(activity)
    data: dict[str, Any] = {
        "service_url": _str(activity.get("serviceUrl")),
        "channel_id": _str(activity.get("channelId")) or "msteams",
        "conversation_id": _str(conv.get("id")),
        "conversation_type": _str(conv.get("conversationType")),
        "tenant_id": tenant,
        "bot_id": _str(bot.get("id")),
        "bot_name": _str(bot.get("name")),
    }
    channel_data = activity.get("channelData")
    if isinstance(channel_data, Mapping) and isinstance(channel_data.get("team"), Mapping):
        data["team_id"] = _str(channel_data["team"].get("id"))
    return Conversation(platform=PLATFORM, thread_id=thread_id(tenant, data["conversation_id"]), data=data)


def actor_of(activity: Mapping[str, Any]) -> Actor:
    """Approvers are listed as `teams:<aad object id>`; the channel-specific `29:` id is not
    stable across bots, so it is never used for authorization. An empty id means the
    transport must look the member up (GET members) before deciding anything."""
    sender = _map(activity.get("from"))
    return Actor(
        platform=PLATFORM,
        id=_str(sender.get("aadObjectId")),
        name=_str(sender.get("name")),
        tenant=tenant_of(activity),
    )


def clean_text(activity: Mapping[str, Any]) -> str:
    """Strip the bot's own @mention (and only that), then HTML leftovers Teams adds."""
    text = _str(activity.get("text"))
    bot = _map(activity.get("recipient"))
    bot_id = _str(bot.get("id"))
    entities = activity.get("entities")
    if not isinstance(entities, list):
        entities = []
    for entity in entities:
        if not isinstance(entity, Mapping) or entity.get("type") != "mention":
            continue
        mentioned = _map(entity.get("mentioned"))
        if bot_id and _str(mentioned.get("id")) == bot_id and _str(entity.get("text")):
            text = text.replace(_str(entity["text"]), " ")
    if not entities and bot_id:
        # Without entities we cannot tell whose mention it is; a leading <at> is the bot's.
        text = re.sub(r"^\s*<at[^>]*>.*?</at>", " ", text, flags=re.IGNORECASE | re.DOTALL)
    # Other people's mentions keep their names; drop only the markup.
    text = _AT.sub(lambda m: _TAG.sub("", m.group(0)), text)
    text = html.unescape(_TAG.sub(" ", text))
    lines = [_SPACE.sub(" ", line).strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line)[:MAX_TEXT]


def parse_message(activity: Mapping[str, Any]) -> InboundMessage | None:
    """A user's message → InboundMessage, or None when there is nothing to run (card
    submissions without text, edits, the bot's own echoes)."""
    if activity.get("type") != "message":
        return None
    text = clean_text(activity)
    if not text:
        return None
    conversation = conversation_of(activity)
    event_id = _str(activity.get("id"))
    return InboundMessage(
        conversation=conversation,
        text=text,
        actor=actor_of(activity),
        event_id=f"teams:{conversation.data['conversation_id']}:{event_id}" if event_id else "",
    )


def is_card_action(activity: Mapping[str, Any]) -> bool:
    return activity.get("type") == "invoke" and activity.get("name") == CARD_ACTION


def place_of_click(activity: Mapping[str, Any]) -> Place:
    """Where a click came from: the tenant, the conversation and the activity the invoke
    replies to (the card's activity id). An empty part matches no posted copy."""
    conv = activity.get("conversation")
    conversation_id = _str(conv.get("id")) if isinstance(conv, Mapping) else ""
    return Place(PLATFORM, tenant_of(activity), conversation_id, _str(activity.get("replyToId")))


def parse_click(activity: Mapping[str, Any]) -> DecisionClick:
    """`adaptiveCard/action` invoke → DecisionClick. The reason comes from the card's
    optional Input.Text (id `reason`), which Teams merges into `action.data`; the place is
    what lets the bot refuse an approval id carried to another conversation or tenant."""
    value = _obj(activity.get("value"), "value")
    action = _obj(value.get("action"), "value.action")
    if action.get("type") != "Action.Execute":
        raise ParseError("only Action.Execute is supported")
    verb = _str(action.get("verb"))
    try:
        decision = Decision(verb)
    except ValueError:
        raise ParseError(f"unknown verb {verb[:40]!r}") from None
    data = _obj(action.get("data"), "value.action.data")
    approval_id = _str(data.get("approval_id"))
    if not approval_id:
        raise ParseError("data.approval_id is required")
    reason = _str(data.get("reason")).strip()[:MAX_REASON]
    if decision is Decision.RESPOND:
        # The answer (its own input; the bot refuses empty and over-long ones) is the tool's
        # result, so it is passed on whole, never cut here.
        reason = _str(data.get("reply"))[:MAX_TEXT]
    # An edit's inputs are named after the arguments; Teams merges them into the data.
    args = {k: v for k, v in data.items() if k not in ("approval_id", "reason") and isinstance(v, str)}
    return DecisionClick(
        approval_id=approval_id,
        decision=decision,
        actor=actor_of(activity),
        reason=reason,
        conversation=conversation_of(activity),
        place=place_of_click(activity),
        args=args if decision is Decision.EDIT else None,
        revision=_revision(data.get("revision")),
    )


def _revision(value: Any) -> int | None:
    """The card revision a Reply was written on, as its action's data carries it."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def refresh_of(activity: Mapping[str, Any]) -> str | None:
    """The approval id of a card refresh (`Action.Execute` verb `refresh`), else None."""
    action = _map(_map(activity.get("value")).get("action"))
    if action.get("type") != "Action.Execute" or action.get("verb") != "refresh":
        return None
    approval_id = _str(_map(action.get("data")).get("approval_id"))
    return approval_id[:200] or None


def from_list(activity: Mapping[str, Any]) -> bool:
    """A click on the "my pending approvals" list rather than on a card."""
    action = _map(_map(activity.get("value")).get("action"))
    return _map(action.get("data")).get("from") == "list"
