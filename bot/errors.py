"""One small error tree. Users see `str(error)` in the thread; operators get a log line."""

from __future__ import annotations


class ClearanceError(Exception):
    """Base of every error Clearance raises on purpose."""


class ConfigError(ClearanceError):
    """Bad configuration: raised at start, printed as one line naming the variable."""


class NotFound(ClearanceError):
    pass


class NotAllowed(ClearanceError):
    pass


class Conflict(ClearanceError):
    """Already decided, or already has a result."""


class InvalidInput(ClearanceError):
    pass
