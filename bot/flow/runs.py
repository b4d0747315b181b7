"""Starting and resuming a thread's run, and recording what it stops on.

Guarantees kept here:
- every run or resume of a thread holds the per-thread lock, so two inputs, or an input and
  a decision, never drive one thread's graph at once;
- an outcome reaches its run once: an approval already resumed (or reported) is skipped,
  re-read under the lock, so a decision and the sweeper racing on it hand it over once; a
  batched interrupt is resumed once, after its last card, with every card's decision;
- a thread never blocks on a card: with the bundled agent, calls still waiting when new
  input arrives are answered first (with their outcome if decided, else a deferral that
  detaches their card); another graph cannot take a deferral, so its new input is queued
  durably, the thread is told, and it runs once the cards are decided, in arrival order;
- a question the graph asks (an interrupt that is no approval) is answered by the thread's
  next message;
- cards are posted after the run returns and outside the lock, keyed by interrupt id: a
  re-run finds the rows it already recorded and posts nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from adapters.base import Actor, Conversation
from bot.approvals.models import Approval
from bot.approvals.replies import SERVER_UNREACHABLE, UNAVAILABLE, failure_text, outcome_line, queued_line
from bot.approvals.requests import NotYet, Unanswerable, answer_for, approvals_for
from bot.flow.outbox import Outbox
from bot.flow.routing import Router
from bot.ledger.database import is_outage
from bot.ledger.ledger import Ledger
from bot.ledger.locks import ThreadLocks
from bot.ledger.queue import MessageQueue
from bot.logs import log_context
from graph.contract import OUTCOME_AUTHOR, Dialect, ResumeValue, Waiting, defer_value
from graph.remote import AgentServerBusy, AgentServerUnreachable
from graph.runner import AgentRunner, RunResult
from graph.tools import Registry

# Logged under the service's name: these lines are its flow, and log filters select on that name.
log = logging.getLogger("clearance.service")
MAX_DRAINED = 20  # queued messages run in one go; the sweeper carries on with the rest


@dataclass
class Said:
    """What a run leaves to post once the lock is released: new cards, questions, answers."""

    cards: list[Approval] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)


def _blocks(waiting: list[Waiting]) -> bool:
    """Whether the run waits on something new input cannot go past: a card or a question."""
    return bool(waiting)


class Runs:
    """The thread side of the flow: runs the graph on new input and on outcomes."""

    def __init__(self, *, runner: AgentRunner, ledger: Ledger, locks: ThreadLocks, registry: Registry,
                 outbox: Outbox, router: Router, queue: MessageQueue, clock: Callable[[], float]) -> None:
        self.runner = runner
        self.ledger = ledger
        self.locks = locks
        self.registry = registry
        self.outbox = outbox
        self.router = router
        self.queue = queue
        self.clock = clock

    # -- new input -----------------------------------------------------------------------------

    async def run_input(self, conv: Conversation, actor: Actor, text: str, *, author: str,
                        reporting: Approval | None = None) -> None:
        """Run the thread on new input. `reporting`: the detached approval whose outcome this
        input is (the bundled agent only)."""
        try:
            async with self.locks.hold(conv.thread_id):
                if reporting is not None:
                    fresh = await self.ledger.get(reporting.id)
                    if fresh is None or fresh.resumed_at is not None:
                        return  # already reported
                waiting = await self.runner.waiting(conv.thread_id)
                if self.runner.defers:
                    said = await self._run_past(conv, actor, text, author, waiting)
                else:
                    said = await self._run_or_queue(conv, actor, text, author, waiting)
                if reporting is not None:
                    await self.ledger.resumed(reporting, detail={"reported": True})
        except AgentServerUnreachable as exc:
            # Kept, not lost: the sweeper runs it once the server answers again.
            log.warning("agent server unreachable for thread %s (%s); message kept", conv.thread_id, exc)
            if not exc.started:
                await self.queue.put(conv, actor, text)
            await self.outbox.say(conv, SERVER_UNREACHABLE)
            return
        except Exception as exc:
            await self._failed(conv, exc, resumed=reporting is not None)
            return
        await self._deliver(conv, said)

    async def _run_past(self, conv: Conversation, actor: Actor, text: str, author: str,
                        waiting: list[Waiting]) -> Said:
        """Now, whatever waits: calls still waiting are detached first (their cards stay live,
        their outcomes come back later as input like this)."""
        said = Said(cards=await self._record(conv, actor, waiting))
        settle = await self._settle(conv.thread_id, waiting)
        result = await self.runner.start(conv.thread_id, text, author=author, settle=settle)
        return await self._took(said, conv, actor, result)

    async def _run_or_queue(self, conv: Conversation, actor: Actor, text: str, author: str,
                            waiting: list[Waiting]) -> Said:
        question = next((w for w in waiting if w.dialect is Dialect.QUESTION), None)
        if question is not None:
            result = await self.runner.resume(conv.thread_id, question.interrupt_id, text)
            if result is not None:
                return await self._took(Said(), conv, actor, result)
            waiting = await self.runner.waiting(conv.thread_id)
        ahead = await self.queue.waiting(conv.thread_id)
        if _blocks(waiting) or ahead:
            pending = [a for a in await self.ledger.approvals(thread_id=conv.thread_id) if a.resumed_at is None]
            await self.queue.put(conv, actor, text)
            links = await self.router.links(pending)
            return Said(answers=[queued_line(len(pending), ahead, links)])
        result = await self.runner.start(conv.thread_id, text, author=author)
        return await self._took(Said(), conv, actor, result)

    async def _settle(self, thread_id: str, waiting: list[Waiting]) -> dict[str, ResumeValue]:
        """The value each waiting call is answered with before new input runs: its outcome
        when already decided, else a deferral that detaches its card."""
        settle: dict[str, ResumeValue] = {}
        for call in waiting:
            approval = await self.ledger.by_interrupt(thread_id, call.interrupt_id)
            if approval is None or call.request is None:
                continue
            if approval.has_outcome and approval.resumed_at is None:
                settle[call.interrupt_id] = approval.resume_value()
                await self.ledger.mark_resumed(approval.id)
            else:
                # Marked before the run: if the run fails, the outcome is still reported as
                # new input later rather than lost with an interrupt nobody resumes.
                await self.ledger.mark_detached(approval.id)
                settle[call.interrupt_id] = defer_value(call.request, approval.id)
        return settle

    async def drain(self, thread_id: str) -> None:
        """Run the thread's queued messages, oldest first, while nothing waits on a card."""
        for _ in range(MAX_DRAINED):
            with log_context(thread_id=thread_id):
                try:
                    async with self.locks.hold(thread_id):
                        if _blocks(await self.runner.waiting(thread_id)):
                            return
                        item = await self.queue.take(thread_id)
                        if item is None:
                            return
                        try:
                            result = await self.runner.start(thread_id, item.text, author=item.actor.display)
                        except AgentServerUnreachable as exc:
                            if not exc.started:
                                await self.queue.release(item)
                            raise
                        said = await self._took(Said(), item.conversation, item.actor, result)
                except (AgentServerUnreachable, AgentServerBusy) as exc:
                    log.warning("queued messages of thread %s wait: agent server %s", thread_id, exc)
                    return
                except Exception as exc:
                    log.exception("a queued message failed on thread %s", thread_id)
                    found = await self.ledger.thread(thread_id)
                    if found is not None:
                        await self.outbox.say(found[0], failure_text(exc))
                    return
            await self._deliver(item.conversation, said)

    async def adopt(self, conv: Conversation, requester: Actor) -> int:
        """Card what the thread's run waits on that the bot did not cause (a run started by a
        cron, the agent server's API or another app): each interrupt once, as after any run.
        Returns how many cards were new."""
        async with self.locks.hold(conv.thread_id):
            waiting = await self.runner.waiting(conv.thread_id)
            said = Said(cards=await self._record(conv, requester, waiting),
                        questions=await self._new_questions(conv.thread_id, waiting))
        await self._deliver(conv, said)
        return len(said.cards)

    # -- outcomes ------------------------------------------------------------------------------

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
                said = await self._answer(fresh)
                if said is None:
                    return False
        except (AgentServerUnreachable, AgentServerBusy) as exc:
            # The decision is recorded; the sweeper sends the resume once the server can take it.
            log.warning("resume of %s waits: agent server %s (%s)", approval.id,
                        "busy" if isinstance(exc, AgentServerBusy) else "unreachable", exc)
            return False
        except Exception as exc:
            await self._failed(conv, exc, resumed=True)
            return False
        await self._deliver(conv, said)
        if not self.runner.defers:
            await self.drain(conv.thread_id)
        return False

    async def _answer(self, approval: Approval) -> Said | None:
        """Under the lock: resume the interrupt once all its cards are decided; None when it
        is not time yet, or when there was nothing to resume."""
        batch = await self.ledger.batch(approval.thread_id, approval.graph_interrupt_id) \
            if approval.asked.dialect is Dialect.HITL else []
        try:
            answer = answer_for(approval, batch)
        except NotYet:
            return None
        except Unanswerable:
            log.warning("%s: the agent accepts no decision for this outcome; its run stays paused", approval.id)
            await self.ledger.resumed(approval, detail={"unanswerable": True})
            return Said(answers=[f"The agent cannot be told that {approval.tool} was {approval.status.value}: "
                                 "it accepts no such decision, so its run stays paused."])
        if any(card.resumed_at is not None for card in answer.cards):
            return None  # the batch was answered by whoever decided its last card first
        result = await self.runner.resume(approval.thread_id, approval.graph_interrupt_id, answer.value)
        if result is None:
            for card in answer.cards:
                await self.ledger.mark_resumed(card.id)  # someone else resumed it: once more would be a no-op
            return None
        for card in answer.cards:
            await self.ledger.resumed(card)
        return await self._took(Said(), approval.conversation, await self._requester(approval), result)

    # -- what a run left -----------------------------------------------------------------------

    async def _took(self, said: Said, conv: Conversation, actor: Actor, result: RunResult) -> Said:
        """Record what the run stopped on and keep what it said, for `_deliver`."""
        said.cards += await self._record(conv, actor, result.waiting)
        said.questions += await self._new_questions(conv.thread_id, result.waiting)
        said.answers = result.answers + said.answers
        return said

    async def _failed(self, conv: Conversation, exc: Exception, *, resumed: bool) -> None:
        if not resumed and is_outage(exc):
            log.warning("run on thread %s failed: database unavailable (%s)", conv.thread_id, type(exc).__name__)
            await self.outbox.say(conv, UNAVAILABLE)
            return
        log.exception("%s failed on thread %s", "resume" if resumed else "run", conv.thread_id)
        await self.outbox.say(conv, failure_text(exc, resumed=resumed))

    async def _deliver(self, conv: Conversation, said: Said) -> None:
        """Outside the lock: new cards first, then what the model said, then its questions."""
        for approval in said.cards:
            await self.router.publish(approval)
        for text in said.answers + said.questions:
            await self.outbox.say(conv, text)

    async def _record(self, conv: Conversation, requester: Actor, waiting: list[Waiting]) -> list[Approval]:
        """The ledger rows of the waiting interrupts' calls; only the rows created now come
        back (a re-run of a pending task finds its rows and posts nothing)."""
        new: list[Approval] = []
        now = self.clock()
        for entry in waiting:
            for approval in approvals_for(entry, conv=conv, requester=requester, registry=self.registry, now=now):
                if (stored := await self.ledger.record(approval)) is not None:
                    new.append(stored)
        return new

    async def _new_questions(self, thread_id: str, waiting: list[Waiting]) -> list[str]:
        """The questions asked for the first time (a re-run asks nothing twice)."""
        return [w.question for w in waiting if w.dialect is Dialect.QUESTION
                and await self.ledger.first_time(f"question:{thread_id}:{w.interrupt_id}")]
