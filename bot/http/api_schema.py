"""The approvals API's bodies and answers as pydantic models, and its OpenAPI 3.1 document.

The handlers validate requests with these models and shape every answer through them, and the
document is generated from the same models and the same route table the server mounts, so the
published contract cannot drift from what the server does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, field_validator
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from adapters.base import Decision
from bot.approvals.models import Approval, Status
from bot.config import API_NAME, is_api_name

MAX_REASON = 500
MAX_PAGE = 500
DEFAULT_PAGE = 100


def _api_name(value: str) -> str:
    if not is_api_name(value):
        raise ValueError("must be a name of 1-64 letters, digits or ._-")
    return value


# The check is re.fullmatch in Python; the schema shows the same set, anchored.
ApiName = Annotated[str, AfterValidator(_api_name),
                    WithJsonSchema({"type": "string", "pattern": f"^{API_NAME.pattern}$"})]


class DecisionBody(BaseModel):
    """`POST …/decision`. Unknown fields are refused: a misspelt `reason` is not silently lost."""

    model_config = ConfigDict(extra="forbid")

    decision: Decision
    by: ApiName | None = Field(
        default=None, description="The name to decide as: required with the shared token; with a named "
                                  "token, omitted or equal to the token's name.")
    reason: str = Field(default="", max_length=MAX_REASON)
    args: dict[str, Any] | None = Field(
        default=None, description="With `edit`: the new values of editable arguments (the rest stay as they are).")
    revision: int | None = Field(
        default=None, ge=1, description="The approval's `revision` this decision was made on: 409 if it has "
                                        "changed since (an edit), so nobody approves arguments they did not read.")


class ResultBody(BaseModel):
    """`POST …/result`, from the worker that ran an external tool."""

    model_config = ConfigDict(extra="forbid")

    content: str
    status: Literal["ok", "error"] = "ok"
    by: ApiName | None = Field(default=None, description="The worker's name (same rule as for decisions).")


class ListQuery(BaseModel):
    """`GET /api/approvals` query. Unknown parameters are refused, so a filter this server does
    not have never returns an unfiltered list that looks filtered."""

    model_config = ConfigDict(extra="forbid")

    status: str = Field(default="", description="Comma-separated statuses, e.g. `pending`; empty: all.")
    limit: int = Field(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(default=None, description="`next_cursor` of the previous page.")
    thread_id: str | None = None
    approver: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_-]*:[^:\s]{1,200}$",
                                 description="A qualified id (`slack:U…`, `teams:<aad id>`): only the "
                                             "approvals this person may decide now.")

    @field_validator("status")
    @classmethod
    def _statuses(cls, value: str) -> str:
        known = {s.value for s in Status}
        for status in filter(None, value.split(",")):
            if status not in known:
                raise ValueError(f"unknown status {status!r}; use one of {', '.join(sorted(known))}")
        return value

    @property
    def statuses(self) -> list[str]:
        return [s for s in self.status.split(",") if s]


class ActorOut(BaseModel):
    platform: str
    id: str
    name: str


class DecisionOut(BaseModel):
    by: ActorOut
    decision: str
    at: str
    reason: str
    revision: int = 1


class ApprovalOut(BaseModel):
    id: str
    thread_id: str
    tool: str
    args: dict[str, Any]
    status: Status
    requested_by: ActorOut
    rule: dict[str, Any]
    decisions: list[DecisionOut]
    created_at: str
    expires_at: str | None
    result: str | None
    revision: int = Field(description="1, then one more per edit; send it with a decision to decide on what you read")

    @classmethod
    def of(cls, approval: Approval) -> ApprovalOut:
        return cls.model_validate(approval.to_public())


class Page(BaseModel):
    approvals: list[ApprovalOut]
    next_cursor: str | None = Field(description="Null on the last page; else pass it as `cursor`.")


class Error(BaseModel):
    error: str
    approval: ApprovalOut | None = Field(default=None, description="On a refused decision or result: "
                                                                   "the approval as it now stands.")


def first_problem(exc: ValidationError) -> str:
    """One line for the client: which field, and what is wrong with it."""
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err["loc"])
    if not where:  # the document itself: not JSON, or not an object
        return "body must be a JSON object"
    return f"{where}: {str(err['msg']).removeprefix('Value error, ')}"


@dataclass(frozen=True)
class Route:
    """One operation of the approvals API: mounted by the server and described by the document."""

    method: str
    path: str  # below the API's mount point, aiohttp syntax: "", "/{id}", "/{id}/decision"
    handler: str  # name of the ApprovalsApi method
    summary: str
    answer: type[BaseModel]
    errors: tuple[int, ...]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    status: int = 200  # the success answer's status
    headers: tuple[tuple[str, str], ...] = ()  # optional request headers: (name, description)


def openapi_document(routes: tuple[Route, ...], prefix: str, *more: tuple[tuple[Route, ...], str]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `routes` mounted at `prefix` (and of each further group of
    routes at its own mount point)."""
    groups = [(routes, prefix), *more]
    routes = tuple(r for group, _ in groups for r in group)
    used: list[type[BaseModel]] = [Error]
    for route in routes:
        used += [m for m in (route.body, route.answer) if m is not None]
    models = list(dict.fromkeys(used))
    bodies = {r.body for r in routes}
    modes: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (m, "validation" if m in bodies else "serialization") for m in models]
    _, defs = models_json_schema(modes, ref_template="#/components/schemas/{model}")

    def ref(model: type[BaseModel]) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    def content(model: type[BaseModel]) -> dict[str, Any]:
        return {"application/json": {"schema": ref(model)}}

    paths: dict[str, dict[str, Any]] = {}
    for route, prefix in ((r, p) for group, p in groups for r in group):
        operation: dict[str, Any] = {
            "operationId": route.handler,
            "summary": route.summary,
            "security": [{"bearer": []}],
            "parameters": [{"name": name, "in": "header", "required": False, "description": text,
                            "schema": {"type": "string"}} for name, text in route.headers],
            "responses": {str(route.status): {"description": "Created" if route.status == 201 else "OK",
                                              "content": content(route.answer)}},
        }
        if "{id}" in route.path:
            operation["parameters"].append({"name": "id", "in": "path", "required": True,
                                            "schema": {"type": "string", "pattern": "^apv_[A-Za-z0-9_-]{22}$"}})
        if route.query is not None:
            schema = route.query.model_json_schema()
            for name, prop in schema["properties"].items():
                operation["parameters"].append({"name": name, "in": "query", "required": False,
                                                "schema": {k: v for k, v in prop.items() if k != "description"},
                                                **({"description": prop["description"]} if "description" in prop
                                                   else {})})
        if route.body is not None:
            operation["requestBody"] = {"required": True, "content": content(route.body)}
        for status in (401, *route.errors):
            operation["responses"][str(status)] = {"description": _REASONS[status], "content": content(Error)}
        operation["responses"]["503"] = {"description": _REASONS[503], "content": content(Error), "headers": {
            "Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}}}}
        paths.setdefault(prefix + route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Clearance approvals API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


_REASONS = {
    400: "Bad request (the message names the field)",
    401: "Missing or unknown bearer token",
    403: "Not allowed: not an approver, or `by` is not this token's name",
    404: "No such approval",
    409: "Already decided, expired, not approved yet, or already has a result",
    502: "The chat platform refused the post",
    503: "The database is unreachable: nothing was recorded; try again after Retry-After seconds",
}
