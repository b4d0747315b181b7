"""Reaching the approvers: copies of a card in an approvals channel and in direct messages,
reminders and escalation notices, and "my pending approvals" lists.

Every copy is recorded with its place before anyone can click it, so a decision counts from
any copy the bot posted and from nowhere else; every copy is updated with the outcome by the
service like the thread's own card. A copy posted after the approval was decided shows its
decided state: it is rendered from the row as read just before posting, and redrawn at once
if the row changed meanwhile.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from adapters.base import Actor, ApprovalCard, Conversation, MessageRef, Reaching
from bot.approvals import policy
from bot.approvals.models import APPROVAL_ID, Approval, CardCopy, Status
from bot.ledger import steps as ledger_steps

if TYPE_CHECKING:
    from bot.flow.service import Service

log = logging.getLogger("clearance.routing")
MAX_DMS = 25  # direct messages per platform and notice: a group of hundreds is not an on-call rota
CHAT_PLATFORMS = ("slack", "teams")
ORIGIN = "origin"  # a copy's conversation data: the link to the requesting thread


def card_with_origin(service: Service, approval: Approval, conv: Conversation | None) -> ApprovalCard:
    card = service.card(approval)
    origin = str(conv.data.get(ORIGIN) or "") if conv is not None else ""
    return dataclasses.replace(card, origin=origin) if origin else card


def is_list(ref: MessageRef) -> bool:
    """A "my pending approvals" list rather than a card: redrawn as a whole, never per card."""
    return bool(ref.data.get("list"))


class Router:
    def __init__(self, service: Service) -> None:
        self.service = service

    def _reaching(self, platform: str) -> Reaching | None:
        adapter = self.service.adapters.get(platform)
        return adapter if isinstance(adapter, Reaching) else None

    async def _like(self, approval: Approval, platform: str) -> Conversation | None:
        """A conversation of `platform` to reach people from: the thread's own, else (Teams
        needs a service URL) the last one the bot saw there."""
        if approval.conversation.platform == platform:
            return approval.conversation
        if platform == "slack":
            return Conversation("slack", "", {})  # one workspace per token: the adapter knows it
        return await ledger_steps.latest_conversation(self.service.ledger, platform)

    # -- who -----------------------------------------------------------------------------------

    async def people(self, approval: Approval, platform: str, approvers: tuple[str, ...]) -> list[str]:
        """User ids on `platform` among `approvers` (groups expanded), who have not decided
        and may decide (the requester only if self-approval is allowed); at most MAX_DMS."""
        reaching = self._reaching(platform)
        like = await self._like(approval, platform)
        found: list[str] = []
        for entry in approvers:
            if entry.startswith(f"{platform}:group:"):
                if reaching is None or like is None:
                    continue
                try:
                    found += await reaching.group_members(like, entry.split(":", 2)[2])
                except Exception as exc:
                    log.warning("members of %s unknown: %s", entry, type(exc).__name__)
            elif entry.startswith(f"{platform}:"):
                found.append(entry.split(":", 1)[1])
        decided = {d.actor.qualified for d in approval.decisions}
        skip = decided | ({approval.requester.qualified} if not approval.rule.allow_self_approval else set())
        people = [u for u in dict.fromkeys(found) if f"{platform}:{u}" not in skip]
        if len(people) > MAX_DMS:
            log.warning("%s: %d %s approvers, only the first %d are messaged", approval.id, len(people), platform,
                        MAX_DMS)
        return people[:MAX_DMS]

    # -- copies --------------------------------------------------------------------------------

    async def route(self, approval: Approval, thread_ref: MessageRef | None, *,
                    targets: tuple[str, ...] | None = None, approvers: tuple[str, ...] | None = None,
                    announce: bool = True) -> list[str]:
        """Post copies to `targets` (default: the rule's notify list); DMs go to `approvers`
        (default: the rule's). Returns what was reached, for the thread's one notice."""
        targets = approval.rule.notify if targets is None else targets
        approvers = approval.rule.approvers if approvers is None else approvers
        if not targets:
            return []
        link = ""
        home = self._reaching(approval.conversation.platform)
        if home is not None and thread_ref is not None:
            try:
                link = await home.link(approval.conversation, thread_ref)
            except Exception as exc:
                log.warning("no link to the thread of %s: %s", approval.id, type(exc).__name__)
        reached: list[str] = []
        for target in targets:
            platform, _, rest = target.partition(":")
            reaching, like = self._reaching(platform), await self._like(approval, platform)
            if reaching is None or like is None:
                log.warning("%s: cannot reach %s (platform off or never seen)", approval.id, target)
                continue
            try:
                if rest.startswith("channel:"):
                    conv = await reaching.open_channel(like, rest.split(":", 1)[1])
                    if await self.post_copy(approval.id, conv, link):
                        reached.append(f"channel {rest.split(':', 1)[1]}")
                elif rest == "dm":
                    sent = 0
                    for user in await self.people(approval, platform, approvers):
                        try:
                            conv = await reaching.open_dm(like, user)
                            sent += await self.post_copy(approval.id, conv, link)
                        except Exception as exc:
                            log.warning("%s: DM to %s:%s failed: %s", approval.id, platform, user,
                                        type(exc).__name__)
                    if sent:
                        reached.append(f"{sent} approver{'s' if sent > 1 else ''} by direct message")
            except Exception as exc:
                log.warning("%s: routing to %s failed: %s", approval.id, target, type(exc).__name__)
        if announce and reached:
            await self.service._say(approval.conversation, "This approval was also sent to " + " and ".join(reached)
                                    + ".")
        return reached

    async def post_copy(self, approval_id: str, conv: Conversation, link: str) -> bool:
        """One copy, recorded with its place; redrawn at once if the approval moved on while
        it was being posted (a decided approval's copy shows the decision)."""
        adapter = self.service.adapters.get(conv.platform)
        before = await self.service.ledger.get(approval_id)
        if adapter is None or before is None:
            return False
        if link:
            conv = dataclasses.replace(conv, data={**conv.data, ORIGIN: link})
        ref = await adapter.post_card(conv, card_with_origin(self.service, before, conv))
        after = await self.service.ledger.add_card(approval_id, CardCopy(ref, conv))
        if after is not None and after.version != before.version:
            await adapter.update_card(conv, ref, card_with_origin(self.service, after, conv))
        return True

    # -- reminders and escalation notices ------------------------------------------------------

    async def notify_people(self, approval: Approval, approvers: tuple[str, ...], text: str,
                            *, by_dm: tuple[str, ...]) -> list[str]:
        """Tell these approvers `text`: by DM on the platforms in `by_dm`, else with a mention
        in the thread (on the thread's platform). Returns the qualified ids told."""
        told: list[str] = []
        thread = approval.conversation
        for platform in CHAT_PLATFORMS:
            people = await self.people(approval, platform, approvers)
            reaching, like = self._reaching(platform), await self._like(approval, platform)
            if not people or reaching is None or like is None:
                continue
            if platform in by_dm:
                for user in people:
                    try:
                        await reaching.post_text(await reaching.open_dm(like, user),  # type: ignore[attr-defined]
                                                 self.service.redact(text))
                        told.append(f"{platform}:{user}")
                    except Exception as exc:
                        log.warning("%s: DM to %s:%s failed: %s", approval.id, platform, user, type(exc).__name__)
            elif platform == thread.platform:
                try:
                    await reaching.post_mention(thread, people, self.service.redact(text))
                    told += [f"{platform}:{u}" for u in people]
                except Exception as exc:
                    log.warning("%s: mention in the thread failed: %s", approval.id, type(exc).__name__)
        return told

    async def remind(self, approval: Approval) -> list[str]:
        dm = tuple(n.split(":", 1)[0] for n in approval.rule.notify if n.endswith(":dm"))
        text = f"Reminder: {self.service.card(approval).summary} ({approval.id}) still waits for your decision."
        told = await self.notify_people(approval, approval.rule.approvers, text, by_dm=dm)
        if not told:
            await self.service._say(approval.conversation, text.replace(" your ", " a "))
        return told

    async def escalated(self, approval: Approval, added: tuple[str, ...], notify: tuple[str, ...]) -> list[str]:
        """New approvers: copies where the step says (DMs to them only), else a mention."""
        reached = await self.route(approval, approval.cards[0].ref if approval.cards else None,
                                   targets=notify, approvers=added, announce=False)
        dm = tuple(n.split(":", 1)[0] for n in notify if n.endswith(":dm"))
        summary = self.service.card(approval).summary
        text = f"Escalated: {summary} ({approval.id}) waits for a decision; you may decide it."
        told = await self.notify_people(approval, added, text, by_dm=dm) if not dm else []
        await self.service._say(approval.conversation, f"No decision yet: approval {approval.id} was escalated to "
                                                       + ", ".join(added) + ".")
        return told + reached

    # -- my pending approvals ------------------------------------------------------------------

    async def decidable_by(self, actor: Actor, approvals: list[Approval]) -> list[Approval]:
        now = self.service.clock()
        out = []
        for approval in approvals:
            groups: frozenset[str] = frozenset()
            if approval.rule.group_approvers and self.service.group_resolver is not None:
                try:
                    groups = await self.service.group_resolver(actor, list(approval.rule.group_approvers))
                except Exception as exc:
                    log.warning("group lookup failed: %s", type(exc).__name__)
            if policy.may_decide(approval, actor, now=now, groups=groups):
                out.append(approval)
        return out

    async def pending_for(self, actor: Actor) -> list[Approval]:
        return await self.decidable_by(actor, await self.service.ledger.approvals(status=[Status.PENDING]))

    async def show_pending(self, conv: Conversation, actor: Actor) -> None:
        """Answer "my pending approvals" and record the list as a place of each card on it."""
        reaching = self._reaching(conv.platform)
        if reaching is None:
            return
        approvals = await self.pending_for(actor)
        try:
            ref = await reaching.post_pending(conv, actor, [self.service.card(a) for a in approvals])
        except Exception as exc:
            log.warning("listing pending approvals for %s failed: %s", actor.qualified, type(exc).__name__)
            return
        for approval in approvals:
            await self.service.ledger.add_card(approval.id, CardCopy(ref, conv))

    async def current_card(self, approval_id: str) -> ApprovalCard | None:
        approval = await self.service.ledger.get(approval_id) if APPROVAL_ID.match(approval_id or "") else None
        return self.service.card(approval) if approval is not None else None

    async def refresh_lists(self, approval: Approval) -> None:
        """Redraw the lists that show this approval and are redrawn in place (App Home)."""
        try:
            await self._refresh_lists(approval)
        except Exception:
            log.exception("refreshing the pending lists of %s failed", approval.id)

    async def _refresh_lists(self, approval: Approval) -> None:
        seen: set[str] = set()
        for copy in approval.cards:
            ref, conv = copy.ref, copy.conversation
            user = str(ref.data.get("user") or "")
            if not ref.data.get("republish") or conv is None or not user or user in seen:
                continue
            seen.add(user)
            tenant = ref.place.workspace if ref.place else ""
            await self.show_pending(conv, Actor(ref.platform, user, "", tenant))
