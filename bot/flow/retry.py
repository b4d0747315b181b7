"""Retrying a step through a passing failure (a platform's 5xx, a database restart), with
exponential backoff: the one loop every retried step of the flow goes through."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable, TypeVar

T = TypeVar("T")


async def with_backoff(step: Callable[[], Awaitable[T]], *, what: str, log: logging.Logger,
                       first: float = 0.5, cap: float = 10.0, tries: int | None = None,
                       deadline: float | None = None, clock: Callable[[], float] = time.monotonic) -> T:
    """`step()` until it returns, waiting `first` seconds after the first failure and twice as
    long after each next one (at most `cap`). Gives up, raising the last error, after `tries`
    attempts or once `clock()` is past `deadline`; with neither it never gives up. Each
    failure is one warning line naming `what`; the last one carries the traceback."""
    delay, attempt = first, 0
    while True:
        attempt += 1
        try:
            return await step()
        except Exception as exc:
            last = (tries is not None and attempt >= tries) or (deadline is not None and clock() > deadline)
            log.warning("%s failed (%s)%s", what, type(exc).__name__, "; giving up" if last else "; retrying",
                        exc_info=last)
            if last:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, cap)
