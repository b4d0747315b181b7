"""Slack Web API side: the outbound ChatAdapter (cards, texts, ephemerals, modals) on one
`AsyncWebClient` that honours SLACK_API_URL and retries 429s after Retry-After."""

from __future__ import annotations

import logging
import time
from typing import Any

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler, async_default_handlers
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import Actor, ApprovalCard, Conversation, MessageRef, Place
from adapters.slack.parse import conversation, home_place
from adapters.slack.render import reject_modal, render_card, render_home, render_mention, render_text

log = logging.getLogger("clearance.slack")
NAME_TTL = 3600.0
NAME_CACHE = 2000


def make_client(token: str, base_url: str, session: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    base = base_url if base_url.endswith("/") else base_url + "/"
    handlers = [*async_default_handlers(), AsyncRateLimitErrorRetryHandler(max_retry_count=3)]
    return AsyncWebClient(token=token, base_url=base, session=session, retry_handlers=handlers,
                          timeout=15, logger=log)


class SlackAdapter:
    """The ChatAdapter for Slack. A MessageRef's data is `{"channel", "ts"}` (a card's ref
    also carries its Place: team, channel, ts); a Conversation's data is
    `{"team", "channel", "thread_ts"}` (see parse.conversation)."""

    platform = "slack"

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._names: dict[str, tuple[float, str]] = {}
        self._team = ""

    @staticmethod
    def _where(conversation: Conversation) -> tuple[str, str | None]:
        data = conversation.data
        return str(data["channel"]), (str(data["thread_ts"]) if data.get("thread_ts") else None)

    async def _post(self, conversation: Conversation, body: dict[str, Any]) -> MessageRef:
        channel, thread_ts = self._where(conversation)
        resp = await self.client.chat_postMessage(channel=channel, thread_ts=thread_ts,
                                                  unfurl_links=False, **body)
        return MessageRef(self.platform, {"channel": resp.get("channel") or channel, "ts": resp["ts"]})

    async def _update(self, ref: MessageRef, body: dict[str, Any]) -> None:
        await self.client.chat_update(channel=ref.data["channel"], ts=ref.data["ts"], **body)

    async def post_card(self, conversation: Conversation, card: ApprovalCard) -> MessageRef:
        ref = await self._post(conversation, render_card(card))
        # Where clicks on this copy will come from: the block_actions container names the
        # same channel and message ts, and the team is the conversation's.
        place = Place(self.platform, str(conversation.data.get("team", "")), ref.data["channel"], ref.data["ts"])
        return MessageRef(self.platform, ref.data, place)

    async def update_card(self, conversation: Conversation, ref: MessageRef, card: ApprovalCard) -> None:
        await self._update(ref, render_card(card))

    # -- reaching approvers (adapters.base.Reaching) ------------------------------------------

    async def team_of(self, like: Conversation) -> str:
        """The workspace: the conversation's, else this token's own (auth.test, once)."""
        team = str(like.data.get("team") or "") if like.platform == self.platform else ""
        if not team and not self._team:
            self._team = str((await self.client.auth_test()).get("team_id") or "")
        return team or self._team

    async def open_dm(self, like: Conversation, user_id: str) -> Conversation:
        team = await self.team_of(like)
        resp = await self.client.conversations_open(users=user_id)
        channel = str((resp.get("channel") or {}).get("id") or "")
        if not channel:
            raise RuntimeError("conversations.open returned no channel")
        return Conversation(self.platform, f"{self.platform}:{team}:{channel}:dm", {"team": team, "channel": channel,
                                                                                   "thread_ts": ""})

    async def open_channel(self, like: Conversation, channel_id: str) -> Conversation:
        team = await self.team_of(like)
        return Conversation(self.platform, f"{self.platform}:{team}:{channel_id}:copies",
                            {"team": team, "channel": channel_id, "thread_ts": ""})

    async def start_thread(self, like: Conversation, where: str, text: str) -> tuple[Conversation, MessageRef]:
        team = await self.team_of(like)
        root = await self._post(Conversation(self.platform, "", {"team": team, "channel": where, "thread_ts": ""}),
                                render_text(text))
        return conversation(team, str(root.data["channel"]), str(root.data["ts"])), root

    async def link(self, conversation: Conversation, ref: MessageRef) -> str:
        resp = await self.client.chat_getPermalink(channel=ref.data["channel"], message_ts=ref.data["ts"])
        return str(resp.get("permalink") or "")

    async def group_members(self, like: Conversation, group_id: str) -> list[str]:
        resp = await self.client.usergroups_users_list(usergroup=group_id)
        return [u for u in resp.get("users") or [] if isinstance(u, str)]

    async def post_mention(self, conversation: Conversation, user_ids: list[str], text: str) -> MessageRef:
        return await self._post(conversation, render_mention(user_ids, text))

    async def post_pending(self, conversation: Conversation, actor: Actor,
                           cards: list[ApprovalCard]) -> MessageRef:
        """Publish the user's App Home tab. Its place is the view, in that user's home."""
        resp = await self.client.views_publish(user_id=actor.id, view=render_home(cards))
        view_id = str((resp.get("view") or {}).get("id") or "")
        team = await self.team_of(conversation)
        return MessageRef(self.platform, {"view_id": view_id, "user": actor.id, "list": True, "republish": True},
                          home_place(team, actor.id, view_id))

    async def tell(self, conversation: Conversation, actor: Actor, text: str) -> None:
        """Answer a clicker: ephemeral in the thread, or a DM when the click came from a view."""
        if not conversation.data.get("thread_ts") and str(conversation.data.get("channel")) == actor.id:
            await self.client.chat_postMessage(channel=actor.id, **render_text(text))
            return
        await self.post_ephemeral(conversation, actor, text)

    async def post_text(self, conversation: Conversation, text: str) -> MessageRef:
        return await self._post(conversation, render_text(text))

    async def update_text(self, conversation: Conversation, ref: MessageRef, text: str) -> None:
        await self._update(ref, render_text(text))

    async def post_ephemeral(self, conversation: Conversation, actor: Actor, text: str) -> None:
        """A message only `actor` sees, in the conversation's channel and thread (why a
        click was refused). Slack only: other platforms answer the clicker their own way."""
        channel, thread_ts = self._where(conversation)
        body = render_text(text)
        await self.client.chat_postEphemeral(channel=channel, user=actor.id, thread_ts=thread_ts,
                                             text=body["text"], blocks=body["blocks"])

    async def open_reject_modal(self, trigger_id: str, metadata: str) -> None:
        await self.client.views_open(trigger_id=trigger_id, view=reject_modal(metadata))

    async def named(self, actor: Actor) -> Actor:
        """The actor with a human name (users.info, cached): cards mention by id, but the
        agent and the 'already approved by …' sentences read better with names."""
        if actor.name and actor.name != actor.id:
            return actor
        name = await self.user_name(actor.id)
        return Actor(actor.platform, actor.id, name, actor.tenant) if name else actor

    async def email_of(self, user_id: str) -> str | None:
        """The profile's email (users.info; needs the users:read.email scope). Not cached: it
        decides whether a fresh login is this user's."""
        resp = await self.client.users_info(user=user_id)
        user: dict[str, Any] = resp.get("user") or {}
        email = (user.get("profile") or {}).get("email")
        return email if isinstance(email, str) and email else None

    async def user_name(self, user_id: str) -> str:
        now = time.monotonic()
        hit = self._names.get(user_id)
        if hit and hit[0] > now:
            return hit[1]
        try:
            resp = await self.client.users_info(user=user_id)
            user: dict[str, Any] = resp.get("user") or {}
            profile = user.get("profile") or {}
            name = str(profile.get("display_name") or profile.get("real_name") or user.get("name") or "")
        except Exception as exc:  # users:read missing or Slack down: the id will do
            log.warning("users.info failed for %s: %s", user_id, type(exc).__name__)
            name = ""
        if len(self._names) >= NAME_CACHE:
            self._names.clear()
        self._names[user_id] = (now + NAME_TTL, name[:80])
        return name[:80]
