"""Prometheus metrics for `GET /metrics`, fed by the ledger's audit events.

The ledger is the one place every path (click, API, sweeper, worker) goes through, so
listening to its audit rows counts each request, decision and execution exactly once.
Each app gets its own registry: several apps in one process (tests, replicas in one
interpreter) never clash over the global default registry.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.approvals.models import Approval, AuditEvent, Status
from bot.ledger.database import Database
from bot.ledger.ledger import Ledger

log = logging.getLogger("clearance.metrics")
# Humans decide in seconds to hours: buckets from 1 s to a day.
LATENCY_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
FINAL = {Status.APPROVED, Status.REJECTED, Status.EXPIRED}
DECISIONS = {AuditEvent.APPROVE, AuditEvent.REJECT, AuditEvent.EXPIRE}


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requested = Counter(
            "clearance_approvals_requested", "Approval cards requested", ["tool"], registry=self.registry)
        self.decided = Counter(
            "clearance_approvals_decided", "Approvals decided, by final outcome",
            ["tool", "outcome"], registry=self.registry)
        self.executions = Counter(
            "clearance_executions", "Approved calls finished, by status (done or failed)",
            ["tool", "status"], registry=self.registry)
        self.latency = Histogram(
            "clearance_decision_latency_seconds", "Time from request to final decision",
            ["tool"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.pending = Gauge(
            "clearance_approvals_pending", "Approvals waiting for a decision", registry=self.registry)

    def observe(self, event: AuditEvent, approval: Approval | None, detail: dict[str, Any]) -> None:
        if approval is None:
            return
        tool = approval.tool
        if event is AuditEvent.REQUESTED:
            self.requested.labels(tool).inc()
        elif event in DECISIONS and detail.get("status") in FINAL:
            # A partial quorum approval keeps the status pending: not a decision yet.
            self.decided.labels(tool, detail["status"]).inc()
            self.latency.labels(tool).observe(max(0.0, approval.updated_at - approval.created_at))
        elif event in (AuditEvent.DONE, AuditEvent.FAILED):
            self.executions.labels(tool, event.value).inc()

    def attach(self, ledger: Ledger) -> None:
        ledger.listeners.append(self.observe)

    async def render(self, db: Database) -> bytes:
        try:
            rows = await db.fetch("SELECT COUNT(*) AS n FROM clearance_approvals WHERE status = 'pending'")
            self.pending.set(int(rows[0]["n"]) if rows else 0)
        except Exception as exc:  # counters are still worth serving if the database blinks
            log.warning("pending gauge not refreshed: %s", type(exc).__name__)
        return generate_latest(self.registry)


METRICS = web.AppKey("metrics", Metrics)


def add_metrics_route(app: web.Application, ledger: Ledger, db: Database) -> Metrics:
    """`GET /metrics` (Prometheus text, no token: scrapers hold none) on the server's own app."""
    metrics = Metrics()
    metrics.attach(ledger)
    app[METRICS] = metrics

    async def handler(request: web.Request) -> web.Response:
        body = await metrics.render(db)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", handler)
    return metrics
