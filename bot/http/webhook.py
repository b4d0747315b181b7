"""`POST /langgraph/webhook`: the Agent Server's run webhook. The server's webhooks are not
signed, so the request must carry `Authorization: Bearer $CLEARANCE_WEBHOOK_TOKEN` (the server
sends it through its `LANGGRAPH_WEBHOOKS` headers), and it only triggers a look at the inbox: it
decides nothing, and what waits is read from the server, never from the body. A run paused by
`interrupt()` ends with status `success`, so every call is worth a look."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web

from adapters.background import Background
from bot.errors import HttpError
from bot.flow.inbox import Inbox

log = logging.getLogger("clearance.inbox")
PATH = "/langgraph/webhook"


def mount_webhook(app: web.Application, inbox: Inbox, token: str, background: Background) -> None:
    expected = token.encode()

    async def webhook(request: web.Request) -> web.Response:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"),
                                                                  expected):
            log.warning("langgraph webhook: refused (bad or missing token)")
            raise HttpError(401, "unauthorized", headers={"WWW-Authenticate": 'Bearer realm="clearance"'})
        await request.read()  # bounded by the app's client_max_size; its content decides nothing
        background.spawn(inbox.look())
        return web.json_response({"ok": True}, status=202)

    app.router.add_post(PATH, webhook)
