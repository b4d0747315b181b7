"""Log records as text or as one JSON object per line, with the thread and approval they
concern. The service marks what it is working on with `log_context`; every line logged
meanwhile, in that task and the tasks it spawns, carries those ids. `setup_logging` sends
them to stderr with every secret redacted."""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import re
import sys
from typing import Iterator

from graph.redact import Redactor

THREAD_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("clearance_thread_id", default=None)
APPROVAL_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("clearance_approval_id", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def log_context(*, thread_id: str | None = None, approval_id: str | None = None) -> Iterator[None]:
    """Within the block, log records name this thread and/or approval (unset ones keep the
    outer value)."""
    tokens = []
    if thread_id is not None:
        tokens.append((THREAD_ID, THREAD_ID.set(thread_id)))
    if approval_id is not None:
        tokens.append((APPROVAL_ID, APPROVAL_ID.set(approval_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the thread and
    approval ids when known, and the traceback as one string. The secret filter has already
    cleaned the message and the traceback text by the time this runs."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, var in (("thread_id", THREAD_ID), ("approval_id", APPROVAL_ID)):
            value = getattr(record, key, None) or var.get()
            if value:
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def formatter(kind: str) -> logging.Formatter:
    return JsonFormatter() if kind == "json" else logging.Formatter(TEXT_FORMAT)


class _SecretFilter(logging.Filter):
    """Every configured secret value, and anything shaped like a token, is redacted from
    each log line, tracebacks included."""

    PATTERN = re.compile(r"(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|sk-[A-Za-z0-9_-]{8,}|Bearer\s+\S+)")

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def _clean(self, text: str) -> str:
        return self.PATTERN.sub("[redacted]", self.redactor.text(text))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self._clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        return True


def setup_logging(level: str, redactor: Redactor | None = None, fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(_SecretFilter(redactor or Redactor(())))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for noisy in ("httpx", "aiohttp.access", "openai"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
