"""Approvals HTTP API (DESIGN section 8) and `GET /metrics`.

For dashboards, policy engines and external workers. A decision here goes through exactly
the same path as a click (`Service.on_decision`: rules, expiry, atomic claim), with the
actor `api:<name>`, so the API can never do what a person on the card could not.
"""

from __future__ import annotations

import hmac
import logging
import re
from typing import Any, Awaitable, Callable

from aiohttp import web

from adapters.base import Actor, Decision, DecisionClick, Outcome
from bot.metrics import Metrics, add_metrics_route
from bot.models import APPROVAL_ID, Approval, Status
from bot.runtime import Runtime
from graph.executors import truncate

log = logging.getLogger("clearance.api")
METRICS = web.AppKey("metrics", Metrics)
API_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
MAX_REASON = 500
MAX_LIST = 500
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_STATUS_CODE = {
    Outcome.NOT_ALLOWED: 403,
    Outcome.ALREADY_DECIDED: 409,
    Outcome.EXPIRED: 409,  # expired is decided too: nobody can approve it any more
    Outcome.NOT_FOUND: 404,
    Outcome.INVALID: 404,  # a malformed id is just an id we do not know
}


def add_api_routes(app: web.Application, runtime: Runtime) -> None:
    """Mount /metrics always, and /api/approvals… only when CLEARANCE_API_TOKEN is set
    (without a token the routes do not exist: 404, never an open API)."""
    app[METRICS] = add_metrics_route(app, runtime.ledger, runtime.db)
    token = runtime.settings.api_token
    if token is None:
        return
    api = ApprovalsApi(runtime, token.get_secret_value())
    guard = api.authenticated
    app.router.add_get("/api/approvals", guard(api.list))
    app.router.add_get("/api/approvals/{id}", guard(api.get))
    app.router.add_post("/api/approvals/{id}/decision", guard(api.decide))
    app.router.add_post("/api/approvals/{id}/result", guard(api.result))


def error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


class Refusal(Exception):
    """Raised by a handler's checks; the guard turns it into its JSON error response."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.response = error(status, message)


def api_actor(value: Any) -> Actor:
    if not isinstance(value, str) or not API_NAME.match(value):
        raise Refusal(400, "by must be a name of 1-64 letters, digits or ._@-")
    return Actor(platform="api", id=value, name=value)


class ApprovalsApi:
    def __init__(self, runtime: Runtime, token: str) -> None:
        self.runtime = runtime
        self._token = token.encode()

    def authenticated(self, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            # compare_digest: the time taken must not tell how much of a guess was right.
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self._token):
                log.warning("approvals API: refused %s %s (bad or missing token)", request.method, request.path)
                return web.json_response({"error": "unauthorized"}, status=401,
                                         headers={"WWW-Authenticate": 'Bearer realm="clearance"'})
            try:
                return await handler(request)
            except Refusal as refusal:
                return refusal.response

        return guarded

    async def _approval(self, request: web.Request) -> Approval:
        approval_id = request.match_info["id"]
        found = await self.runtime.ledger.get(approval_id) if APPROVAL_ID.match(approval_id) else None
        if found is None:
            raise Refusal(404, "no such approval")
        return found

    async def _approval_and_body(self, request: web.Request) -> tuple[Approval, dict[str, Any]]:
        """The approval (else 404) and the body as a JSON object (else 400)."""
        approval = await self._approval(request)
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise Refusal(400, "body must be a JSON object")
        return approval, body

    async def list(self, request: web.Request) -> web.Response:
        statuses = [s for s in request.query.get("status", "").split(",") if s]
        known = {s.value for s in Status}
        unknown = [s for s in statuses if s not in known]
        if unknown:
            return error(400, f"unknown status {unknown[0]!r}; use one of {', '.join(sorted(known))}")
        try:
            limit = int(request.query.get("limit", MAX_LIST))
        except ValueError:
            return error(400, "limit must be an integer")
        if not 1 <= limit <= MAX_LIST:
            return error(400, f"limit must be between 1 and {MAX_LIST}")
        approvals = await self.runtime.ledger.approvals(
            status=statuses, thread_id=request.query.get("thread_id") or None, limit=limit)
        return web.json_response({"approvals": [a.to_public() for a in approvals]})

    async def get(self, request: web.Request) -> web.Response:
        return web.json_response((await self._approval(request)).to_public())

    async def decide(self, request: web.Request) -> web.Response:
        approval, body = await self._approval_and_body(request)
        try:
            decision = Decision(body.get("decision"))
        except ValueError:
            return error(400, 'decision must be "approve" or "reject"')
        actor, reason = api_actor(body.get("by")), body.get("reason", "")
        if not isinstance(reason, str) or len(reason) > MAX_REASON:
            return error(400, f"reason must be a string of at most {MAX_REASON} characters")
        verdict = await self.runtime.service.on_decision(
            DecisionClick(approval.id, decision, actor, reason=reason))
        current = await self.runtime.ledger.get(approval.id) or approval
        if verdict.outcome is Outcome.ACCEPTED:
            return web.json_response(current.to_public())
        # The loser of a race is told who won, like on the card.
        return error(_STATUS_CODE.get(verdict.outcome, 409), verdict.message, approval=current.to_public())

    async def result(self, request: web.Request) -> web.Response:
        approval, body = await self._approval_and_body(request)
        content, status, worker = body.get("content"), body.get("status", "ok"), api_actor(body.get("by", "worker"))
        if not isinstance(content, str):
            return error(400, "content must be a string")
        if status not in ("ok", "error"):
            return error(400, 'status must be "ok" or "error"')
        if not approval.external:
            # Clearance runs this tool itself: a posted result would skip or race that run.
            return error(409, f"{approval.tool} is not an external tool; Clearance runs it itself")
        if approval.status is not Status.APPROVED:
            why = "not approved yet" if approval.status is Status.PENDING else f"already {approval.status.value}"
            return error(409, f"cannot accept a result: the approval is {why}", approval=approval.to_public())
        spec = self.runtime.registry.get(approval.tool)
        content = truncate(content, spec.run.max_output if spec else 4000)
        done = await self.runtime.service.submit_result(
            approval.id, content=content, ok=status == "ok", actor=worker)
        if done is None:  # another result won the compare-and-set in between
            current = await self.runtime.ledger.get(approval.id) or approval
            return error(409, f"cannot accept a result: the approval is already {current.status.value}",
                         approval=current.to_public())
        return web.json_response(done.to_public())
