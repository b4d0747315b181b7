"""HTTP server composition: health, readiness, and the platform adapters' routes."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot.runtime import Runtime

log = logging.getLogger("clearance.server")
RUNTIME = web.AppKey("runtime", Runtime)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def readyz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        await asyncio.wait_for(runtime.db.ping(), timeout=2)
    except Exception as exc:
        log.warning("readiness check failed: %s", type(exc).__name__)
        return web.json_response({"ok": False, "database": "unreachable"}, status=503)
    return web.json_response({"ok": True, "database": runtime.db.dialect})


@web.middleware
async def no_500_for_bad_input(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """Bad input is the client's fault: never let a parsing slip become a 500."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        # With the traceback: a handler that forgot to validate its input shows up here, and
        # so would an internal failure misread as bad input.
        log.warning("bad request to %s: %s", request.path, type(exc).__name__, exc_info=exc)
        return web.json_response({"error": "bad request"}, status=400)


def build_app(runtime: Runtime, *, sweep: bool = True) -> web.Application:
    app = web.Application(middlewares=[no_500_for_bad_input], client_max_size=1024**2)
    app[RUNTIME] = runtime
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    from bot.api import add_api_routes

    add_api_routes(app, runtime)

    if sweep:
        async def sweeper(app: web.Application):  # type: ignore[no-untyped-def]
            stop = asyncio.Event()
            task = asyncio.create_task(
                runtime.service.run_sweeper(runtime.settings.sweep_interval, stop)
            )
            yield
            stop.set()
            await task

        app.cleanup_ctx.append(sweeper)
    return app
