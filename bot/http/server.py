"""HTTP server composition: health, readiness, metrics, the approvals API, and one error model.

Every handler that refuses a request raises `HttpError`; `errors_as_json` is the one place that
turns it into `{"error": message, ...}`. A body that cannot even be parsed is the client's
fault (400), but an internal slip — a KeyError or TypeError in our own code — is a logged 500:
reading it as bad input would hide the bug behind the client's name.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from http import HTTPStatus
from typing import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.approvals.replies import UNAVAILABLE
from bot.errors import HttpError
from bot.http.api import PREFIX as API_PREFIX
from bot.http.api import ROUTES as API_ROUTES
from bot.http.api import credentials, mount_api, mount_openapi
from bot.http.metrics import add_metrics_route
from bot.http.runs_api import PATH as RUNS_PATH
from bot.http.runs_api import ROUTES as RUNS_ROUTES
from bot.http.runs_api import mount_runs_api
from bot.http.step_up import mount_step_up
from bot.http.transport import quiet_client_faults, transport_checks
from bot.http.webhook import mount_webhook
from bot.ledger.database import is_outage
from bot.runtime import Runtime

log = logging.getLogger("clearance.server")
RUNTIME = web.AppKey("runtime", Runtime)
# What reading a request can raise when the client sent something unparseable: JSON that is not
# JSON, bytes that are not UTF-8, a body that cannot be decoded as its Content-Encoding says
# (aiohttp's payload error). Malformed HTTP itself is answered by aiohttp before any handler.
PARSE_ERRORS = (json.JSONDecodeError, UnicodeDecodeError, web.RequestPayloadError)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def readyz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        await asyncio.wait_for(runtime.db.ping(), timeout=2)
    except Exception as exc:
        log.warning("readiness check failed: %s", type(exc).__name__)
        return web.json_response({"error": "database unreachable", "ok": False, "database": "unreachable"},
                                 status=503, headers={"Retry-After": "5"})
    if runtime.agent_server is not None:
        try:
            await asyncio.wait_for(runtime.agent_server.ping(), timeout=1.5)
        except Exception as exc:
            log.warning("readiness check: agent server unreachable (%s)", type(exc).__name__)
            return web.json_response({"error": "agent server unreachable", "ok": False,
                                      "database": runtime.db.dialect, "agent_server": "unreachable"},
                                     status=503, headers={"Retry-After": "5"})
        return web.json_response({"ok": True, "database": runtime.db.dialect, "agent_server": "reachable"})
    return web.json_response({"ok": True, "database": runtime.db.dialect})


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HttpError as exc:
        return web.json_response(exc.body(), status=exc.status, headers=exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        # aiohttp's own refusals (no such route, method, body too large) in the same model.
        headers = {k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")}
        return web.json_response({"error": _MESSAGES.get(exc.status) or HTTPStatus(exc.status).phrase.lower()},
                                 status=exc.status, headers=headers)
    except PARSE_ERRORS as exc:
        log.warning("bad request to %s: %s", request.path, type(exc).__name__)
        return web.json_response({"error": "bad request"}, status=400)
    except Exception as exc:
        if is_outage(exc):
            # Ours and passing, not the client's: it may send the same request again shortly.
            log.warning("%s %s not handled: database unavailable (%s)", request.method, request.path,
                        type(exc).__name__)
            return web.json_response({"error": UNAVAILABLE}, status=503, headers={"Retry-After": "5"})
        log.exception("internal error on %s %s", request.method, request.path)
        return web.json_response({"error": "internal error"}, status=500)


MAX_BODY = 1024**2
_MESSAGES = {
    404: "not found",
    405: "method not allowed",
    413: f"request body too large (at most {MAX_BODY} bytes)",
}


def build_app(runtime: Runtime, *, sweep: bool = True) -> web.Application:
    quiet_client_faults()
    app = web.Application(middlewares=[errors_as_json, transport_checks], client_max_size=MAX_BODY)
    app[RUNTIME] = runtime
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    add_metrics_route(app, runtime.ledger, runtime.db)
    mount_api(app, runtime)
    mount_runs_api(app, runtime)
    if credentials(runtime.settings):
        mount_openapi(app, (API_ROUTES, API_PREFIX), (RUNS_ROUTES, RUNS_PATH))
    if runtime.service.step_ups.settings is not None:
        mount_step_up(app, runtime.service)
    inbox, settings = runtime.inbox, runtime.settings
    if inbox is not None and settings.webhook_token is not None:
        mount_webhook(app, inbox, settings.webhook_token.get_secret_value(), runtime.service.background)

    if sweep and inbox is not None and settings.inbox_interval > 0:
        async def inbox_loop(app: web.Application) -> AsyncIterator[None]:
            stop = asyncio.Event()
            task = asyncio.create_task(inbox.run(settings.inbox_interval, stop))
            yield
            stop.set()
            await task

        app.cleanup_ctx.append(inbox_loop)

    if sweep:
        async def sweeper(app: web.Application) -> AsyncIterator[None]:
            stop = asyncio.Event()
            task = asyncio.create_task(
                runtime.service.run_sweeper(runtime.settings.sweep_interval, stop)
            )
            yield
            stop.set()
            await task

        app.cleanup_ctx.append(sweeper)
    return app


def freeze_heap() -> None:
    """Called once the server is set up, before it listens: everything alive then (modules,
    the app, the runtime, some 180,000 objects) lives as long as the process, yet every full
    pass of the garbage collector walks all of it, for 100 ms and more, at whatever moment
    the collector picks: in a burst of clicks, the clicks behind wait that long. Frozen, they
    are left out of every pass, and a full one takes milliseconds. Nothing is collected first:
    at that point there is next to no garbage (a dozen objects), and collecting would add as
    much to the start as a pass costs."""
    gc.freeze()
