"""Inbound Slack for replies in the tool's place: the Reply button opens the reply modal, and
its submission is decided before the ack.

The modal opens only for someone whose answer would count, from a place the bot posted the
card to (the same checks as the answer itself, its text aside), bound to the revision the
card had then. The submission is decided before Slack gets its ack, as an edit is, so a
refused answer (empty, too long, not the clicker's to give, or written on a revision an edit
has replaced) is shown in the modal, beside the text, which stays there to be fixed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from adapters.base import Decision, DecisionClick, InboundHandlers, Outcome
from adapters.slack.edit import edit_metadata
from adapters.slack.parse import SlackClick
from adapters.slack.reply import parse_reply_submission, reply_errors, reply_modal
from adapters.slack.transport import SlackAdapter

log = logging.getLogger("clearance.slack")


class ReplyListener:
    def __init__(self, adapter: SlackAdapter, handlers: InboundHandlers, name_wait: float, decide_wait: float) -> None:
        self.adapter = adapter
        self.handlers = handlers
        self.name_wait = name_wait  # seconds the submission waits for the author's name (users.info)
        self.decide_wait = decide_wait  # Slack closes the modal with an error if not answered within 3 s

    async def open(self, click: SlackClick) -> None:
        """The Reply button (its trigger is valid for 3 s: one check, then views.open)."""
        actor = await self.adapter.named(click.actor)
        result = None
        try:
            if self.handlers.reply_form is not None:
                result = await self.handlers.reply_form(DecisionClick(
                    click.approval_id, Decision.RESPOND, actor, conversation=click.conversation, place=click.place))
        except Exception:
            log.exception("reply form of %s failed", click.approval_id)
        if result is None or result.outcome is not Outcome.ACCEPTED or result.card is None:
            await self.adapter.tell(click.conversation, actor,
                                    result.message if result else "Sorry, replying is not available just now.")
            return
        await self.adapter.client.views_open(trigger_id=click.trigger_id,
                                             view=reply_modal(result.card, edit_metadata(click, result.card.revision)))

    async def submitted(self, ack: Any, body: dict[str, Any]) -> None:
        """The reply modal's `view_submission` (a Bolt view listener)."""
        reply = parse_reply_submission(body)
        if reply is None:
            log.info("ignored a malformed reply submission")
            await ack()
            return
        click = reply.click
        try:
            actor = await asyncio.wait_for(self.adapter.named(click.actor), self.name_wait)
        except asyncio.TimeoutError:
            actor = click.actor
        try:
            result = await asyncio.wait_for(self.handlers.on_decision(DecisionClick(
                click.approval_id, Decision.RESPOND, actor, click.reason, click.conversation, click.place,
                revision=reply.revision)), self.decide_wait)
        except Exception:
            log.exception("reply on %s failed", click.approval_id)
            await ack()
            await self.adapter.tell(click.conversation, actor,
                                    "Sorry, your reply could not be recorded just now; please try again.")
            return
        if result.outcome not in (Outcome.ACCEPTED, Outcome.STEP_UP):
            await ack(response_action="errors", errors=reply_errors(result.message))
            return
        await ack()  # accepted: the bot updates every copy of the card
        if result.outcome is Outcome.STEP_UP:  # the fresh login's link, for the author alone
            await self.adapter.tell(click.conversation, actor, result.message)
