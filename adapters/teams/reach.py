"""Teams' side of reaching approvers outside the requesting conversation: proactive 1:1
chats (Bot Framework create-conversation at the stored service URL), mentions, and the
"my pending approvals" list card. A mixin of TeamsAdapter, which provides the connector."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Mapping, TypeVar

from microsoft_agents.activity import Activity, Attachment, ConversationParameters, Entity
from microsoft_agents.hosting.core.connector import ConnectorClientBase

from adapters.base import Actor, ApprovalCard, Conversation, MessageRef, Place
from adapters.teams import parse, render

T = TypeVar("T")


class TeamsReaching:
    platform = "teams"

    async def _call(self, conv: Conversation,
                    op: Callable[[ConnectorClientBase, Mapping[str, Any]], Awaitable[T]]) -> T:
        raise NotImplementedError  # TeamsAdapter's connector

    @staticmethod
    def _activity(data: Mapping[str, Any], **fields: Any) -> Activity:
        raise NotImplementedError  # TeamsAdapter's activity shape

    async def open_dm(self, like: Conversation, user_id: str) -> Conversation:
        """A proactive 1:1 chat with the user (their AAD object id), created through the
        connector at the stored service URL, in the conversation's tenant."""
        if like.platform != self.platform or not like.data.get("service_url"):
            raise ValueError("a Teams DM needs a Teams conversation's service URL")

        async def op(client: ConnectorClientBase, data: Mapping[str, Any]) -> Conversation:
            tenant = str(data.get("tenant_id") or "")
            # The wire shape of create-conversation: the bot, the one member (AAD object id), the tenant.
            bot = {k: v for k, v in (("id", data.get("bot_id")), ("name", data.get("bot_name"))) if v}
            params = ConversationParameters.model_validate({
                "isGroup": False, "bot": bot or None, "members": [{"id": user_id}],
                "tenantId": tenant or None, "channelData": {"tenant": {"id": tenant}}})
            made = await client.conversations.create_conversation(params)
            if not made.id:
                raise RuntimeError("create conversation returned no id")
            fields = {**data, "conversation_id": made.id, "conversation_type": "personal"}
            fields.pop("team_id", None)
            return Conversation(self.platform, parse.thread_id(tenant, made.id), fields)

        return await self._call(like, op)

    async def open_channel(self, like: Conversation, channel_id: str) -> Conversation:
        raise NotImplementedError("copies to a Teams channel are not supported")

    async def start_thread(self, like: Conversation, where: str, text: str) -> tuple[Conversation, MessageRef]:
        """In a channel, the root post starts a thread of its own (`;messageid=`); a chat has
        no threads, so the conversation itself is the thread. `like` is a conversation the bot
        saw in that tenant (its service URL is where the connector answers)."""
        if like.platform != self.platform or not like.data.get("service_url"):
            raise ValueError("a Teams post needs a Teams conversation's service URL")
        base = where.split(";messageid=")[0]
        target = {**like.data, "conversation_id": base}

        async def op(client: ConnectorClientBase, data: Mapping[str, Any]) -> tuple[Conversation, MessageRef]:
            sent = await client.conversations.send_to_conversation(
                base, self._activity(data, text=text, text_format="markdown"))
            channel = data.get("conversation_type") == "channel" or like.data.get("team_id")
            conv_id = f"{base};messageid={sent.id}" if channel and sent.id else base
            tenant = str(data.get("tenant_id") or "")
            thread = Conversation(self.platform, parse.thread_id(tenant, conv_id), {**data, "conversation_id": conv_id})
            return thread, MessageRef(self.platform, {"activity_id": sent.id or "", "conversation_id": base})

        return await self._call(Conversation(self.platform, like.thread_id, target), op)

    async def link(self, conversation: Conversation, ref: MessageRef) -> str:
        return ""  # the connector has no permalink for a posted activity

    async def group_members(self, like: Conversation, group_id: str) -> list[str]:
        return []  # Teams approvers are people (teams:<aad id>)

    async def post_mention(self, conversation: Conversation, user_ids: list[str], text: str) -> MessageRef:
        """A text that mentions these people by their AAD object id, so Teams notifies them."""
        tags = [f"<at>approver {i + 1}</at>" for i in range(len(user_ids[:20]))]
        entities = [Entity(type="mention", text=tag, mentioned={"id": u, "name": tag[4:-5]})  # type: ignore[call-arg]
                    for tag, u in zip(tags, user_ids, strict=False)]

        async def op(client: ConnectorClientBase, data: Mapping[str, Any]) -> MessageRef:
            activity = self._activity(data, text=f"{' '.join(tags)} {text}".strip(), text_format="markdown",
                                      entities=entities)
            sent = await client.conversations.send_to_conversation(data["conversation_id"], activity)
            return MessageRef(self.platform, {"activity_id": sent.id or "", "conversation_id": data["conversation_id"]})

        return await self._call(conversation, op)

    async def post_pending(self, conversation: Conversation, actor: Actor,
                           cards: list[ApprovalCard]) -> MessageRef:
        """The list card in the personal chat; clicks on it reply to this activity."""
        async def op(client: ConnectorClientBase, data: Mapping[str, Any]) -> MessageRef:
            content = render.render_pending(cards)
            activity = self._activity(data, attachments=[Attachment(content_type=render.CARD_CONTENT_TYPE,
                                                                    content=content)],
                                      summary=content["fallbackText"])
            sent = await client.conversations.send_to_conversation(data["conversation_id"], activity)
            activity_id = sent.id or ""
            place = Place(self.platform, str(data.get("tenant_id") or ""), data["conversation_id"], activity_id)
            return MessageRef(self.platform, {"activity_id": activity_id, "conversation_id": data["conversation_id"],
                                              "list": True}, place=place)

        return await self._call(conversation, op)

