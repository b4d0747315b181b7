"""What the bot says and shows in chats: thread posts, cards and their copies, updates of
every copy, and the redelivery of what a platform refused.

Guarantees kept here:
- every text and card that leaves for a chat has the bot's secrets redacted;
- a card or update a platform refused is not lost: the ledger marks it undelivered and the
  sweeper calls `redeliver`, which posts it in its state as it is then (a card decided
  meanwhile is posted decided, without buttons);
- every copy is recorded with its place, so a click counts from any copy the bot posted;
- a copy posted while the approval moved on is redrawn at once with the current state.

The outbox decides nothing about where cards go (routing does) and never runs the graph.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Callable

from adapters.base import Actor, ApprovalCard, ChatAdapter, Conversation, Identities, MessageRef, Reaching
from bot.approvals.cards import card_for
from bot.approvals.models import Approval, CardCopy, Undelivered
from bot.flow.previews import Previews
from bot.flow.retry import with_backoff
from bot.ledger.ledger import Ledger
from graph.tools import Registry

# Logged under the service's name: these lines are its flow, and log filters select on that name.
log = logging.getLogger("clearance.service")
SAY_TRIES = 4  # a thread post is tried this often (0.5 s, 1 s, 2 s apart): an answer is worth a card
ORIGIN = "origin"  # a copy's conversation data: the link to the requesting thread


def is_list(ref: MessageRef) -> bool:
    """A "my pending approvals" list rather than a card: redrawn as a whole, never per card."""
    return bool(ref.data.get("list"))


class Outbox:
    def __init__(self, *, ledger: Ledger, registry: Registry, previews: Previews,
                 redact: Callable[[str], str], adapters: dict[str, ChatAdapter] | None = None) -> None:
        self.ledger = ledger
        self.registry = registry
        self.previews = previews
        self.redact = redact
        self.adapters: dict[str, ChatAdapter] = dict(adapters or {})

    def add_adapter(self, adapter: ChatAdapter) -> None:
        self.adapters[adapter.platform] = adapter

    def adapter(self, conv: Conversation) -> ChatAdapter | None:
        adapter = self.adapters.get(conv.platform)
        if adapter is None:
            log.warning("no adapter for platform %s; thread %s not updated", conv.platform, conv.thread_id)
        return adapter

    def reaching(self, platform: str) -> Reaching | None:
        """The platform's side for reaching people outside a thread, when it has one."""
        adapter = self.adapters.get(platform)
        return adapter if isinstance(adapter, Reaching) else None

    async def email_of(self, actor: Actor) -> str | None:
        """The address the actor's platform profile gives (Slack), for telling people apart."""
        adapter = self.adapters.get(actor.platform)
        if not isinstance(adapter, Identities):
            return None
        try:
            return await adapter.email_of(actor.id)
        except Exception as exc:
            log.warning("the email of %s is unknown: %s", actor.qualified, type(exc).__name__)
            return None

    # -- the card view ---------------------------------------------------------------------

    def card(self, approval: Approval) -> ApprovalCard:
        spec = self.registry.get(approval.tool)
        return card_for(approval, description=spec.description if spec else "", redact=self.redact)

    def card_for_copy(self, approval: Approval, conv: Conversation | None) -> ApprovalCard:
        """The card as one copy shows it: a copy posted elsewhere links to the thread."""
        card = self.card(approval)
        origin = str(conv.data.get(ORIGIN) or "") if conv is not None else ""
        return dataclasses.replace(card, origin=origin) if origin else card

    # -- thread posts ----------------------------------------------------------------------

    async def say(self, conv: Conversation, text: str) -> MessageRef | None:
        """Post to a thread, retrying a platform's passing failure (5xx, refused connection,
        timeout) with backoff a few times; None when it never went through."""
        adapter = self.adapter(conv)
        if adapter is None:
            return None
        try:
            return await with_backoff(lambda: adapter.post_text(conv, self.redact(text)),
                                      what=f"posting to {conv.thread_id}", log=log, tries=SAY_TRIES)
        except Exception:
            return None

    async def replace_text(self, conv: Conversation, ref: MessageRef, text: str) -> None:
        """Rewrite a post made earlier (a progress line becomes the result)."""
        adapter = self.adapter(conv)
        if adapter is None:
            return
        try:
            await adapter.update_text(conv, ref, self.redact(text))
        except Exception:
            log.exception("progress update failed")

    async def mention(self, conv: Conversation, user_ids: list[str], text: str) -> None:
        """A post in the thread that notifies these users; raises when the platform refused."""
        reaching = self.reaching(conv.platform)
        if reaching is not None:
            await reaching.post_mention(conv, user_ids, self.redact(text))

    async def direct_message(self, like: Conversation, user_id: str, text: str) -> None:
        """A text in the bot's DM with this user; raises when the platform refused."""
        reaching = self.reaching(like.platform)
        if reaching is not None:
            dm = await reaching.open_dm(like, user_id)
            await reaching.post_text(dm, self.redact(text))  # type: ignore[attr-defined]

    # -- cards -----------------------------------------------------------------------------

    async def post_card(self, approval: Approval) -> MessageRef | None:
        """The card in the requesting thread, with its preview from the start; None when the
        platform refused it (then marked undelivered, for the sweeper to post later)."""
        adapter, ref = self.adapter(approval.conversation), None
        approval = await self.previews.with_preview(approval)
        if adapter is None:
            return None
        try:
            ref = await adapter.post_card(approval.conversation, self.card(approval))
            await self.ledger.add_card(approval.id, CardCopy(ref))
        except Exception:
            # Not lost: the sweeper posts it once the platform answers again.
            log.exception("posting the card of %s failed; it will be retried", approval.id)
            await self.ledger.mark_undelivered(approval.id, Undelivered.CARD)
            return None
        if approval.undelivered & Undelivered.CARD:
            await self.ledger.mark_delivered(approval.id, Undelivered.CARD)
        return ref

    async def post_copy(self, approval_id: str, conv: Conversation, link: str) -> bool:
        """One copy outside the thread, recorded with its place; redrawn at once if the
        approval moved on while it was being posted (a decided approval's copy shows the
        decision). Raises when the platform refused it."""
        adapter = self.adapters.get(conv.platform)
        before = await self.ledger.get(approval_id)
        if adapter is None or before is None:
            return False
        if link:
            conv = dataclasses.replace(conv, data={**conv.data, ORIGIN: link})
        ref = await adapter.post_card(conv, self.card_for_copy(before, conv))
        after = await self.ledger.add_card(approval_id, CardCopy(ref, conv))
        if after is not None and after.version != before.version:
            await adapter.update_card(conv, ref, self.card_for_copy(after, conv))
        return True

    async def update_cards(self, approval: Approval) -> None:
        """Every posted copy shows the approval's current state; a copy the platform refused
        to update is retried by the sweeper (with the state as it is then)."""
        failed = False
        for copy in approval.cards:
            conv = copy.conversation or approval.conversation
            adapter = self.adapters.get(copy.ref.platform)
            if adapter is None or is_list(copy.ref):
                continue  # lists of pending approvals are redrawn whole (Router.refresh_lists)
            try:
                await adapter.update_card(conv, copy.ref, self.card_for_copy(approval, copy.conversation))
            except Exception:
                log.exception("updating a card of %s failed; it will be retried", approval.id)
                failed = True
        if failed:
            await self.ledger.mark_undelivered(approval.id, Undelivered.UPDATE)
        elif approval.undelivered & Undelivered.UPDATE:
            await self.ledger.mark_delivered(approval.id, Undelivered.UPDATE)

    async def redeliver(self, now: float) -> int:
        """Post the cards and updates a platform refused earlier, in their current state. A
        card's copies elsewhere were sent the first time: only the thread's card is posted."""
        due = await self.ledger.undelivered(now)
        for approval in due:
            if approval.undelivered & Undelivered.CARD:
                await self.post_card(approval)
            if approval.undelivered & Undelivered.UPDATE:
                await self.update_cards(approval)
        return len(due)
