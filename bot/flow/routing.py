"""Reaching the approvers: copies of a card in an approvals channel and in direct messages,
reminders and escalation notices, and "my pending approvals" lists.

Every copy is recorded with its place before anyone can click it, so a decision counts from
any copy the bot posted and from nowhere else; every copy is updated with the outcome like
the thread's own card. A copy posted after the approval was decided shows its decided state
(the outbox renders it from the row as read just before posting, and redraws it at once if
the row changed meanwhile).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Callable

from adapters.base import Actor, ApprovalCard, Conversation, MessageRef
from bot.approvals import policy
from bot.approvals.ids import NotifyTarget, approver_ids, dm_platforms, notify_targets
from bot.approvals.models import APPROVAL_ID, Approval, CardCopy, Status
from bot.flow.groups import Groups
from bot.flow.outbox import Outbox
from bot.ledger import steps as ledger_steps
from bot.ledger.ledger import Ledger

log = logging.getLogger("clearance.routing")
MAX_DMS = 25  # direct messages per platform and notice: a group of hundreds is not an on-call rota
CHAT_PLATFORMS = ("slack", "teams")


class Router:
    def __init__(self, *, outbox: Outbox, ledger: Ledger, groups: Groups, clock: Callable[[], float]) -> None:
        self.outbox = outbox
        self.ledger = ledger
        self.groups = groups
        self.clock = clock

    async def _like(self, approval: Approval, platform: str) -> Conversation | None:
        """A conversation of `platform` to reach people from: the thread's own, else (Teams
        needs a service URL) the last one the bot saw there."""
        if approval.conversation.platform == platform:
            return approval.conversation
        if platform == "slack":
            return Conversation("slack", "", {})  # one workspace per token: the adapter knows it
        return await ledger_steps.latest_conversation(self.ledger, platform)

    # -- who -----------------------------------------------------------------------------------

    async def people(self, approval: Approval, platform: str, approvers: tuple[str, ...]) -> list[str]:
        """User ids on `platform` among `approvers` (groups expanded), who have not decided
        and may decide (the requester only if self-approval is allowed); at most MAX_DMS."""
        reaching = self.outbox.reaching(platform)
        like = await self._like(approval, platform)
        found: list[str] = []
        for entry in approver_ids(approvers):
            if entry.platform != platform:
                continue
            if not entry.group:
                found.append(entry.id)
            elif reaching is not None and like is not None:
                try:
                    found += await reaching.group_members(like, entry.id)
                except Exception as exc:
                    log.warning("members of %s unknown: %s", entry.text, type(exc).__name__)
        decided = {d.actor.qualified for d in approval.decisions}
        skip = decided | ({approval.requester.qualified} if not approval.rule.allow_self_approval else set())
        people = [u for u in dict.fromkeys(found) if f"{platform}:{u}" not in skip]
        if len(people) > MAX_DMS:
            log.warning("%s: %d %s approvers, only the first %d are messaged", approval.id, len(people), platform,
                        MAX_DMS)
        return people[:MAX_DMS]

    # -- copies --------------------------------------------------------------------------------

    async def publish(self, approval: Approval) -> None:
        """A new card: in its thread, then its copies where the rule's notify says."""
        ref = await self.outbox.post_card(approval)
        if approval.rule.notify:
            await self.route(approval, ref)

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
        home = self.outbox.reaching(approval.conversation.platform)
        if home is not None and thread_ref is not None:
            try:
                link = await home.link(approval.conversation, thread_ref)
            except Exception as exc:
                log.warning("no link to the thread of %s: %s", approval.id, type(exc).__name__)
        reached: list[str] = []
        for target in notify_targets(targets):
            try:
                reached += await self._copy_to(approval, target, approvers, link)
            except Exception as exc:
                log.warning("%s: routing to %s failed: %s", approval.id, target.text, type(exc).__name__)
        if announce and reached:
            await self.outbox.say(approval.conversation, "This approval was also sent to " + " and ".join(reached)
                                  + ".")
        return reached

    async def _copy_to(self, approval: Approval, target: NotifyTarget, approvers: tuple[str, ...],
                       link: str) -> list[str]:
        reaching, like = self.outbox.reaching(target.platform), await self._like(approval, target.platform)
        if reaching is None or like is None:
            log.warning("%s: cannot reach %s (platform off or never seen)", approval.id, target.text)
            return []
        if not target.dm:
            conv = await reaching.open_channel(like, target.channel)
            return [f"channel {target.channel}"] if await self.outbox.post_copy(approval.id, conv, link) else []
        sent = 0
        for user in await self.people(approval, target.platform, approvers):
            try:
                sent += await self.outbox.post_copy(approval.id, await reaching.open_dm(like, user), link)
            except Exception as exc:
                log.warning("%s: DM to %s:%s failed: %s", approval.id, target.platform, user, type(exc).__name__)
        return [f"{sent} approver{'s' if sent > 1 else ''} by direct message"] if sent else []

    async def links(self, approvals: list[Approval]) -> list[str]:
        """Where each approval's card can be opened (its id where the platform has no links)."""
        found = []
        for approval in approvals:
            reaching = self.outbox.reaching(approval.conversation.platform)
            own = [c.ref for c in approval.cards if c.conversation is None]
            link = ""
            if reaching is not None and own:
                try:
                    link = await reaching.link(approval.conversation, own[0])
                except Exception as exc:
                    log.warning("no link to the card of %s: %s", approval.id, type(exc).__name__)
            found.append(link or approval.id)
        return found

    # -- reminders and escalation notices ------------------------------------------------------

    async def notify_people(self, approval: Approval, approvers: tuple[str, ...], text: str,
                            *, by_dm: tuple[str, ...]) -> list[str]:
        """Tell these approvers `text`: by DM on the platforms in `by_dm`, else with a mention
        in the thread (on the thread's platform). Returns the qualified ids told."""
        told: list[str] = []
        thread = approval.conversation
        for platform in CHAT_PLATFORMS:
            people = await self.people(approval, platform, approvers)
            like = await self._like(approval, platform)
            if not people or self.outbox.reaching(platform) is None or like is None:
                continue
            if platform in by_dm:
                for user in people:
                    try:
                        await self.outbox.direct_message(like, user, text)
                        told.append(f"{platform}:{user}")
                    except Exception as exc:
                        log.warning("%s: DM to %s:%s failed: %s", approval.id, platform, user, type(exc).__name__)
            elif platform == thread.platform:
                try:
                    await self.outbox.mention(thread, people, text)
                    told += [f"{platform}:{u}" for u in people]
                except Exception as exc:
                    log.warning("%s: mention in the thread failed: %s", approval.id, type(exc).__name__)
        return told

    async def remind(self, approval: Approval) -> list[str]:
        text = f"Reminder: {self.outbox.card(approval).summary} ({approval.id}) still waits for your decision."
        told = await self.notify_people(approval, approval.rule.approvers, text, by_dm=approval.rule.dm_platforms)
        if not told:
            await self.outbox.say(approval.conversation, text.replace(" your ", " a "))
        return told

    async def escalated(self, approval: Approval, added: tuple[str, ...], notify: tuple[str, ...]) -> list[str]:
        """New approvers: copies where the step says (DMs to them only), else a mention."""
        reached = await self.route(approval, approval.cards[0].ref if approval.cards else None,
                                   targets=notify, approvers=added, announce=False)
        dm = dm_platforms(notify)
        summary = self.outbox.card(approval).summary
        text = f"Escalated: {summary} ({approval.id}) waits for a decision; you may decide it."
        told = await self.notify_people(approval, added, text, by_dm=dm) if not dm else []
        await self.outbox.say(approval.conversation, f"No decision yet: approval {approval.id} was escalated to "
                                                     + ", ".join(added) + ".")
        return told + reached

    # -- my pending approvals ------------------------------------------------------------------

    async def decidable_by(self, actor: Actor, approvals: list[Approval]) -> list[Approval]:
        now = self.clock()
        return [a for a in approvals
                if policy.may_decide(a, actor, now=now, groups=await self.groups.of(actor, a))]

    async def pending_for(self, actor: Actor) -> list[Approval]:
        return await self.decidable_by(actor, await self.ledger.approvals(status=[Status.PENDING]))

    async def show_pending(self, conv: Conversation, actor: Actor) -> None:
        """Answer "my pending approvals" and record the list as a place of each card on it."""
        reaching = self.outbox.reaching(conv.platform)
        if reaching is None:
            return
        approvals = await self.pending_for(actor)
        try:
            ref = await reaching.post_pending(conv, actor, [self.outbox.card(a) for a in approvals])
        except Exception as exc:
            log.warning("listing pending approvals for %s failed: %s", actor.qualified, type(exc).__name__)
            return
        for approval in approvals:
            await self.ledger.add_card(approval.id, CardCopy(ref, conv))

    async def current_card(self, approval_id: str, viewer: Actor | None = None) -> ApprovalCard | None:
        """The card as it stands now; drawn for `viewer` (their own buttons) when given."""
        approval = await self.ledger.get(approval_id) if APPROVAL_ID.match(approval_id or "") else None
        if approval is None:
            return None
        card = self.outbox.card(approval)
        if viewer is None:
            return card
        seen = policy.viewer_of(approval, viewer, now=self.clock(), groups=await self.groups.of(viewer, approval))
        return dataclasses.replace(card, viewer=seen)

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
