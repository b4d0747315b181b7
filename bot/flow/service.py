"""The flow: messages start runs, decisions resume them.

Guarantees kept here:
- every run or resume of a thread holds the per-thread lock (bot/flow/runs.py runs them);
- a decision is validated against the ledger (known, pending, allowed, from a place where
  the bot posted that card) and claimed atomically before any resume;
- cards are posted after the run returns, keyed by interrupt id (a re-run posts nothing;
  bot/flow/runs.py records them);
- an approved call executes at most once (bot/flow/execution.py), outside the thread lock, with
  the approval id as idempotency key;
- every text that leaves for a chat has the bot's secrets redacted (bot/flow/outbox.py).

The service composes the flow's steps, each built from what it uses (the ledger, the
outbox, the clock, the locks), never from the service itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import Callable

from adapters.background import Background
from adapters.base import (
    Actor,
    ApprovalCard,
    ChatAdapter,
    Decision,
    DecisionClick,
    DecisionResult,
    InboundHandlers,
    InboundMessage,
    Outcome,
)
from bot.approvals import policy
from bot.approvals.models import APPROVAL_ID, Approval, AuditEvent, Status
from bot.approvals.replies import UNAVAILABLE
from bot.flow.edits import Edits, stale
from bot.flow.execution import Executions
from bot.flow.groups import GroupResolver, Groups
from bot.flow.outbox import Outbox
from bot.flow.outside import OutsideRuns
from bot.flow.previews import Previews
from bot.flow.reminders import Reminders
from bot.flow.routing import Router
from bot.flow.runs import Runs
from bot.flow.step_up import StepUps, StepUpSettings
from bot.ledger.database import is_outage
from bot.ledger.ledger import Ledger
from bot.ledger.locks import ThreadLocks
from bot.ledger.queue import MessageQueue
from bot.ledger.run_keys import RunKeys
from bot.ledger.step_ups import StepUpLinks
from bot.logs import log_context
from graph.runner import AgentRunner
from graph.tools import Registry

log = logging.getLogger("clearance.service")
MAX_CLAIM_ATTEMPTS = 10
ELSEWHERE = "This approval belongs to another conversation."


class Service:
    def __init__(
        self,
        *,
        runner: AgentRunner,
        registry: Registry,
        ledger: Ledger,
        locks: ThreadLocks,
        adapters: dict[str, ChatAdapter] | None = None,
        execution_lease: float = 60.0,
        clock: Callable[[], float] = time.time,
        group_resolver: GroupResolver | None = None,
        redact: Callable[[str], str] = str,  # str(text) is text: nothing redacted
        step_up: StepUpSettings | None = None,
    ) -> None:
        self.registry = registry
        self.ledger = ledger
        self.clock = clock
        self.redact = redact
        self.background = Background("service")
        self.executions = Executions(ledger, registry, lease=execution_lease, redact=redact, clock=clock)
        self.groups = Groups(group_resolver)
        previews = Previews(ledger=ledger, registry=registry, redact=redact)
        self.outbox = Outbox(ledger=ledger, registry=registry, previews=previews, redact=redact, adapters=adapters)
        self.router = Router(outbox=self.outbox, ledger=ledger, groups=self.groups, clock=self.now)
        self.edits = Edits(ledger=ledger, registry=registry, outbox=self.outbox, previews=previews,
                           clock=self.now, background=self.background)
        self.queue = MessageQueue(ledger.db, clock=self.now)
        self.runs = Runs(runner=runner, ledger=ledger, locks=locks, registry=registry, outbox=self.outbox,
                         router=self.router, queue=self.queue, clock=self.now)
        self.reminders = Reminders(ledger=ledger, router=self.router, outbox=self.outbox)
        self.step_ups = StepUps(links=StepUpLinks(ledger.db, clock=self.now), ledger=ledger, outbox=self.outbox,
                                settings=step_up, clock=self.now)
        self.outside = OutsideRuns(outbox=self.outbox, ledger=ledger, runs=self.runs, keys=RunKeys(ledger.db),
                                   background=self.background)
        self.locks = locks

    def now(self) -> float:
        """The service's clock, read at each call: every step sees a clock set on the service
        later (a test's, moving time forward)."""
        return self.clock()

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def adapters(self) -> dict[str, ChatAdapter]:
        return self.outbox.adapters

    @property
    def group_resolver(self) -> GroupResolver | None:
        return self.groups.resolver

    def add_adapter(self, adapter: ChatAdapter) -> None:
        self.outbox.add_adapter(adapter)

    def inbound_handlers(self) -> InboundHandlers:
        """What platform adapters call: the one inbound shape (adapters never see the service)."""
        async def has_thread(thread_id: str) -> bool:
            return await self.ledger.thread(thread_id) is not None

        return InboundHandlers(on_message=self.on_message, on_decision=self.on_decision, has_thread=has_thread,
                               edit_form=self.edit_form, reply_form=self.reply_form,
                               on_pending=self.router.show_pending,
                               current_card=self.router.current_card)

    async def drain(self) -> None:
        """Wait until every background decision, execution and resume has finished."""
        await self.background.drain()

    # -- messages ----------------------------------------------------------------------------

    async def on_message(self, msg: InboundMessage) -> None:
        with log_context(thread_id=msg.conversation.thread_id):
            try:
                await self._on_message(msg)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                # Not a word of it reached the ledger: say so rather than drop it in silence.
                log.warning("message on thread %s not handled: database unavailable (%s)",
                            msg.conversation.thread_id, type(exc).__name__)
                await self.outbox.say(msg.conversation, UNAVAILABLE)

    async def _on_message(self, msg: InboundMessage) -> None:
        if msg.event_id and not await self.ledger.first_time(msg.event_id):
            log.info("duplicate event %s ignored", msg.event_id)
            return
        text = msg.text.strip()
        if not text:
            return
        await self.ledger.save_thread(msg.conversation, msg.actor)
        await self.runs.run_input(msg.conversation, msg.actor, text, author=msg.actor.display)

    # -- cards -------------------------------------------------------------------------------

    def card(self, approval: Approval) -> ApprovalCard:
        return self.outbox.card(approval)

    async def pending_cards(self, thread_id: str | None = None) -> list[ApprovalCard]:
        return [self.card(a) for a in await self.ledger.approvals(status=[Status.PENDING], thread_id=thread_id)]

    # -- decisions ---------------------------------------------------------------------------

    async def on_decision(self, click: DecisionClick) -> DecisionResult:
        """Validate and claim at once (fast: a click must be answered within seconds); the
        execution and the resume continue in the background. With the database down nothing
        is claimed and the clicker is told to try again."""
        with log_context(approval_id=click.approval_id):
            try:
                return await self._on_decision(click)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                log.warning("decision on %s not recorded: database unavailable (%s)",
                            click.approval_id, type(exc).__name__)
                return DecisionResult(Outcome.UNAVAILABLE, UNAVAILABLE)

    async def edit_form(self, click: DecisionClick) -> DecisionResult:
        """Before an edit form opens: may this clicker edit this card, from where they clicked?
        The same checks as a decision (place, then who may edit); ACCEPTED carries the card."""
        return await self.on_decision(replace(click, decision=Decision.EDIT, args=None))

    async def reply_form(self, click: DecisionClick) -> DecisionResult:
        """Before a reply form opens: would this clicker's answer count, from where they
        clicked? The checks of the answer itself, its text aside; ACCEPTED carries the card."""
        try:
            found = await self._from_here(replace(click, decision=Decision.RESPOND))
        except Exception as exc:
            if not is_outage(exc):
                raise
            return DecisionResult(Outcome.UNAVAILABLE, UNAVAILABLE)
        if isinstance(found, DecisionResult):
            return found
        approval, groups = found
        verdict = policy.may_reply(approval, click.actor, now=self.clock(), groups=groups)
        if verdict.outcome in (Outcome.ACCEPTED, Outcome.STEP_UP):
            return DecisionResult(Outcome.ACCEPTED, "", self.card(approval))
        return DecisionResult(verdict.outcome, verdict.message, self.card(approval))

    async def _from_here(self, click: DecisionClick) -> tuple[Approval, frozenset[str]] | DecisionResult:
        """The approval a click names and the clicker's groups, or the refusal of a click that
        names none or comes from a place where its card is not."""
        if not APPROVAL_ID.match(click.approval_id or ""):
            return DecisionResult(Outcome.INVALID, "That is not a valid approval id.")
        approval = await self.ledger.get(click.approval_id)
        if approval is None:
            return DecisionResult(Outcome.NOT_FOUND, "No such approval.")
        if not policy.counts_here(approval, click):
            await self.ledger.audit(AuditEvent.REFUSED, approval, actor=click.actor, detail={
                "decision": click.decision.value, "place": click.place.to_json() if click.place else None})
            log.warning("refused a %s on %s from a place where its card is not", click.decision.value, approval.id)
            return DecisionResult(Outcome.NOT_ALLOWED, ELSEWHERE)
        return approval, await self.groups.of(click.actor, approval)

    async def _on_decision(self, click: DecisionClick) -> DecisionResult:
        if click.decision is Decision.RESPOND:
            # The answer becomes the tool's result: it reaches the model, the cards and the audit.
            click = replace(click, reason=self.redact(click.reason))
        found = await self._from_here(click)
        if isinstance(found, DecisionResult):
            return found
        approval, groups = found
        if click.decision is Decision.EDIT:  # an edit, or (without args) a request for its form
            return await self.edits.apply(approval, click, groups)
        return await self._claim(approval, click, groups)

    async def _claim(self, approval: Approval, click: DecisionClick, groups: frozenset[str]) -> DecisionResult:
        """Evaluate and compare-and-set; a lost race re-reads the row and evaluates again, so
        the loser is told who won; a decision on a revision an edit replaced is refused."""
        seen = click.revision if click.revision is not None else approval.revision
        for _ in range(MAX_CLAIM_ATTEMPTS):
            if approval.revision != seen:
                return stale(approval, self.outbox)
            verdict = policy.evaluate(approval, click.actor, click.decision, now=self.clock(),
                                      reason=click.reason, groups=groups, step_up=click.step_up)
            if verdict.outcome is Outcome.STEP_UP:
                return await self.step_ups.offer(approval, click)
            if verdict.outcome is Outcome.EXPIRED:
                self.background.spawn(self.expire(approval))
            if verdict.outcome is not Outcome.ACCEPTED or verdict.status is None:
                return DecisionResult(verdict.outcome, verdict.message, self.card(approval))
            after = await self.ledger.decide(approval, verdict.status, verdict.decisions, result=verdict.result)
            if after is not None:
                self.background.spawn(self._after_decision(after))
                return DecisionResult(Outcome.ACCEPTED, verdict.message, self.card(after))
            approval = await self.ledger.get(approval.id) or approval
        return DecisionResult(Outcome.ALREADY_DECIDED, "Too many concurrent decisions; try again.")

    async def _after_decision(self, approval: Approval) -> None:
        await self.router.refresh_lists(approval)  # App Home lists that show it
        if approval.status is Status.APPROVED and approval.executes_here:
            await self.outbox.update_cards(approval)
            await self._execute(approval)
        elif approval.has_outcome:
            await self._conclude(approval)
        else:
            await self.outbox.update_cards(approval)  # quorum progress, or waiting for a worker

    async def _conclude(self, approval: Approval) -> None:
        """An outcome is known: show it on every copy, then hand it to the run."""
        await self.outbox.update_cards(approval)
        await self.runs.resume(approval)

    async def _execute(self, approval: Approval) -> None:
        with log_context(thread_id=approval.thread_id, approval_id=approval.id):
            await self._run_call(approval)

    async def _run_call(self, approval: Approval) -> None:
        running = await self.executions.claim(approval.id)
        if running is None:
            return
        progress = await self.outbox.say(running.conversation, f"Running {running.tool}…")
        finished = await self.executions.run(running)
        if finished is None:
            return
        done = finished.approval
        verb = "finished" if done.status is Status.DONE else "failed"
        line = f"{done.tool} {verb}: {done.result or ''}"
        if finished.late:
            await self.outbox.update_cards(done)
            await self.outbox.say(done.conversation, f"Late result for {done.tool} ({done.id}), which was reported "
                                               f"as outcome unknown: {line}")
            return
        if progress is not None:
            await self.outbox.replace_text(done.conversation, progress, line)
        await self._conclude(done)

    async def expire(self, approval: Approval) -> None:
        verdict = policy.expire(approval, now=self.clock())
        if verdict.status is None:
            return
        after = await self.ledger.decide(approval, verdict.status, verdict.decisions)
        if after is not None:
            await self._conclude(after)

    async def submit_result(self, approval_id: str, *, content: str, ok: bool, actor: Actor) -> Approval | None:
        """An external worker's result: approved → done | failed once, then resume."""
        done = await self.ledger.finish(approval_id, ok=ok, result=self.redact(content),
                                        from_status=Status.APPROVED, actor=actor)
        if done is not None:
            self.background.spawn(self._conclude(done))
        return done

    # -- recovery ----------------------------------------------------------------------------

    async def sweep(self, started: float | None = None) -> int:
        """One pass over what needs attention; safe on every replica (each step is a
        compare-and-set), though the server lets only one replica sweep at a time.
        `started`: when the pass began waiting for the database (the leader lock)."""
        started = time.monotonic() if started is None else started
        try:
            due = await self.ledger.due(self.clock())
        except Exception:
            self.executions.saw_database(False)
            raise
        self.executions.saw_database(True, took=time.monotonic() - started)
        for approval in due.expired:
            await self.expire(approval)
        for approval in due.lost:
            # The runner stopped renewing: tell humans and the model rather than run it again.
            lost = await self.executions.declare_lost(approval)
            if lost is not None:
                await self._conclude(lost)
        for approval in due.stranded:
            await self._execute(approval)  # approved but never started: safe to start once
        for approval in due.unresumed:
            await self.runs.resume(approval)
        for thread_id in await self.queue.threads():
            await self.runs.drain(thread_id)  # a message queued behind cards a crash left decided
        return len(due) + await self.outbox.redeliver(self.clock()) + await self.reminders.sweep(self.clock())

    async def run_sweeper(self, interval: float, stop: asyncio.Event) -> None:
        """Sweep every `interval` seconds. While the database is down, each failed pass is one
        line (no traceback: the cause is known) and the next waits twice as long, up to a
        minute, so an outage is a handful of lines and no load on a database coming back."""
        failures = 0
        while not stop.is_set():
            try:
                started = time.monotonic()
                async with self.locks.try_hold("clearance:sweeper") as leader:
                    if leader:
                        await self.sweep(started)
                failures = 0
            except Exception as exc:
                self.executions.saw_database(False)
                if not is_outage(exc):
                    log.exception("sweep failed")
                else:
                    failures += 1
                    log.warning("sweep failed: database unavailable (%s); next try in %gs", type(exc).__name__,
                                _backoff(interval, failures))
            try:
                await asyncio.wait_for(stop.wait(), timeout=_backoff(interval, failures))
            except asyncio.TimeoutError:
                pass


def _backoff(interval: float, failures: int) -> float:
    return interval if not failures else max(interval, min(interval * 2**failures, 60.0))
