"""Inbound Slack: the Bolt `AsyncApp`, its listeners, the aiohttp handler for
`POST /slack/events`, and Socket Mode.

Over HTTP the request signature (v0 HMAC of the raw body, timestamp within five minutes)
is checked with slack_sdk's `SignatureVerifier` on the raw bytes before anything is parsed:
an unsigned body, however large, deep or malformed, gets a 401 without being looked at; a
signed one that cannot be parsed gets a 400; nothing gets a 500. That check is the only way
into Bolt over HTTP, so Bolt's own (the same HMAC again, on text it is no longer given) is
off; Socket Mode needs none. A form's `payload` (clicks, modal submissions) is decoded here
(form.py) and Bolt is handed that JSON. Listeners ack first and do the work in background
tasks, so Slack gets its answer in milliseconds whatever the agent or the tool is doing.
`process_before_response=True` makes Bolt answer as soon as the listener returns (the
default polls for the ack every 10 ms).

A click on one of our buttons over HTTP is acked here without Bolt's dispatch. Clicks are
the requests that come in bursts (a card posted to many approvers, many cards at once), and
they are answered one after another, so the last click waits for all the others. Bolt's
dispatch was half of a click's cost: a Web API client built per request, five global
middlewares (none of which does anything for a click: no event to ignore, no challenge, one
workspace whose token the client already holds), listener matching and keyword injection,
for an empty 200. The work behind a click is the same either way (`_click`, which Socket
Mode's listener calls too); every other request goes through Bolt.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from typing import Any, Callable, Coroutine, Sequence

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from adapters.background import Background
from adapters.base import Conversation, Decision, DecisionClick, InboundHandlers, Outcome
from adapters.slack.edit import edit_metadata, edit_modal, parse_edit_submission, view_errors
from adapters.slack.form import form_payload
from adapters.slack.parse import (
    APPROVE_ACTION,
    EDIT_ACTION,
    EDIT_VIEW,
    REJECT_ACTION,
    REJECT_VIEW,
    RESPOND_ACTION,
    RESPOND_VIEW,
    SlackClick,
    parse_action,
    parse_event,
    parse_home_opened,
    parse_view_submission,
    reject_metadata,
)
from adapters.slack.reply_listener import ReplyListener
from adapters.slack.transport import SlackAdapter

log = logging.getLogger("clearance.slack")
MAX_BODY = 1024 * 1024
JSON = "application/json"
BUTTONS = (APPROVE_ACTION, REJECT_ACTION, EDIT_ACTION, RESPOND_ACTION)
ACK_PRIORITY = 0.5
QUIET = 0.002
NAME_WAIT = 0.5  # seconds a modal submission waits for the editor's name (users.info)
EDIT_WAIT = 2.0  # Slack closes the modal with an error if not answered within 3 s


class _DropLine(logging.Filter):
    def __init__(self, words: str) -> None:
        super().__init__()
        self.words = words

    def filter(self, record: logging.LogRecord) -> bool:
        return self.words not in record.getMessage()


class SlackInbound:
    """Bolt listeners → the bot's handlers. Its background tasks are public through
    `background` (and `drain`), so shutdown and tests can wait for them."""

    def __init__(self, adapter: SlackAdapter, handlers: InboundHandlers, *, signing_secret: str | None) -> None:
        self.adapter = adapter
        self.handlers = handlers
        self.background = Background("slack")
        self.socket_handler: Any = None
        # Without a signing secret (Socket Mode only) HTTP is not mounted and every HTTP
        # request is refused.
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self._inflight = 0
        self._last_request = 0.0
        self._acks_done = asyncio.Event()  # clear while background work holds back for acks
        self._acks_done.set()
        self._hold_until = 0.0
        # Only the client is given, but Bolt also reads SLACK_BOT_TOKEN from the environment
        # and then warns on every start that the token is unused: the client's token is that
        # token. The signing secret is ours alone (see handle_http).
        quiet = _DropLine("will be unused")
        log.addFilter(quiet)
        try:
            self.app = AsyncApp(client=adapter.client, signing_secret="", request_verification_enabled=False,
                                process_before_response=True, logger=log)
        finally:
            log.removeFilter(quiet)
        # Bolt tries listeners in this order, each match costing a little: clicks first,
        # since their ack is the one people wait for (over HTTP they do not reach Bolt).
        self.app.action(re.compile(f"^(?:{'|'.join(BUTTONS)})$"))(self._on_action)
        self.app.view(REJECT_VIEW)(self._on_view)
        self.app.view(EDIT_VIEW)(self._on_edit_view)
        self.replies = ReplyListener(adapter, handlers, NAME_WAIT, EDIT_WAIT)
        self.app.view(RESPOND_VIEW)(self.replies.submitted)
        self.app.event("app_home_opened")(self._on_home)
        self.app.event("app_mention")(self._on_event)
        self.app.event("message")(self._on_event)

    # -- background work ---------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.background.spawn(self._after_acks(coro))

    async def _after_acks(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Acks first: during a burst of clicks, the decisions (and the resumes they start)
        wait until no request has come in for QUIET seconds, or ACK_PRIORITY seconds at most,
        so a busy moment delays the work a little but cannot starve it. They all wait on one
        gate with one timer: a click in a burst costs the same however many wait before it."""
        if self._acks_done.is_set():
            loop = asyncio.get_running_loop()
            self._acks_done.clear()
            self._hold_until = loop.time() + ACK_PRIORITY
            loop.call_at(min(self._last_request + QUIET, self._hold_until), self._open_when_quiet)
        await self._acks_done.wait()
        return await coro

    def _open_when_quiet(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        quiet_at = now + QUIET if self._inflight else self._last_request + QUIET
        if now >= self._hold_until or (not self._inflight and now >= quiet_at):
            self._acks_done.set()
        else:
            loop.call_at(min(quiet_at, self._hold_until), self._open_when_quiet)

    async def drain(self) -> None:
        await self.background.drain()

    # -- listeners: ack (or return) at once, work later ----------------------------------------

    async def _on_event(self, body: dict[str, Any], context: Any) -> None:
        # Events are acked by Bolt when this returns; nothing here may wait on the network.
        self.spawn(self._message(body, getattr(context, "bot_user_id", None)))

    async def _on_home(self, body: dict[str, Any]) -> None:
        self.spawn(self._home(body))

    async def _home(self, body: dict[str, Any]) -> None:
        actor = parse_home_opened(body)
        if actor is None or self.handlers.on_pending is None:
            return
        conv = Conversation("slack", "", {"team": actor.tenant, "channel": actor.id, "thread_ts": ""})
        await self.handlers.on_pending(conv, await self.adapter.named(actor))

    async def _message(self, body: dict[str, Any], bot_user_id: str | None) -> None:
        parsed = parse_event(body, bot_user_id)
        if parsed is None:
            return
        if body.get("event", {}).get("type") == "message" and parsed.channel_type != "im":
            # In channels a mention arrives as app_mention; other messages count only as
            # replies in a thread that already has a run.
            if parsed.is_mention or not parsed.is_reply:
                return
            if not await self.handlers.has_thread(parsed.inbound.conversation.thread_id):
                return
        actor = await self.adapter.named(parsed.inbound.actor)
        await self.handlers.on_message(dataclasses.replace(parsed.inbound, actor=actor))

    async def _on_action(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        self._click(body)

    def _click(self, body: dict[str, Any]) -> None:
        self.spawn(self._interaction(parse_action, body))

    async def _on_view(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()  # an empty ack closes the modal
        self.spawn(self._interaction(parse_view_submission, body))

    async def _interaction(self, parse: Callable[[dict[str, Any]], SlackClick | None],
                           body: dict[str, Any]) -> None:
        click = parse(body)
        if click is None:
            log.info("ignored a malformed %s payload", body.get("type"))
            return
        if click.decision is Decision.EDIT:
            await self._open_edit(click)
            return
        if click.decision is Decision.RESPOND:
            await self.replies.open(click)
            return
        if click.decision is Decision.REJECT and click.trigger_id:
            # A button click (only those carry trigger_id here): ask for a reason first.
            await self.adapter.open_reject_modal(click.trigger_id, reject_metadata(click))
            return
        await self._decide(click)

    async def _decide(self, click: SlackClick) -> None:
        actor = await self.adapter.named(click.actor)
        try:
            result = await self.handlers.on_decision(DecisionClick(
                click.approval_id, click.decision, actor, click.reason, click.conversation, click.place))
        except Exception:  # e.g. the database is down: the clicker must not wait in silence
            log.exception("decision on %s failed", click.approval_id)
            await self.adapter.tell(click.conversation, actor,
                                    "Sorry, your decision could not be recorded just now; please try again.")
            return
        # Accepted: the bot updates the card for everyone. Refused: only the clicker hears
        # why, in the bot's own words (e.g. that the approval belongs to another conversation).
        if result.outcome is not Outcome.ACCEPTED:
            await self.adapter.tell(click.conversation, actor, result.message)

    # -- edits -----------------------------------------------------------------------------------

    async def _open_edit(self, click: SlackClick) -> None:
        """The Edit button: the modal opens only for someone who may edit this card, from a
        place the bot posted it to; anyone else hears why, privately."""
        actor = await self.adapter.named(click.actor)
        result = None
        if self.handlers.edit_form is not None:
            result = await self.handlers.edit_form(DecisionClick(
                click.approval_id, Decision.EDIT, actor, conversation=click.conversation, place=click.place))
        if result is None or result.outcome is not Outcome.ACCEPTED or result.card is None:
            await self.adapter.post_ephemeral(click.conversation, actor,
                                              result.message if result else "Editing is not available here.")
            return
        await self.adapter.client.views_open(trigger_id=click.trigger_id,
                                             view=edit_modal(result.card, edit_metadata(click, result.card.revision)))

    async def _on_edit_view(self, ack: Any, body: dict[str, Any]) -> None:
        """The edit modal's submission is decided before the ack, because a refused edit is
        answered in the modal itself (`response_action: errors`); the check and the
        compare-and-set take milliseconds, and the card updates follow in the background."""
        edit = parse_edit_submission(body)
        if edit is None:
            await ack()
            return
        click = edit.click
        try:
            actor = await asyncio.wait_for(self.adapter.named(click.actor), NAME_WAIT)
        except asyncio.TimeoutError:
            actor = click.actor
        try:
            result = await asyncio.wait_for(self.handlers.on_decision(DecisionClick(
                click.approval_id, Decision.EDIT, actor, conversation=click.conversation, place=click.place,
                args=edit.args, revision=edit.revision)), EDIT_WAIT)
        except Exception:
            log.exception("edit of %s failed", click.approval_id)
            await ack()
            await self.adapter.post_ephemeral(click.conversation, actor,
                                              "Sorry, your edit could not be saved just now; please try again.")
            return
        errors = {} if result.outcome is Outcome.ACCEPTED else view_errors(result.card, result.errors, result.message)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        if result.outcome is not Outcome.ACCEPTED:
            await self.adapter.post_ephemeral(click.conversation, actor, result.message)

    # -- HTTP --------------------------------------------------------------------------------

    async def handle_http(self, request: web.Request) -> web.Response:
        """`POST /slack/events`: events and interactivity, signed by Slack."""
        self._inflight += 1
        self._last_request = asyncio.get_running_loop().time()
        try:
            return await self._handle_http(request)
        finally:
            self._inflight -= 1

    async def _handle_http(self, request: web.Request) -> web.Response:
        raw = await self._authentic_body(request)
        if isinstance(raw, web.Response):
            return raw
        try:
            bolt_request = _bolt_request(request, raw)
            body = bolt_request.body
            # Every Slack payload is an object with a `type`, except the form-encoded ssl_check.
            if not isinstance(body, dict) or not (isinstance(body.get("type"), str) or body.get("ssl_check")):
                log.warning("Slack request rejected: not a Slack payload")
                return web.json_response({"error": "bad request"}, status=400)
            if _is_click(body):
                self._click(body)
                return web.Response(text="")  # Bolt's ack: 200, empty
            response = await self.app.async_dispatch(bolt_request)
        except Exception as exc:  # signed but unparsable (absurd nesting included): not a 500
            log.warning("Slack request rejected: %s", type(exc).__name__)
            return web.json_response({"error": "bad request"}, status=400)
        if response.status >= 500:
            # Our listeners never raise before acking, so a 5xx here means Bolt could not
            # make sense of the body: the client's fault, and Slack must not retry it.
            log.warning("Slack request could not be handled (Bolt status %s)", response.status)
            return web.json_response({"error": "bad request"}, status=400)
        return await to_aiohttp_response(response)

    async def _authentic_body(self, request: web.Request) -> str | web.Response:
        """The body as text if Slack signed it, else the refusal. Headers are checked before
        the body is read; the body is read whole (up to MAX_BODY) and verified as bytes
        off the wire, before any decoding into a structure."""
        stamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if self.verifier is None or not (stamp.isascii() and stamp.isdigit() and len(stamp) < 12 and signature):
            return _refused("no valid signature headers")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.json_response({"error": "too large"}, status=413)
        raw = bytearray()
        while chunk := await request.content.read(64 * 1024):
            raw += chunk
            if len(raw) > MAX_BODY:  # a body sent in chunks declares no length
                return web.json_response({"error": "too large"}, status=413)
        try:
            # Slack signs UTF-8 text; bytes that do not decode were not signed by Slack.
            text = bytes(raw).decode("utf-8")
            if self.verifier.is_valid(text, stamp, signature):
                return text
        except (UnicodeDecodeError, ValueError):
            pass
        return _refused("invalid signature or stale timestamp")

    # -- Socket Mode -------------------------------------------------------------------------

    async def start_socket_mode(self, app_token: str) -> None:
        from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

        # The adapter's client carries SLACK_API_URL, so apps.connections.open goes there too.
        self.socket_handler = AsyncSocketModeHandler(self.app, app_token, web_client=self.adapter.client,
                                                     logger=log)
        await self.socket_handler.connect_async()

    async def close(self) -> None:
        if self.socket_handler is not None:
            await self.socket_handler.close_async()
            self.socket_handler = None
        await self.drain()


def _bolt_request(request: web.Request, text: str) -> AsyncBoltRequest:
    """Bolt's request for a verified body. A form's `payload` (clicks, modal submissions) is
    decoded here and handed over as the JSON it is; anything else goes as it came."""
    headers: dict[str, str | Sequence[str]] = dict(request.headers)
    # Bolt's own test for a JSON body; any other is a form.
    if request.content_type != JSON and not text.startswith("{"):
        payload = form_payload(text)
        if payload is not None:
            text = payload
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            headers["Content-Type"] = JSON
    return AsyncBoltRequest(body=text, query=request.query_string, headers=headers)


def _is_click(body: dict[str, Any]) -> bool:
    """A click on one of our buttons, as Bolt's action listener above matches it."""
    actions = body.get("actions") if body.get("type") == "block_actions" else None
    return (isinstance(actions, list) and bool(actions) and isinstance(actions[0], dict)
            and actions[0].get("action_id") in BUTTONS)


def _refused(why: str) -> web.Response:
    log.warning("Slack request refused (401): %s", why)
    return web.json_response({"error": "invalid request"}, status=401)
