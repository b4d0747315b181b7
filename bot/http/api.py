"""Approvals HTTP API, for dashboards, policy engines and external workers.

A decision here goes through exactly the same path as a click (`Service.on_decision`: rules,
expiry, atomic claim), with the actor `api:<name>`, so the API can never do what a person on
the card could not. The routes are one aiohttp sub-app mounted at /api/approvals whose bearer
check is that sub-app's middleware: authenticated once for the whole group, so no route can
forget it. Without any token configured the sub-app is not mounted at all (404, never an open
API). Handlers raise `HttpError`; the server's error middleware writes the JSON answer.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, TypeVar

from aiohttp import web
from aiohttp.typedefs import Middleware
from pydantic import BaseModel, ValidationError

from adapters.base import Actor, Decision, DecisionClick, Outcome
from bot.approvals.ids import SHARED_TOKEN_VIA, actor_of
from bot.approvals.models import APPROVAL_ID, Approval, Status
from bot.config import Settings
from bot.errors import HttpError
from bot.http.api_schema import (
    ApprovalOut,
    DecisionBody,
    Error,
    ListQuery,
    Page,
    ResultBody,
    Route,
    first_problem,
    openapi_document,
)
from bot.runtime import Runtime
from graph.executors import truncate

log = logging.getLogger("clearance.api")
PREFIX = "/api/approvals"
OPENAPI_PATH = "/api/openapi.json"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)
_STATUS_CODE = {
    Outcome.NOT_ALLOWED: 403,
    Outcome.ALREADY_DECIDED: 409,
    Outcome.EXPIRED: 409,  # expired is decided too: nobody can approve it any more
    Outcome.NOT_FOUND: 404,
    Outcome.INVALID: 404,  # a malformed id is just an id we do not know
    Outcome.UNAVAILABLE: 503,  # the database is down: nothing was recorded
}


@dataclass(frozen=True)
class ApiClient:
    """Who a bearer token speaks for: one named identity, or (name None) the shared token
    whose callers name themselves with `by` — never with a name a named token owns, or the
    shared token could approve as that identity (and fill a quorum beside it)."""

    name: str | None
    owned: frozenset[str] = frozenset()  # the names of the named tokens

    def actor(self, by: str | None, *, default: str | None = None) -> Actor:
        if self.name is None:
            name = by or default
            if name is None:
                raise HttpError(400, "by: required with this token (the name to act under)")
            if name in self.owned:
                raise HttpError(403, f"by: {name} is the identity of its own token (CLEARANCE_API_TOKENS); "
                                     "this token cannot act as it")
            return Actor(platform="api", id=name, name=name, via=SHARED_TOKEN_VIA)
        if by is not None and by != self.name:
            raise HttpError(403, f"this token is api:{self.name}; by must be {self.name} or left out")
        return Actor(platform="api", id=self.name, name=self.name, via=f"token:{self.name}")


API_CLIENT = web.RequestKey("api_client", ApiClient)
APPROVALS_API = web.AppKey("approvals_api", web.Application)


def credentials(settings: Settings) -> list[tuple[bytes, ApiClient]]:
    found = [(token.get_secret_value().encode(), ApiClient(name)) for name, token in settings.api_tokens.items()]
    if settings.api_token is not None:
        found.append((settings.api_token.get_secret_value().encode(), ApiClient(None, frozenset(settings.api_tokens))))
    return found


def bearer_auth(known: list[tuple[bytes, ApiClient]]) -> Middleware:
    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        presented = given.strip().encode("utf-8", "surrogateescape")
        client = None
        for token, who in known:
            # compare_digest against every token, no early exit: the time taken tells neither
            # how much of a guess was right nor which token it came close to.
            if hmac.compare_digest(presented, token):
                client = who
        if scheme.lower() != "bearer" or client is None:
            log.warning("approvals API: refused %s %s (bad or missing token)", request.method, request.path)
            raise HttpError(401, "unauthorized", headers={"WWW-Authenticate": 'Bearer realm="clearance"'})
        request[API_CLIENT] = client
        return await handler(request)

    return authenticate


ROUTES = (
    Route("GET", "", "list_approvals", "List approvals, oldest first, one page at a time", Page, (400,),
          query=ListQuery),
    Route("GET", "/{id}", "get_approval", "One approval", ApprovalOut, (404,)),
    Route("POST", "/{id}/decision", "decide", "Approve, reject or edit, under the same rules as a click",
          ApprovalOut, (400, 403, 404, 409), body=DecisionBody),
    Route("POST", "/{id}/result", "post_result", "Post the result of an approved external tool call",
          ApprovalOut, (400, 403, 404, 409), body=ResultBody),
)


def mount_api(app: web.Application, runtime: Runtime) -> None:
    """Mount the approvals sub-app and its OpenAPI document, if any token is configured."""
    known = credentials(runtime.settings)
    if not known:
        return
    api = ApprovalsApi(runtime)
    sub = web.Application(middlewares=[bearer_auth(known)])
    for route in ROUTES:
        sub.router.add_route(route.method, route.path, getattr(api, route.handler))
    app.add_subapp(PREFIX, sub)
    app[APPROVALS_API] = sub


def mount_openapi(app: web.Application, *groups: tuple[tuple[Route, ...], str]) -> None:
    """`GET /api/openapi.json`: the document of these route groups, outside the token check
    (describing the API needs no token), built on its first request (most processes are
    never asked)."""
    @functools.cache
    def document() -> dict[str, Any]:
        return openapi_document(*groups[0], *groups[1:])

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(document())

    app.router.add_get(OPENAPI_PATH, openapi)


def answer(model: BaseModel) -> web.Response:
    return web.json_response(model.model_dump(mode="json"))


def refused(status: int, message: str, approval: Approval) -> HttpError:
    """A refused decision or result; the loser of a race is told who won, like on the card."""
    error = Error(error=message, approval=ApprovalOut.of(approval))
    return HttpError(status, error.error, approval=error.model_dump(mode="json")["approval"])


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise HttpError(400, f"duplicate key {key!r}: a body says each thing once")
        found[key] = value
    return found


def parsed(model: type[M], data: Any, *, json_text: bytes | None = None) -> M:
    """A request body (or query) as `model`. A body with a key given twice is refused, not
    read as its last value (`{"decision": "reject", "decision": "approve"}` approves nothing);
    then the same strict JSON validation as always."""
    try:
        if json_text is None:
            return model.model_validate(data)
        try:
            json.loads(json_text, object_pairs_hook=_no_duplicates)
        except ValueError:
            pass  # not JSON at all: the validation below says so
        return model.model_validate_json(json_text)
    except ValidationError as exc:
        raise HttpError(400, first_problem(exc)) from None


def encode_cursor(last: Approval) -> str:
    raw = json.dumps([last.created_at, last.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        created_at, approval_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(created_at, (int, float)) and isinstance(approval_id, str):
            return float(created_at), approval_id
    except (binascii.Error, ValueError, TypeError):
        pass
    raise HttpError(400, "cursor: not one this server gave out (pass next_cursor unchanged)")


class ApprovalsApi:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def _approval(self, request: web.Request) -> Approval:
        approval_id = request.match_info["id"]
        found = await self.runtime.ledger.get(approval_id) if APPROVAL_ID.match(approval_id) else None
        if found is None:
            raise HttpError(404, "no such approval")
        return found

    async def list_approvals(self, request: web.Request) -> web.Response:
        query = parsed(ListQuery, dict(request.query))
        after = decode_cursor(query.cursor) if query.cursor else None
        if query.approver:
            approvals, last, more = await self._decidable(query, after)
            next_cursor = encode_cursor(last) if more and last is not None else None
            return answer(Page(approvals=[ApprovalOut.of(a) for a in approvals], next_cursor=next_cursor))
        approvals, more = await self.runtime.ledger.page(
            status=query.statuses, thread_id=query.thread_id, after=after, limit=query.limit)
        next_cursor = encode_cursor(approvals[-1]) if more else None
        return answer(Page(approvals=[ApprovalOut.of(a) for a in approvals], next_cursor=next_cursor))

    async def _decidable(self, query: ListQuery, after: tuple[float, str] | None,
                         ) -> tuple[list[Approval], Approval | None, bool]:
        """Pages of the ledger, filtered to what `query.approver` may decide, until a page is
        full; the cursor is the last row looked at, so nothing is skipped or shown twice."""
        actor = actor_of(str(query.approver))
        found: list[Approval] = []
        last: Approval | None = None
        more = True
        while more and len(found) < query.limit:
            rows, more = await self.runtime.ledger.page(status=query.statuses, thread_id=query.thread_id,
                                                        after=after, limit=query.limit - len(found))
            if not rows:
                break
            found += await self.runtime.service.router.decidable_by(actor, rows)
            last = rows[-1]
            after = (last.created_at, last.id)
        return found, last, more

    async def get_approval(self, request: web.Request) -> web.Response:
        return answer(ApprovalOut.of(await self._approval(request)))

    async def decide(self, request: web.Request) -> web.Response:
        approval = await self._approval(request)
        body = parsed(DecisionBody, None, json_text=await request.read())
        actor = request[API_CLIENT].actor(body.by)
        editing = body.decision is Decision.EDIT
        if editing != (body.args is not None):
            raise HttpError(400, "args: required with decision edit, and only with it")
        verdict = await self.runtime.service.on_decision(
            DecisionClick(approval.id, body.decision, actor, reason=body.reason, args=body.args,
                          revision=body.revision))
        current = await self.runtime.ledger.get(approval.id) or approval
        if verdict.outcome is Outcome.ACCEPTED:
            return answer(ApprovalOut.of(current))
        if editing and verdict.outcome is Outcome.INVALID:  # arguments the schema refuses
            raise refused(400, verdict.message, current)
        raise refused(_STATUS_CODE.get(verdict.outcome, 409), verdict.message, current)

    async def post_result(self, request: web.Request) -> web.Response:
        approval = await self._approval(request)
        body = parsed(ResultBody, None, json_text=await request.read())
        worker = request[API_CLIENT].actor(body.by, default="worker")
        if not approval.external:
            # Clearance runs this tool itself: a posted result would skip or race that run.
            raise HttpError(409, f"{approval.tool} is not an external tool; Clearance runs it itself")
        if approval.status is not Status.APPROVED:
            why = "not approved yet" if approval.status is Status.PENDING else f"already {approval.status.value}"
            raise refused(409, f"cannot accept a result: the approval is {why}", approval)
        spec = self.runtime.registry.get(approval.tool)
        content = truncate(body.content, spec.run.max_output if spec and spec.run else 4000)
        done = await self.runtime.service.submit_result(
            approval.id, content=content, ok=body.status == "ok", actor=worker)
        if done is None:  # another result won the compare-and-set in between
            current = await self.runtime.ledger.get(approval.id) or approval
            raise refused(409, f"cannot accept a result: the approval is already {current.status.value}", current)
        return answer(ApprovalOut.of(done))
