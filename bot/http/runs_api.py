"""`POST /api/runs`: start agent work in a channel from outside a chat (an alert hook, a CI
pipeline, a cron job). Behind the same bearer tokens as the approvals API; the requester is
the token's identity (`api:<name>`), so four-eyes still applies to what the run asks for.

    POST /api/runs  {"text": "…", "post_to": "slack:channel:C…" | "teams:conversation:<id>", "by": "<name>"}
      Idempotency-Key: <any text>   (optional; the same key never starts a second run)
    → 201 {"thread_id", "link"}   (200 with the first run's when the key was used before)
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from bot.errors import HttpError
from bot.flow.outside import StartRefused
from bot.http.api import API_CLIENT, bearer_auth, credentials, parsed
from bot.http.api_schema import Route
from bot.runtime import Runtime

PATH = "/api/runs"
MAX_TEXT = 8000
MAX_KEY = 200
RUNS = web.AppKey("runs_api", web.Application)


class RunBody(BaseModel):
    """`POST /api/runs`. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_TEXT, description="What to ask the agent")
    post_to: str = Field(min_length=1, max_length=600,
                         description="slack:channel:C… or teams:conversation:<id>: where the run's thread starts")
    by: str | None = Field(default=None, description="The name to ask as (same rule as for decisions)")


class RunStarted(BaseModel):
    thread_id: str
    link: str = Field(description="Where people open the run's thread (\"\" when the platform has no links)")


ROUTES = (
    Route("POST", "", "start_run", "Start agent work in a channel; the same Idempotency-Key never starts two",
          RunStarted, (400, 403, 409, 502), body=RunBody, status=201,
          headers=(("Idempotency-Key", "Any text up to 200 characters: the same key answers with the first run"),)),
)


def mount_runs_api(app: web.Application, runtime: Runtime) -> None:
    known = credentials(runtime.settings)
    if not known:
        return  # no token, no API: never an open door

    async def start(request: web.Request) -> web.Response:
        body = parsed(RunBody, None, json_text=await request.read())
        actor = request[API_CLIENT].actor(body.by)
        key = request.headers.get("Idempotency-Key")
        if key is not None and not (0 < len(key) <= MAX_KEY and key.isprintable()):
            raise HttpError(400, f"Idempotency-Key: 1-{MAX_KEY} printable characters")
        try:
            started = await runtime.service.outside.start(body.post_to, body.text, actor, key)
        except StartRefused as exc:
            raise HttpError(exc.status, str(exc)) from None
        answer = RunStarted(thread_id=started.thread_id, link=started.link)
        return web.json_response(answer.model_dump(mode="json"), status=201 if started.created else 200)

    sub = web.Application(middlewares=[bearer_auth(known)])
    sub.router.add_post("", start)
    app.add_subapp(PATH, sub)
    app[RUNS] = sub
