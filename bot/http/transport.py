"""Requests whose transport is broken, answered before any handler, with one log line each.

A body that does not decode as its `Content-Encoding` says, a coding or a charset this server
cannot read: the client's fault, found before authentication, answered in the error model
(400, or 415 for what is unsupported) with one WARNING line. Never a traceback: anyone can send
such a request, and a traceback per request lets them flood the log.

aiohttp itself answers what it cannot parse at all (a Content-Length that is not a number, a
coding whose decoder is not installed) before any handler sees the request, and logs each one
as an ERROR with a traceback; `ClientFaults` makes those one WARNING line, and drops the
traceback aiohttp logs when it drains the unread body of a request already answered (a refusal
before the body was read has its own line).
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler

from bot.errors import HttpError

log = logging.getLogger("clearance.server")
# What aiohttp decodes (the same test as its parser: exact, lowercased, nothing stripped); any
# other coding reaches the handler undecoded, as if it were the body.
DECODED = frozenset({"", "identity", "gzip", "deflate", "br", "zstd"})


@web.middleware
async def transport_checks(request: web.Request, handler: Handler) -> web.StreamResponse:
    coding = request.headers.get("Content-Encoding", "")
    if not coding.isascii() or coding.lower() not in DECODED:
        raise _refused(request, 415, "Content-Encoding: not one this server decodes (use gzip, deflate or none)")
    charset = request.charset
    if charset is not None:
        try:
            b"a".decode(charset)  # not b"": decoding nothing never looks the codec up
        except LookupError:  # unknown, or not a text encoding at all (rot13, hex)
            raise _refused(request, 415, "Content-Type: unknown charset (use utf-8)") from None
        except UnicodeError:
            pass  # a real text encoding that this one byte is not valid in
    # The parser decodes the body as it arrives: a body already known not to decode is refused
    # here, before a refusal that never reads it (a missing token) leaves the error for later.
    if request.content.exception() is not None:
        raise _refused(request, 400, "body: does not decode as its Content-Encoding says")
    try:
        return await handler(request)
    except web.RequestPayloadError:
        raise _refused(request, 400, "body: does not decode as its Content-Encoding says") from None


def _refused(request: web.Request, status: int, message: str) -> HttpError:
    log.warning("bad request to %s %s: %s", request.method, request.path, message)
    return HttpError(status, message)


class ClientFaults(logging.Filter):
    """On aiohttp's server logger: a request aiohttp could not parse is one WARNING line naming
    the fault; the failed drain of a body nobody read is dropped. Anything else (a real
    failure of the server) passes unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, (HttpProcessingError, web.RequestPayloadError)):
            return True
        if record.msg != "Error handling request from %s":
            # Raised while draining the unread rest of a body, after the answer was sent.
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        # The first line only: the rest echoes the client's bytes back, over several lines.
        lines = str(getattr(exc, "message", "") or exc).strip().splitlines()
        remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        record.msg, record.args = "bad request from %s: %s", (remote, lines[0] if lines else type(exc).__name__)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text = None, None
        return True


CLIENT_FAULTS = ClientFaults()


def quiet_client_faults() -> None:
    """Install the filter once per process (adding the same filter twice is a no-op)."""
    logging.getLogger("aiohttp.server").addFilter(CLIENT_FAULTS)
