"""One small error tree. Users see `str(error)` in the thread; operators get a log line."""

from __future__ import annotations

from typing import Any, Mapping


class ClearanceError(Exception):
    """Base of every error Clearance raises on purpose."""


class ConfigError(ClearanceError):
    """Bad configuration: raised at start, printed as one line naming the variable."""


class HttpError(ClearanceError):
    """An HTTP answer that is not a success. Handlers raise it; the server's one error
    middleware turns it into `{"error": message, **extra}` with this status, so no handler
    builds an error response of its own."""

    def __init__(self, status: int, message: str, *, headers: Mapping[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.message, **self.extra}
