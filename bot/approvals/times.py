"""Timestamps as the ledger shows them: ISO 8601 in UTC, to the second."""

from __future__ import annotations

import datetime as dt
from typing import Callable


def iso(ts: float | None) -> str:
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds")


def parse_iso(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def iso_by_second() -> Callable[[float], str]:
    """`iso`, remembering the text of each whole second: a listing writes thousands of times
    that share seconds. The same text as `iso`: the second shown is the whole part of the
    time, except where datetime's rounding to the microsecond carries into the next second
    (or before 1970), where `iso` itself answers."""
    seen: dict[int, str] = {}

    def text(ts: float) -> str:
        second = int(ts)
        if ts < 0 or ts - second >= 0.999999:
            return iso(ts)
        out = seen.get(second)
        if out is None:
            out = seen[second] = iso(second)
        return out

    return text
