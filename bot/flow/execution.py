"""Running an approved call exactly once: approved → executing → done | failed.

The winner of the `approved → executing` compare-and-set runs the call, outside the thread
lock so a long deploy never blocks the thread's other cards, and keeps a lease on it while
it runs. A lease that lapses means the runner died: the sweeper reports "outcome unknown"
instead of running the call again. Renewal outlives a database outage (it retries with
backoff), and a runner that comes back to find its call declared unknown still records the
real result, as a late result, because the truth is worth more than a tidy state machine.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Callable

from bot.approvals.models import Approval, Status
from bot.flow.retry import with_backoff
from bot.ledger.ledger import Ledger
from graph.executors import execute
from graph.tools import Registry

log = logging.getLogger("clearance.execution")
SLOW_QUERY = 1.0  # seconds: a healthy database answers the sweeper's query in milliseconds
OUTCOME_UNKNOWN = ("Outcome unknown: the process running this call stopped before it reported a result. "
                   "Check the system before retrying.")


@dataclass(frozen=True)
class Finished:
    approval: Approval
    late: bool = False  # the call had already been declared "outcome unknown"


class Executions:
    def __init__(self, ledger: Ledger, registry: Registry, *, lease: float,
                 redact: Callable[[str], str], clock: Callable[[], float] = time.time) -> None:
        self.ledger = ledger
        self.registry = registry
        self.lease = lease
        self.redact = redact
        self.clock = clock
        self.connected_since = clock()  # since when this process has reached the database

    async def claim(self, approval_id: str) -> Approval | None:
        """approved → executing; None when someone else runs it (another replica, recovery)."""
        return await self.ledger.start_execution(approval_id, self.lease)

    async def run(self, running: Approval) -> Finished | None:
        spec = self.registry.get(running.tool)
        renew = asyncio.ensure_future(self._keep_lease(running.id))
        detail: dict[str, object]
        try:
            if spec is None:
                ok, content, detail = False, f"tool {running.tool!r} is no longer configured", {}
            else:
                result = await execute(spec, running.args, idempotency_key=running.id,
                                       approved_by=[a.qualified for a in running.approvers])
                ok, content = result.ok, result.content
                detail = {"exit_code": result.exit_code, "seconds": round(result.seconds, 3)}
        finally:
            renew.cancel()
        content = self.redact(content)
        done = await self._record(running.id, ok=ok, content=content, detail=detail)
        if done is not None:
            return Finished(done)
        late = await self.ledger.late_result(running.id, ok=ok, result=content, detail=detail)
        if late is None:
            log.error("execution of %s finished but its row changed meanwhile", running.id)
            return None
        log.warning("execution of %s finished after it was declared outcome unknown", running.id)
        return Finished(late, late=True)

    async def _record(self, approval_id: str, *, ok: bool, content: str, detail: dict[str, object]) -> Approval | None:
        """Write the result, retrying through a database outage: losing it would turn a
        finished call into "outcome unknown"."""
        return await with_backoff(
            lambda: self.ledger.finish(approval_id, ok=ok, result=content, detail=detail),
            what=f"recording the result of {approval_id}", log=log, cap=10.0,
            deadline=self.clock() + 10 * self.lease, clock=self.clock)

    async def _keep_lease(self, approval_id: str) -> None:
        """Renew every third of the lease; on failure retry sooner, never give up while the
        call runs (the sweeper will not declare it lost while it can see renewals)."""
        while True:
            await asyncio.sleep(self.lease / 3)
            await with_backoff(lambda: self.ledger.renew_lease(approval_id, self.lease),
                               what=f"renewing the lease of {approval_id}", log=log, cap=self.lease / 3)

    def saw_database(self, ok: bool, *, took: float = 0.0) -> None:
        """The sweeper's connectivity record: an outage restarts the clock. A query that
        failed is an outage, and so is one that waited seconds for a connection (the pool
        waits out a restart instead of failing)."""
        now = self.clock()
        if not ok:
            self.connected_since = float("inf")
        elif self.connected_since == float("inf") or took > SLOW_QUERY:
            self.connected_since = now

    async def declare_lost(self, approval: Approval) -> Approval | None:
        """executing with a lapsed lease → failed "outcome unknown", but only once this
        process has itself been connected for a whole lease: after an outage every live
        runner must first get its chance to renew."""
        if self.clock() - self.connected_since < self.lease:
            return None
        return await self.ledger.finish(approval.id, ok=False, result=OUTCOME_UNKNOWN, unknown=True,
                                        detail={"outcome_unknown": True}, from_status=Status.EXECUTING)
