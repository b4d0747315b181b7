"""The flow of DESIGN section 1: messages start runs, decisions resume them.

Guarantees kept here:
- every run or resume of a thread holds the per-thread lock;
- a decision is validated against the ledger and claimed atomically before any resume;
- cards are posted after the run returns, keyed by interrupt id (a re-run posts nothing);
- an approved call executes at most once (approved → executing → done | failed), outside
  the thread lock, with the approval id as idempotency key;
- a run that stalls (no interrupt, unfinished tasks) is continued.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable

from langchain_core.messages import HumanMessage
from langgraph.types import Command

from adapters.base import (
    Actor, ApprovalCard, ChatAdapter, Conversation, DecisionClick, DecisionResult,
    InboundMessage, MessageRef, Outcome,
)
from bot import policy
from bot.cards import card_for
from bot.ledger import Ledger
from bot.locks import ThreadLocks
from bot.replies import answers, failure_text, safe_name, waiting_text, waiting_tools
from bot.models import APPROVAL_ID, Approval, Status, new_approval_id
from graph.executors import execute
from graph.tools import Registry

log = logging.getLogger("clearance.service")
GroupResolver = Callable[[Actor, list[str]], Awaitable[frozenset[str]]]
MAX_CONTINUES = 3


class Service:
    def __init__(
        self,
        *,
        graph: Any,
        registry: Registry,
        ledger: Ledger,
        locks: ThreadLocks,
        adapters: dict[str, ChatAdapter] | None = None,
        execution_lease: float = 60.0,
        clock: Callable[[], float] = time.time,
        group_resolver: GroupResolver | None = None,
    ) -> None:
        self.graph = graph
        self.registry = registry
        self.ledger = ledger
        self.locks = locks
        self.adapters: dict[str, ChatAdapter] = dict(adapters or {})
        self.execution_lease = execution_lease
        self.clock = clock
        self.group_resolver = group_resolver
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- plumbing ----------------------------------------------------------------------------

    def add_adapter(self, adapter: ChatAdapter) -> None:
        self.adapters[adapter.platform] = adapter

    def spawn(self, coro: Awaitable[Any], name: str = "") -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait until every background decision, execution and resume has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _adapter(self, conv: Conversation) -> ChatAdapter | None:
        adapter = self.adapters.get(conv.platform)
        if adapter is None:
            log.warning("no adapter for platform %s; thread %s not updated", conv.platform, conv.thread_id)
        return adapter

    async def _say(self, conv: Conversation, text: str) -> None:
        adapter = self._adapter(conv)
        if adapter is None:
            return
        try:
            await adapter.post_text(conv, text)
        except Exception:
            log.exception("posting to %s failed", conv.thread_id)

    @staticmethod
    def _config(thread_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id}}

    # -- messages ----------------------------------------------------------------------------

    async def on_message(self, msg: InboundMessage) -> None:
        if msg.event_id and not await self.ledger.first_time(msg.event_id):
            log.info("duplicate event %s ignored", msg.event_id)
            return
        text = msg.text.strip()
        if not text:
            return
        conv = msg.conversation
        await self.ledger.save_thread(conv, msg.actor)
        human = HumanMessage(content=text[:8000], name=safe_name(msg.actor))
        await self._run(conv, msg.actor, {"messages": [human]})

    async def _run(self, conv: Conversation, requester: Actor, graph_input: Any,
                   resumed: Approval | None = None) -> None:
        """One run or resume under the thread lock, then cards and answers outside it."""
        cfg = self._config(conv.thread_id)
        new_cards: list[Approval] = []
        said: list[str] = []
        try:
            async with self.locks.hold(conv.thread_id):
                state = await self.graph.aget_state(cfg)
                if resumed is not None:
                    fresh = await self.ledger.get(resumed.id)
                    if fresh is None or fresh.resumed_at is not None:
                        return
                    pending = {i.id for t in state.tasks for i in t.interrupts}
                    if resumed.interrupt_id not in pending:
                        # Already resumed by someone else: resuming again would be a silent no-op.
                        await self.ledger.mark_resumed(resumed.id)
                        return
                waiting = waiting_tools(state)
                if resumed is None and waiting:
                    # New input while calls await approval would start a new step and drop
                    # those pending tasks: their cards could still be approved and executed,
                    # but the model would never see the result. Hold the message instead.
                    said = [waiting_text(waiting)]
                else:
                    before = {m.id for m in state.values.get("messages", [])}
                    await self.graph.ainvoke(graph_input, cfg)
                    state = await self._continue_stalled(cfg)
                    if resumed is not None:
                        await self.ledger.mark_resumed(resumed.id)
                        await self.ledger.audit("resumed", resumed)
                    new_cards = await self._record_interrupts(conv, requester, state)
                    said = answers(state.values.get("messages", []), before)
        except Exception as exc:
            log.exception("run failed on thread %s", conv.thread_id)
            await self._say(conv, failure_text(exc, resumed=resumed is not None))
            return
        for approval in new_cards:
            await self._post_card(approval)
        for text in said:
            await self._say(conv, text)

    async def _continue_stalled(self, cfg: dict[str, Any]) -> Any:
        state = await self.graph.aget_state(cfg)
        for _ in range(MAX_CONTINUES):
            interrupts = [i for t in state.tasks for i in t.interrupts]
            if not state.next or interrupts:
                break
            log.warning("run stalled with %s unfinished; continuing", state.next)
            await self.graph.ainvoke(None, cfg)
            state = await self.graph.aget_state(cfg)
        return state

    async def _record_interrupts(self, conv: Conversation, requester: Actor, state: Any) -> list[Approval]:
        new: list[Approval] = []
        now = self.clock()
        for task in state.tasks:
            for intr in task.interrupts:
                request = intr.value if isinstance(intr.value, dict) else {}
                if request.get("type") != "tool-call":
                    continue
                name = str(request.get("tool_call_name", ""))
                args = request.get("tool_call_args") or {}
                spec = self.registry.get(name)
                rule = spec.rule_for(args) if spec else None
                snapshot: dict[str, Any] = rule.model_dump(mode="json") if rule else {}
                snapshot["text"] = rule.describe() if rule else "approval required"
                approval = Approval(
                    id=new_approval_id(),
                    thread_id=conv.thread_id,
                    interrupt_id=intr.id,
                    tool_call_id=str(request.get("tool_call_id", "")),
                    tool=name,
                    args=args,
                    requester=requester,
                    rule=snapshot,
                    conversation=conv,
                    created_at=now,
                    expires_at=now + rule.expires_after if rule and rule.expires_after else None,
                    external=bool(spec and spec.run.kind == "external"),
                )
                stored = await self.ledger.record(approval)
                if stored is not None:
                    new.append(stored)
        return new

    async def _post_card(self, approval: Approval) -> None:
        adapter = self._adapter(approval.conversation)
        if adapter is None:
            return
        try:
            ref = await adapter.post_card(approval.conversation, self.card(approval))
            await self.ledger.set_card(approval.id, ref.platform, dict(ref.data))
        except Exception:
            log.exception("posting the card of %s failed", approval.id)

    async def _update_card(self, approval: Approval) -> None:
        adapter = self._adapter(approval.conversation)
        ref_data = approval.cards.get(approval.conversation.platform)
        if adapter is None or ref_data is None:
            return
        try:
            await adapter.update_card(
                approval.conversation, MessageRef(approval.conversation.platform, ref_data), self.card(approval)
            )
        except Exception:
            log.exception("updating the card of %s failed", approval.id)

    def card(self, approval: Approval) -> ApprovalCard:
        spec = self.registry.get(approval.tool)
        return card_for(approval, description=spec.description if spec else "")

    async def pending_cards(self, thread_id: str | None = None) -> list[ApprovalCard]:
        return [self.card(a) for a in await self.ledger.approvals(status=["pending"], thread_id=thread_id)]

    # -- decisions ---------------------------------------------------------------------------

    async def on_decision(self, click: DecisionClick) -> DecisionResult:
        """Validate and claim at once (fast: a click must be answered within seconds); the
        execution and the resume continue in the background."""
        if not APPROVAL_ID.match(click.approval_id or ""):
            return DecisionResult(Outcome.INVALID, "That is not a valid approval id.")
        approval = await self.ledger.get(click.approval_id)
        if approval is None:
            return DecisionResult(Outcome.NOT_FOUND, "No such approval.")
        groups = frozenset()
        approvers = [a for a in approval.rule.get("approvers") or [] if ":group:" in a]
        if approvers and self.group_resolver is not None:
            groups = await self.group_resolver(click.actor, approvers)
        for _ in range(10):
            verdict = policy.evaluate(approval, click.actor, click.decision, now=self.clock(),
                                      reason=click.reason, groups=groups)
            if verdict.outcome is Outcome.EXPIRED:
                self.spawn(self.expire(approval))
            if verdict.outcome is not Outcome.ACCEPTED or verdict.status is None:
                return DecisionResult(verdict.outcome, verdict.message, self.card(approval))
            after = await self.ledger.decide(approval, verdict.status, verdict.decisions)
            if after is not None:
                break
            approval = await self.ledger.get(click.approval_id) or approval  # lost a race: re-check
        else:
            return DecisionResult(Outcome.ALREADY_DECIDED, "Too many concurrent decisions; try again.")
        self.spawn(self._after_decision(after))
        return DecisionResult(Outcome.ACCEPTED, verdict.message, self.card(after))

    async def _after_decision(self, approval: Approval) -> None:
        await self._update_card(approval)
        if approval.status is Status.APPROVED and not approval.external:
            await self._execute(approval)
        elif approval.status.has_outcome:
            await self._resume(approval)

    async def _execute(self, approval: Approval) -> None:
        running = await self.ledger.start_execution(approval.id, self.execution_lease)
        if running is None:
            return  # someone else runs it (another replica, or recovery)
        spec = self.registry.get(running.tool)
        conv = running.conversation
        adapter = self._adapter(conv)
        progress = None
        if adapter is not None:
            try:
                progress = await adapter.post_text(conv, f"Running {running.tool}…")
            except Exception:
                log.exception("progress message failed")
        renew = self.spawn(self._keep_lease(running.id))
        try:
            detail: dict[str, Any] = {}  # the exit status (exit code or HTTP status) for the audit
            if spec is None:
                ok, content = False, f"tool {running.tool!r} is no longer configured"
            else:
                result = await execute(spec, running.args, idempotency_key=running.id,
                                       approved_by=[a.qualified for a in running.approvers])
                ok, content = result.ok, result.content
                detail = {"exit_code": result.exit_code, "seconds": round(result.seconds, 3)}
        finally:
            renew.cancel()
        done = await self.ledger.finish(running.id, ok=ok, result=content, detail=detail)
        if done is None:
            log.error("execution of %s finished but its row changed meanwhile", running.id)
            return
        if adapter is not None and progress is not None:
            try:
                verb = "finished" if ok else "failed"
                await adapter.update_text(conv, progress, f"{running.tool} {verb}: {content}")
            except Exception:
                log.exception("progress update failed")
        await self._update_card(done)
        await self._resume(done)

    async def _keep_lease(self, approval_id: str) -> None:
        while True:
            await asyncio.sleep(self.execution_lease / 3)
            await self.ledger.renew_lease(approval_id, self.execution_lease)

    async def _resume(self, approval: Approval) -> None:
        found = await self.ledger.thread(approval.thread_id)
        requester = found[1] if found else approval.requester
        command = Command(resume={approval.interrupt_id: approval.resume_value()})
        await self._run(approval.conversation, requester, command, resumed=approval)

    async def expire(self, approval: Approval) -> None:
        verdict = policy.expire(approval, now=self.clock())
        if verdict.status is None:
            return
        after = await self.ledger.decide(approval, verdict.status, verdict.decisions)
        if after is not None:
            await self._update_card(after)
            await self._resume(after)

    async def submit_result(self, approval_id: str, *, content: str, ok: bool, actor: Actor) -> Approval | None:
        """An external worker's result: approved → done | failed once, then resume."""
        done = await self.ledger.finish(approval_id, ok=ok, result=content, from_status="approved",
                                        actor=actor)
        if done is not None:
            self.spawn(self._finish_external(done))
        return done

    async def _finish_external(self, approval: Approval) -> None:
        await self._update_card(approval)
        await self._resume(approval)

    # -- recovery ----------------------------------------------------------------------------

    async def sweep(self) -> int:
        """One pass over what needs attention; safe to run on every replica (each step is a
        compare-and-set), though the server lets only one replica sweep at a time."""
        due = await self.ledger.due(self.clock())
        for approval in due["expired"]:
            await self.expire(approval)
        for approval in due["lost"]:
            # The process that ran it died mid-execution: the outcome is unknown, so tell
            # humans and the model rather than run it again.
            lost = await self.ledger.finish(
                approval.id, ok=False,
                result="Outcome unknown: the process running this call stopped before it reported "
                       "a result. Check the system before retrying.",
                detail={"outcome_unknown": True},
            )
            if lost is not None:
                await self._update_card(lost)
                await self._resume(lost)
        for approval in due["stranded"]:
            await self._execute(approval)  # approved but never started: safe to start once
        for approval in due["unresumed"]:
            await self._resume(approval)
        return sum(len(v) for v in due.values())

    async def run_sweeper(self, interval: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with self.locks.try_hold("clearance:sweeper") as leader:
                    if leader:
                        await self.sweep()
            except Exception:
                log.exception("sweep failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except asyncio.TimeoutError:
                pass
