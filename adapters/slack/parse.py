"""Slack payloads → neutral events. Pure: no I/O, no Bolt, tested without a network.

Anything malformed or not meant for us returns None; the caller has already acked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

from adapters.base import Actor, Conversation, Decision, InboundMessage, Place

APPROVE_ACTION = "clearance_approve"
REJECT_ACTION = "clearance_reject"
REJECT_VIEW = "clearance_reject_reason"
EDIT_ACTION = "clearance_edit"
EDIT_VIEW = "clearance_edit_args"
RESPOND_ACTION = "clearance_respond"  # Reply: answer in the tool's place
RESPOND_VIEW = "clearance_respond_text"
REASON_BLOCK = "reason"
REASON_INPUT = "reason"
PLATFORM = "slack"

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_ID = re.compile(r"^[A-Z0-9][A-Za-z0-9._-]{0,63}$")
_TS = re.compile(r"^[0-9]{1,12}\.[0-9]{1,9}$")
HOME = "home:"  # a Place's channel for a user's App Home view: "home:<user id>"


@dataclass(frozen=True)
class SlackMessage:
    """An inbound message plus what the bot needs to decide whether it is for us."""

    inbound: InboundMessage
    channel_type: str  # im | channel | group | mpim | "" (app_mention carries none)
    is_mention: bool  # app_mention event, or a message that mentions the bot
    is_reply: bool  # posted inside a thread (thread_ts != ts)


@dataclass(frozen=True)
class SlackClick:
    approval_id: str
    decision: Decision
    actor: Actor
    conversation: Conversation  # where to answer the clicker (its channel and thread)
    place: Place  # the message the button was on: the bot counts the click only if it posted it there
    trigger_id: str = ""
    reason: str = ""


def home_place(team: str, user: str, view_id: str) -> Place:
    """The App Home view the bot published for `user`: the place clicks on it count from."""
    return Place(PLATFORM, team, HOME + user, view_id)


def direct(team: str, user: str) -> Conversation:
    """Where to answer someone who clicked in a view (no channel): their DM with the app."""
    return Conversation(PLATFORM, "", {"team": team, "channel": user, "thread_ts": ""})


def parse_home_opened(body: Mapping[str, Any]) -> Actor | None:
    """`app_home_opened` on the Home tab → the user who opened it (tenant: the workspace)."""
    if not isinstance(body, Mapping) or body.get("type") != "event_callback":
        return None
    event = as_mapping(body.get("event"))
    if event.get("type") != "app_home_opened" or event.get("tab", "home") != "home":
        return None
    user, team = _str(event.get("user")), _str(body.get("team_id"))
    if not (_ok_id(user) and _ok_id(team)):
        return None
    return Actor(PLATFORM, user, "", team)


def thread_id(team: str, channel: str, thread_ts: str) -> str:
    return f"{PLATFORM}:{team}:{channel}:{thread_ts}"


def conversation(team: str, channel: str, thread_ts: str) -> Conversation:
    return Conversation(PLATFORM, thread_id(team, channel, thread_ts),
                        {"team": team, "channel": channel, "thread_ts": thread_ts})


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_mapping(value: Any) -> Mapping[str, Any]:
    """A payload field that should be an object, or {} when a hostile payload sent anything else."""
    return value if isinstance(value, Mapping) else {}


def _ok_id(value: str) -> bool:
    return bool(_ID.match(value))


def strip_mentions(text: str, bot_user_id: str | None) -> str:
    """Remove the bot's own mention (anywhere) so the agent sees only the request."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    else:  # bot id unknown: drop only a leading mention, which is how people address bots
        text = re.sub(r"^\s*<@[UW][A-Z0-9]+(?:\|[^>]*)?>", " ", text)
    return " ".join(text.split())


def parse_event(body: Mapping[str, Any], bot_user_id: str | None = None) -> SlackMessage | None:
    """An Events API envelope (`event_callback`) with an `app_mention` or `message` event."""
    if not isinstance(body, Mapping) or body.get("type") != "event_callback":
        return None
    event = body.get("event")
    if not isinstance(event, Mapping) or event.get("type") not in ("app_mention", "message"):
        return None
    # Edits, joins, deletions, bot messages and our own posts all carry a subtype or bot_id.
    if event.get("subtype") or event.get("bot_id") or event.get("bot_profile"):
        return None
    user, channel, ts = _str(event.get("user")), _str(event.get("channel")), _str(event.get("ts"))
    team = _str(body.get("team_id")) or _str(event.get("team"))
    if not (_ok_id(user) and _ok_id(channel) and _ok_id(team) and _TS.match(ts)):
        return None
    if bot_user_id and user == bot_user_id:
        return None
    thread_ts = _str(event.get("thread_ts")) or ts
    if not _TS.match(thread_ts):
        return None
    raw = _str(event.get("text"))
    mentioned = event.get("type") == "app_mention" or bool(
        bot_user_id and any(m == bot_user_id for m in _MENTION.findall(raw)))
    conv = conversation(team, channel, thread_ts)
    # The dedup key is the message itself, not the envelope: Slack retries carry the same
    # event_id, and a mention in a run's thread arrives twice (app_mention and message)
    # with different event_ids but the same channel and ts.
    key = f"{PLATFORM}:{team}:{channel}:{ts}"
    # The author's own workspace (it differs from the envelope's in a shared channel).
    home = next((t for t in (_str(event.get("user_team")), _str(event.get("team"))) if _ok_id(t)), team)
    inbound = InboundMessage(conv, strip_mentions(raw, bot_user_id)[:8000],
                             Actor(PLATFORM, user, "", home), event_id=key)
    return SlackMessage(inbound, _str(event.get("channel_type")), mentioned, thread_ts != ts)


def _actor(user: Any, team: str) -> Actor | None:
    """The clicker, with their own workspace as tenant: in a channel shared between
    workspaces (Slack Connect) it differs from the workspace the payload comes through."""
    if not isinstance(user, Mapping) or not _ok_id(_str(user.get("id"))):
        return None
    name = _str(user.get("name")) or _str(user.get("username"))
    home = _str(user.get("team_id"))
    return Actor(PLATFORM, _str(user.get("id")), name[:80], home if _ok_id(home) else team)


def _team(body: Mapping[str, Any]) -> str:
    team = body.get("team")
    if isinstance(team, Mapping):
        return _str(team.get("id"))
    user = body.get("user")
    return _str(body.get("team_id")) or (_str(user.get("team_id")) if isinstance(user, Mapping) else "")


_BUTTONS = {APPROVE_ACTION: Decision.APPROVE, REJECT_ACTION: Decision.REJECT, EDIT_ACTION: Decision.EDIT,
            RESPOND_ACTION: Decision.RESPOND}


def parse_action(body: Mapping[str, Any]) -> SlackClick | None:
    """A `block_actions` payload from one of our card buttons."""
    if not isinstance(body, Mapping) or body.get("type") != "block_actions":
        return None
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        return None
    action = actions[0]
    decision = _BUTTONS.get(_str(action.get("action_id")))
    approval_id = _str(action.get("value"))
    team = _team(body)
    actor = _actor(body.get("user"), team)
    channel, container, message = (as_mapping(body.get(k)) for k in ("channel", "container", "message"))
    if container.get("type") == "view":
        return _view_click(body, decision, approval_id, actor, team, container)
    channel_id = _str(channel.get("id")) or _str(container.get("channel_id"))
    thread_ts = (_str(container.get("thread_ts")) or _str(message.get("thread_ts"))
                 or _str(container.get("message_ts")) or _str(message.get("ts")))
    if decision is None or not approval_id or actor is None or not _ok_id(team):
        return None
    if not _ok_id(channel_id) or not _TS.match(thread_ts):
        return None
    # The place is the message itself, as the container names it: a click counts only on a
    # copy the bot posted, so without a message container there is nothing to count.
    place_channel, place_ts = _str(container.get("channel_id")), _str(container.get("message_ts"))
    if container.get("type") != "message" or not _ok_id(place_channel) or not _TS.match(place_ts):
        return None
    return SlackClick(approval_id[:200], decision, actor, conversation(team, channel_id, thread_ts),
                      Place(PLATFORM, team, place_channel, place_ts),
                      trigger_id=_str(body.get("trigger_id"))[:200])


def _view_click(body: Mapping[str, Any], decision: Decision | None, approval_id: str, actor: Actor | None,
                team: str, container: Mapping[str, Any]) -> SlackClick | None:
    """A click on the App Home tab: no channel and no message; its place is the view, as the
    clicker's own home (a view id carried to someone else's home counts nowhere)."""
    view = as_mapping(body.get("view"))
    view_id = _str(container.get("view_id")) or _str(view.get("id"))
    if decision is None or not approval_id or actor is None or not _ok_id(team) or not _ok_id(view_id):
        return None
    if view.get("type", "home") != "home":
        return None
    return SlackClick(approval_id[:200], decision, actor, direct(team, actor.id),
                      home_place(team, actor.id, view_id), trigger_id=_str(body.get("trigger_id"))[:200])


def reject_metadata(click: SlackClick) -> str:
    """What the reject modal carries back to us in `private_metadata` (max 3000 chars): the
    approval, where to answer, and the place of the click that opened the modal, which is
    where its submission counts (Slack sends a view_submission only for a view this app
    opened, so the metadata is ours)."""
    data = click.conversation.data
    place = click.place
    return json.dumps({"a": click.approval_id, "team": data["team"], "c": data["channel"],
                       "t": data["thread_ts"], "p": [place.workspace, place.channel, place.message]},
                      separators=(",", ":"))


@dataclass(frozen=True)
class ModalOrigin:
    """Who submitted one of our modals, and the click it was opened from: its place comes back
    in `private_metadata`, which only our app can set on a view it opened."""

    meta: Mapping[str, Any]
    state: Mapping[str, Any]  # the view's input values, by block id
    approval_id: str
    actor: Actor
    conversation: Conversation
    place: Place


def modal_origin(body: Mapping[str, Any], callback_id: str) -> ModalOrigin | None:
    """A `view_submission` of the modal `callback_id`, or None when it is not one or does not
    say, well-formed, where it was opened."""
    if not isinstance(body, Mapping) or body.get("type") != "view_submission":
        return None
    view = body.get("view")
    if not isinstance(view, Mapping) or view.get("callback_id") != callback_id:
        return None
    try:
        meta = json.loads(_str(view.get("private_metadata")) or "{}")
    except ValueError:
        return None
    if not isinstance(meta, dict):
        return None
    approval_id, team = _str(meta.get("a")), _str(meta.get("team"))
    channel, thread_ts = _str(meta.get("c")), _str(meta.get("t"))
    actor = _actor(body.get("user"), team)
    where = meta.get("p")
    if not (isinstance(where, list) and len(where) == 3 and all(isinstance(w, str) for w in where)):
        return None
    home = where[1].startswith(HOME)
    if not approval_id or actor is None or not (_ok_id(team) and _ok_id(channel) and (home or _TS.match(thread_ts))):
        return None
    if home:
        # Opened from a home view: it counts there only for the person whose home it is.
        if not (_ok_id(where[0]) and where[1] == HOME + actor.id and _ok_id(where[2])):
            return None
    elif not (_ok_id(where[0]) and _ok_id(where[1]) and _TS.match(where[2])):
        return None
    return ModalOrigin(meta, as_mapping(as_mapping(view.get("state")).get("values")), approval_id[:200], actor,
                       conversation(team, channel, thread_ts), Place(PLATFORM, *where))


def parse_view_submission(body: Mapping[str, Any]) -> SlackClick | None:
    """The reject modal's `view_submission`: the approval comes back in private_metadata,
    the optional reason in the input block's state."""
    origin = modal_origin(body, REJECT_VIEW)
    if origin is None:
        return None
    field = as_mapping(as_mapping(origin.state.get(REASON_BLOCK)).get(REASON_INPUT))
    reason = _str(field.get("value")).strip()[:500]
    return SlackClick(origin.approval_id, Decision.REJECT, origin.actor, origin.conversation, origin.place,
                      reason=reason)
