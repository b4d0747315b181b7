"""Starting and resuming a thread's run, and recording the calls it stops on.

Guarantees kept here:
- every run or resume of a thread holds the per-thread lock, so two inputs, or an input and
  a decision, never drive one thread's graph at once;
- an outcome reaches its run once: an approval already resumed (or reported) is skipped,
  re-read under the lock, so a decision and the sweeper racing on it hand it over once;
- calls still waiting when new input arrives are answered first (with their outcome if
  decided, else a deferral that detaches their card), so a thread never blocks on a card;
- cards are posted after the run returns and outside the lock, keyed by interrupt id: a
  re-run finds the rows it already recorded and posts nothing.
"""

from __future__ import annotations

import logging
from typing import Callable

from adapters.base import Actor, Conversation
from bot.approvals.edit_plan import rule_snapshot
from bot.approvals.models import Approval, new_approval_id
from bot.approvals.replies import UNAVAILABLE, failure_text, outcome_line
from bot.flow.outbox import Outbox
from bot.flow.routing import Router
from bot.ledger.database import is_outage
from bot.ledger.ledger import Ledger
from bot.ledger.locks import ThreadLocks
from bot.logs import log_context
from graph.contract import OUTCOME_AUTHOR, ResumeValue, defer_value
from graph.runner import Runner, RunResult, WaitingCall
from graph.tools import Registry

# Logged under the service's name: these lines are its flow, and log filters select on that name.
log = logging.getLogger("clearance.service")


class Runs:
    """The thread side of the flow: runs the graph on new input and on outcomes."""

    def __init__(self, *, runner: Runner, ledger: Ledger, locks: ThreadLocks, registry: Registry,
                 outbox: Outbox, router: Router, clock: Callable[[], float]) -> None:
        self.runner = runner
        self.ledger = ledger
        self.locks = locks
        self.registry = registry
        self.outbox = outbox
        self.router = router
        self.clock = clock

    async def run_input(self, conv: Conversation, actor: Actor, text: str, *, author: str,
                        reporting: Approval | None = None) -> None:
        """Run the thread on new input, now, whatever waits: calls still waiting for a
        decision are detached first (their cards stay live, their outcomes come back later as
        input like this). `reporting`: the detached approval whose outcome this input is."""
        try:
            async with self.locks.hold(conv.thread_id):
                if reporting is not None:
                    fresh = await self.ledger.get(reporting.id)
                    if fresh is None or fresh.resumed_at is not None:
                        return  # already reported
                waiting = await self.runner.waiting(conv.thread_id)
                cards = await self._record_waiting(conv, actor, waiting)
                settle = await self._settle(conv.thread_id, waiting)
                result = await self.runner.start(conv.thread_id, text, author=author, settle=settle)
                if reporting is not None:
                    await self.ledger.resumed(reporting, detail={"reported": True})
                cards += await self._record_waiting(conv, actor, result.waiting)
        except Exception as exc:
            if reporting is None and is_outage(exc):
                log.warning("run on thread %s failed: database unavailable (%s)", conv.thread_id, type(exc).__name__)
                await self.outbox.say(conv, UNAVAILABLE)
                return
            log.exception("run failed on thread %s", conv.thread_id)
            await self.outbox.say(conv, failure_text(exc, resumed=reporting is not None))
            return
        await self._deliver(conv, cards, result)

    async def _settle(self, thread_id: str, waiting: list[WaitingCall]) -> dict[str, ResumeValue]:
        """The value each waiting call is answered with before new input runs: its outcome
        when already decided, else a deferral that detaches its card."""
        settle: dict[str, ResumeValue] = {}
        for call in waiting:
            approval = await self.ledger.by_interrupt(thread_id, call.interrupt_id)
            if approval is None:
                continue
            if approval.status.has_outcome and approval.resumed_at is None:
                settle[call.interrupt_id] = approval.resume_value()
                await self.ledger.mark_resumed(approval.id)
            else:
                # Marked before the run: if the run fails, the outcome is still reported as
                # new input later rather than lost with an interrupt nobody resumes.
                await self.ledger.mark_detached(approval.id)
                settle[call.interrupt_id] = defer_value(call.request, approval.id)
        return settle

    async def resume(self, approval: Approval) -> None:
        """Hand an outcome to the run, once: resume its interrupt, or, for a detached card,
        report it to the thread as new input."""
        with log_context(thread_id=approval.thread_id, approval_id=approval.id):
            await self._resume_or_report(approval)

    async def _resume_or_report(self, approval: Approval) -> None:
        if approval.detached_at is None and not await self._resume_interrupt(approval):
            return
        # Detached (maybe while this decision waited for the lock): its interrupt was answered
        # with a deferral, so the outcome comes back as a message in the thread.
        await self.run_input(approval.conversation, await self._requester(approval), outcome_line(approval),
                              author=OUTCOME_AUTHOR, reporting=approval)

    async def _requester(self, approval: Approval) -> Actor:  # who asked last; read only when needed
        return found[1] if (found := await self.ledger.thread(approval.thread_id)) else approval.requester

    async def _resume_interrupt(self, approval: Approval) -> bool:
        """Resume the approval's interrupt with its outcome; True when it was detached instead."""
        conv = approval.conversation
        try:
            async with self.locks.hold(conv.thread_id):
                fresh = await self.ledger.get(approval.id)
                if fresh is None or fresh.resumed_at is not None:
                    return False
                if fresh.detached_at is not None:
                    return True
                result = await self.runner.resume(conv.thread_id, approval.interrupt_id,
                                                          approval.resume_value())
                if result is None:
                    await self.ledger.mark_resumed(approval.id)
                    return False  # someone else resumed it: resuming again would be a silent no-op
                await self.ledger.resumed(approval)
                waiting = result.waiting
                cards = await self._record_waiting(conv, await self._requester(approval), waiting) if waiting else []
        except Exception as exc:
            log.exception("resume failed on thread %s", conv.thread_id)
            await self.outbox.say(conv, failure_text(exc, resumed=True))
            return False
        await self._deliver(conv, cards, result)
        return False

    async def _deliver(self, conv: Conversation, cards: list[Approval], result: RunResult) -> None:
        """Outside the lock: new cards first, then what the model said."""
        for approval in cards:
            await self.router.publish(approval)
        for text in result.answers:
            await self.outbox.say(conv, text)

    async def _record_waiting(self, conv: Conversation, requester: Actor, waiting: list[WaitingCall]) -> list[Approval]:
        """One ledger row per waiting interrupt; only the rows created now come back (a
        re-run of a pending task finds its row and posts nothing)."""
        new: list[Approval] = []
        now = self.clock()
        for call in waiting:
            request = call.request
            name, args = request["tool_call_name"], request["tool_call_args"]
            spec = self.registry.get(name)
            snapshot = rule_snapshot(spec, args)
            approval = Approval(
                id=new_approval_id(), thread_id=conv.thread_id, interrupt_id=call.interrupt_id,
                tool_call_id=request["tool_call_id"], tool=name, args=args, requester=requester,
                rule=snapshot, conversation=conv, created_at=now,
                expires_at=now + snapshot.expires_after if snapshot.expires_after else None,
                external=bool(spec and spec.run.kind == "external"),
            )
            stored = await self.ledger.record(approval)
            if stored is not None:
                new.append(stored)
        return new
