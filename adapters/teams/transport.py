"""Teams over the Microsoft 365 Agents SDK: inbound `POST /api/messages` and outbound posts.

Inbound: the SDK's aiohttp hosting (`CloudAdapter` + `jwt_authorization_decorator`)
validates the Bot Framework JWT before anything is parsed; anonymous only when the
operator asked for it. Messages are acknowledged at once (202) and run in a background
task; `adaptiveCard/action` invokes are answered in the same HTTP response, right after
the service's fast claim, with the decided card or a refusal for the clicker.

Every card posted carries its `Place` (tenant, conversation, activity id) and every click
the place it came from (tenant, conversation, the activity it replies to), so the bot can
count a decision only where it posted that card.

Outbound: every post, update and answer goes through the SDK's connector client, created
by `continue_conversation` from the conversation reference stored with the run, so it
works the same during a turn, after it, and after a restart.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from typing import Any, Awaitable, Callable, Mapping, TypeVar

from aiohttp import web
from microsoft_agents.activity import (
    Activity,
    Attachment,
    ChannelAccount,
    ChannelId,
    ConversationAccount,
    ConversationReference,
    InvokeResponse,
)
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_decorator
from microsoft_agents.hosting.core import ActivityHandler, OutboundHostValidator, TurnContext
from microsoft_agents.hosting.core.authorization import AgentAuthConfiguration, ClaimsIdentity
from microsoft_agents.hosting.core.connector import ConnectorClientBase
from pydantic import ValidationError

from adapters.background import Background
from adapters.base import (
    Actor,
    ApprovalCard,
    CardStatus,
    Conversation,
    InboundHandlers,
    MessageRef,
    Outcome,
    Place,
)
from adapters.teams import parse, render
from adapters.teams.reach import TeamsReaching

log = logging.getLogger("clearance.teams")
T = TypeVar("T")
SERVICE_CONNECTION = "SERVICE_CONNECTION"
MULTI_TENANT = "botframework.com"  # the token authority of multi-tenant bot registrations
PENDING_COMMAND = "pending"  # in the personal chat: "my pending approvals"


class TeamsAdapter(TeamsReaching):
    platform = "teams"

    def __init__(
        self,
        handlers: InboundHandlers,
        *,
        app_id: str | None = None,
        app_password: str | None = None,
        tenant_id: str | None = None,
        allow_anonymous: bool = False,
    ) -> None:
        # Teams has no thread replies that bypass the mention rule, so `has_thread` is unused.
        self.handlers = handlers
        self.app_id = app_id or None
        self.tenant_id = tenant_id or None
        self.allow_anonymous = allow_anonymous
        self._authenticates_outbound = bool(app_id and app_password)
        self.auth_config = AgentAuthConfiguration(
            client_id=self.app_id,
            client_secret=app_password or None,
            tenant_id=self.tenant_id or (MULTI_TENANT if self.app_id else None),
            connection_name=SERVICE_CONNECTION,
            anonymous_allowed=allow_anonymous,
            # Single-tenant: accept only Bot Framework, this tenant's and Microsoft's own
            # issuers. Without it the SDK checks the audience only, so an Entra token from any
            # tenant (for an app id registered multi-tenant) would pass. Multi-tenant keeps
            # the SDK default.
            validate_issuer=bool(self.tenant_id),
        )
        # The SDK logs its whole connection table (fourteen lines, every start) at INFO; the
        # bot's own one-line "Teams enabled" says what matters.
        logging.getLogger("microsoft_agents.hosting.core.authorization.connection_manager").setLevel(logging.WARNING)
        connections = MsalConnectionManager(connections_configurations={SERVICE_CONNECTION: self.auth_config})
        # With real tokens, the activity's serviceUrl must be a Microsoft host (the token's
        # serviceurl claim is checked against it too): a forged serviceUrl must not make us
        # send the bot's token elsewhere. Anonymous mode is for local fakes on loopback.
        validator = OutboundHostValidator(enabled=not allow_anonymous)
        self.cloud = CloudAdapter(connection_manager=connections, host_validator=validator)
        self.cloud.on_turn_error = self._on_turn_error
        self.agent = _Agent(self)
        # Message runs outlive the 202 that acknowledged them.
        self.background = Background("teams")

    # -- HTTP --------------------------------------------------------------------------------

    def mount(self, app: web.Application, path: str = "/api/messages") -> None:
        with warnings.catch_warnings():
            # The SDK's JWT middleware reads its configuration from this plain string key.
            warnings.simplefilter("ignore")
            app["agent_configuration"] = self.auth_config
        app.router.add_post(path, self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Authenticate with the SDK, then process. Anything that fails before the token is
        accepted is a 401, never a 500 (a garbage token can make the SDK raise)."""
        accepted = False

        async def authenticated(req: web.Request) -> web.StreamResponse:
            nonlocal accepted
            accepted = True
            return await self._process(req)

        try:
            return await jwt_authorization_decorator(authenticated)(request)
        except Exception as exc:
            if accepted:
                raise
            log.warning("Teams request rejected: token validation failed (%s)", type(exc).__name__)
            return web.json_response({"error": "unauthorized"}, status=401)

    async def _process(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            log.warning("Teams request rejected: body is not JSON")
            return web.json_response({"error": "body must be a JSON activity"}, status=400)
        try:
            parse.check_activity(body)
        except parse.ParseError as exc:
            log.warning("Teams request rejected: %s", exc)
            return web.json_response({"error": str(exc)}, status=400)
        try:
            response = await self.cloud.process(request, self.agent)
        except ValidationError:
            log.warning("Teams request rejected: activity does not match the schema")
            return web.json_response({"error": "activity does not match the Bot Framework schema"}, status=400)
        except web.HTTPException:
            raise
        except Exception as exc:
            # Authenticated and well-formed, yet the SDK could not start the turn: most often
            # it got no outbound token from Entra (unreachable, or a wrong TEAMS_APP_PASSWORD).
            # That is our side: 503 so Teams retries, never a 400 that blames the sender.
            log.error("Teams turn could not start (%s); check TEAMS_APP_PASSWORD and access to "
                      "Microsoft Entra", type(exc).__name__)
            return web.json_response({"error": "temporarily unavailable"}, status=503,
                                     headers={"Retry-After": "5"})
        return response or web.Response(status=202)

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        # The SDK default posts the exception text into the chat; keep internals in the log.
        log.error("Teams turn failed: %s", type(error).__name__, exc_info=error)

    # -- inbound turns -----------------------------------------------------------------------

    def _tenant_refused(self, raw: Mapping[str, Any]) -> bool:
        """Single-tenant deployments serve their own tenant only."""
        return bool(self.tenant_id) and parse.tenant_of(raw).lower() != str(self.tenant_id).lower()

    async def _resolve_actor(self, ctx: TurnContext, raw: Mapping[str, Any], actor: Actor) -> Actor:
        """Teams usually sends `from.aadObjectId`; when it does not, ask the connector
        (GET members/{id}) rather than authorize by the channel-specific id."""
        if actor.id:
            return actor
        sender = raw.get("from")
        member_id = str(sender.get("id") or "") if isinstance(sender, Mapping) else ""
        client = ctx.services.get(ConnectorClientBase)  # type: ignore[type-abstract]  # the SDK keys the client by its ABC
        if not member_id or client is None:
            return actor
        try:
            member = await client.conversations.get_conversation_member(ctx.activity.conversation.id, member_id)
        except Exception as exc:
            log.warning("Teams member lookup failed: %s", type(exc).__name__)
            return actor
        return dataclasses.replace(actor, id=member.aad_object_id or "", name=actor.name or member.name or "")

    async def on_message_turn(self, ctx: TurnContext) -> None:
        raw = ctx.activity.model_dump(mode="json", by_alias=True, exclude_none=True)
        if self._tenant_refused(raw):
            log.warning("Teams message from another tenant ignored")
            return
        msg = parse.parse_message(raw)
        if msg is None:
            return
        actor = await self._resolve_actor(ctx, raw, msg.actor)
        if not actor.id:
            # No directory id: the run still works, but this person can approve nothing.
            sender = raw.get("from") or {}
            actor = dataclasses.replace(actor, id=f"channel:{sender.get('id', 'unknown')}")
        conv = msg.conversation
        if (msg.text.strip().lower() == PENDING_COMMAND and conv.data.get("conversation_type") == "personal"
                and self.handlers.on_pending is not None and not actor.id.startswith("channel:")):
            self.background.spawn(self.handlers.on_pending(conv, actor))
            return
        # The graph may take long (LLM, several cards): Teams gets its 202 now and the
        # results are posted proactively with the stored conversation reference.
        self.background.spawn(self.handlers.on_message(dataclasses.replace(msg, actor=actor)))

    async def on_invoke_turn(self, ctx: TurnContext) -> InvokeResponse:
        """Always an answer: without one the SDK replies 501 and Teams retries the click."""
        try:
            return await self._answer_invoke(ctx)
        except Exception:
            log.exception("Teams invoke failed")
            return _invoke(200, render.message_response("Sorry, that did not work; please try again."))

    async def _answer_invoke(self, ctx: TurnContext) -> InvokeResponse:
        raw = ctx.activity.model_dump(mode="json", by_alias=True, exclude_none=True)
        if not parse.is_card_action(raw):
            return _invoke(400, render.error_response(400, "NotSupported", "unsupported invoke"))
        refresh = parse.refresh_of(raw)
        if refresh is not None:
            return await self._refresh(ctx, raw, refresh)
        try:
            click = parse.parse_click(raw)
        except parse.ParseError as exc:
            log.warning("Teams card action rejected: %s", exc)
            return _invoke(400, render.error_response(400, "BadRequest", str(exc)))
        if self._tenant_refused(raw):
            return _invoke(200, render.message_response("This approval belongs to another organization."))
        actor = await self._resolve_actor(ctx, raw, click.actor)
        if not actor.id:
            return _invoke(200, render.message_response(
                "I could not verify who you are in this organization, so I cannot record a decision."))
        result = await self.handlers.on_decision(dataclasses.replace(click, actor=actor))
        if parse.from_list(raw):
            # A click on "my pending approvals": the list stays, the clicker reads the outcome.
            return _invoke(200, render.message_response(result.message))
        if result.outcome is Outcome.ACCEPTED and result.card is not None:
            # The claim is done: the clicker sees the card now, as it stands for them ("You
            # approved — waiting for 1 more"); everyone else gets it when the bot PUTs the
            # activity (update_card).
            card = result.card
            if card.status is CardStatus.PENDING and self.handlers.current_card is not None:
                card = await self.handlers.current_card(click.approval_id, actor) or card
            return _invoke(200, render.card_response(card, for_approver=True))
        return _invoke(200, render.message_response(result.message))

    async def _refresh(self, ctx: TurnContext, raw: Mapping[str, Any], approval_id: str) -> InvokeResponse:
        """Teams asks for the card as the person looking at it sees it: the buttons they may
        use now. Showing buttons decides nothing: a click still goes through the policy."""
        if self._tenant_refused(raw) or self.handlers.current_card is None:
            return _invoke(200, render.message_response("This approval belongs to another organization."))
        actor = await self._resolve_actor(ctx, raw, parse.actor_of(raw))
        card = await self.handlers.current_card(approval_id, actor if actor.id else None)
        if card is None:
            return _invoke(200, render.message_response("No such approval."))
        return _invoke(200, render.card_response(card, for_approver=True))

    # -- background work ---------------------------------------------------------------------

    async def drain(self) -> None:
        """Wait for message runs started by this adapter (tests and shutdown)."""
        await self.background.drain()

    # -- outbound (ChatAdapter) --------------------------------------------------------------

    async def _call(self, conv: Conversation,
                    op: Callable[[ConnectorClientBase, Mapping[str, Any]], Awaitable[T]]) -> T:
        """Run `op` with a connector client for the stored conversation reference."""
        data = conv.data
        reference = ConversationReference(
            conversation=ConversationAccount(id=data["conversation_id"], tenant_id=data.get("tenant_id") or None),
            agent=ChannelAccount(
                id=data.get("bot_id") or None,  # type: ignore[arg-type]  # the SDK's field defaults to None
                name=data.get("bot_name") or None,  # type: ignore[arg-type]  # the SDK's field defaults to None
            ),
            channel_id=ChannelId(data.get("channel_id") or "msteams"),
            service_url=data["service_url"],
        )
        outcome: dict[str, Any] = {}

        async def callback(ctx: TurnContext) -> None:
            client = ctx.services.get(ConnectorClientBase)  # type: ignore[type-abstract]  # the SDK keys the client by its ABC
            try:
                if client is None:
                    raise RuntimeError("the Teams turn carries no connector client")
                outcome["value"] = await op(client, data)
            except Exception as exc:  # carried out of the SDK pipeline, which would swallow it
                outcome["error"] = exc

        continuation = reference.get_continuation_activity()
        if self._authenticates_outbound:
            await self.cloud.continue_conversation(str(self.app_id), continuation, callback)
        else:
            await self.cloud.continue_conversation_with_claims(ClaimsIdentity(), continuation, callback)
        if "error" in outcome:
            raise outcome["error"]
        if "value" not in outcome:
            raise RuntimeError("the Teams connector call did not run")
        return outcome["value"]

    @staticmethod
    def _activity(data: Mapping[str, Any], **fields: Any) -> Activity:
        return Activity(
            type="message",
            from_property=ChannelAccount(
                id=data.get("bot_id") or None,  # type: ignore[arg-type]  # the SDK's field defaults to None
                name=data.get("bot_name") or None,  # type: ignore[arg-type]  # the SDK's field defaults to None
            ),
            conversation=ConversationAccount(id=data["conversation_id"], tenant_id=data.get("tenant_id") or None),
            channel_id=ChannelId(data.get("channel_id") or "msteams"),
            service_url=data["service_url"],
            **fields,
        )

    @staticmethod
    def _card_fields(card: ApprovalCard) -> dict[str, Any]:
        attachment = render.card_attachment(card)
        return {
            "attachments": [Attachment(content_type=attachment["contentType"], content=attachment["content"])],
            "summary": render.notification_summary(card),
        }

    async def post_card(self, conversation: Conversation, card: ApprovalCard) -> MessageRef:
        async def op(client: ConnectorClientBase, data: Mapping[str, Any]) -> MessageRef:
            sent = await client.conversations.send_to_conversation(
                data["conversation_id"], self._activity(data, **self._card_fields(card)))
            activity_id = sent.id or ""
            # A click on this copy replies to this activity, in this conversation and tenant.
            place = Place(self.platform, str(data.get("tenant_id") or ""), data["conversation_id"], activity_id)
            return MessageRef(self.platform, {"activity_id": activity_id, "conversation_id": data["conversation_id"]},
                              place=place)

        return await self._call(conversation, op)

    async def update_card(self, conversation: Conversation, ref: MessageRef, card: ApprovalCard) -> None:
        activity_id = str(ref.data.get("activity_id") or "")
        if not activity_id:
            raise ValueError("the card's activity id is unknown; cannot update it")

        async def op(client: ConnectorClientBase, data: Mapping[str, Any]) -> None:
            activity = self._activity(data, id=activity_id, **self._card_fields(card))
            await client.conversations.update_activity(data["conversation_id"], activity_id, activity)

        await self._call(conversation, op)

    async def post_text(self, conversation: Conversation, text: str) -> MessageRef:
        async def op(client: ConnectorClientBase, data: Mapping[str, Any]) -> MessageRef:
            sent = await client.conversations.send_to_conversation(
                data["conversation_id"], self._activity(data, text=text, text_format="markdown"))
            return MessageRef(self.platform, {"activity_id": sent.id or "", "conversation_id": data["conversation_id"]})

        return await self._call(conversation, op)

    async def update_text(self, conversation: Conversation, ref: MessageRef, text: str) -> None:
        activity_id = str(ref.data.get("activity_id") or "")
        if not activity_id:
            await self.post_text(conversation, text)
            return

        async def op(client: ConnectorClientBase, data: Mapping[str, Any]) -> None:
            activity = self._activity(data, id=activity_id, text=text, text_format="markdown")
            await client.conversations.update_activity(data["conversation_id"], activity_id, activity)

        await self._call(conversation, op)


def _invoke(status: int, body: dict[str, Any]) -> InvokeResponse:
    return InvokeResponse(status=status, body=body)


class _Agent(ActivityHandler):
    """The SDK's activity router; the work happens in TeamsAdapter."""

    def __init__(self, adapter: TeamsAdapter) -> None:
        self._adapter = adapter

    async def on_message_activity(self, turn_context: TurnContext) -> None:  # type: ignore[override]
        await self._adapter.on_message_turn(turn_context)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:  # type: ignore[override]
        return await self._adapter.on_invoke_turn(turn_context)
