"""The step-up pages: `GET /auth/step-up?t=…` sends the browser to the identity provider, and
`GET /auth/callback` is where it comes back. Each answers a person with a short page saying
what happened; a refusal is a 4xx page and counts for nothing."""

from __future__ import annotations

import html

from aiohttp import web

from adapters.base import Outcome
from bot.flow.service import Service
from bot.flow.step_up import StepUpRefused

_STATUS = {Outcome.ALREADY_DECIDED: 409, Outcome.EXPIRED: 409, Outcome.NOT_ALLOWED: 403, Outcome.NOT_FOUND: 404,
           Outcome.INVALID: 400, Outcome.UNAVAILABLE: 503}


def page(title: str, text: str, status: int = 200) -> web.Response:
    body = (f"<!doctype html><html><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
            f"<title>Clearance: {html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
            f"<p>{html.escape(text)}</p></body></html>")
    return web.Response(text=body, status=status, content_type="text/html",
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def mount_step_up(app: web.Application, service: Service) -> None:
    step_ups = service.step_ups

    async def start(request: web.Request) -> web.StreamResponse:
        try:
            location = await step_ups.start(request.query.get("t", ""))
        except StepUpRefused as exc:
            return page("Not counted", str(exc), exc.status)
        raise web.HTTPFound(location, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    async def callback(request: web.Request) -> web.Response:
        query = request.query
        try:
            click = await step_ups.finish(code=query.get("code", ""), state=query.get("state", ""),
                                          error=query.get("error", ""))
        except StepUpRefused as exc:
            return page("Not counted", str(exc), exc.status)
        result = await service.on_decision(click)
        if result.outcome is Outcome.ACCEPTED:
            return page("Approval counted", f"{result.message} You can close this page.")
        return page("Not counted", result.message, _STATUS.get(result.outcome, 409))

    app.router.add_get("/auth/step-up", start)
    app.router.add_get("/auth/callback", callback)
