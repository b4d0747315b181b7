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
from bot.runtime import Runtime

PATH = "/api/runs"
MAX_TEXT = 8000
MAX_KEY = 200


class RunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_TEXT)
    post_to: str = Field(min_length=1, max_length=600)
    by: str | None = None


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
        return web.json_response({"thread_id": started.thread_id, "link": started.link},
                                 status=201 if started.created else 200)

    sub = web.Application(middlewares=[bearer_auth(known)])
    sub.router.add_post("", start)
    app.add_subapp(PATH, sub)
