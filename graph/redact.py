"""Replace secret values by `[redacted]` in any text or JSON-like value that leaves the process.

Pure, and linear in the length of the text for a given set of secrets: every occurrence of
every secret is located in the ORIGINAL text (`str.find`, in C), the spans are merged, and the
result is built once. Never one `str.replace` per secret in turn (an earlier replacement could
split or create an occurrence of a later secret) nor a regex alternation (which can
backtrack). Overlapping occurrences, of one secret or of several (one secret containing
another, two sharing an edge), become a single `[redacted]`, so no part of a longer secret is
left showing because a shorter one matched first.

Secrets shorter than MIN_SECRET_CHARS are ignored: a 1-3 character "secret" (a placeholder
value such as "x", "1" or "dev") would blank out that substring in every message, card and
log line, making them unreadable while protecting nothing, since a value that short can be
guessed anyway. Real tokens, signing secrets and passwords are far longer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[redacted]"
MIN_SECRET_CHARS = 4


class Redactor:
    """`Redactor(secrets).text(s) -> str` and `.value(obj) -> obj`; immutable, safe to share."""

    __slots__ = ("secrets",)

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets: tuple[str, ...] = tuple(
            sorted({s for s in secrets if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)
        )

    def text(self, s: str) -> str:
        """`s` with every occurrence of every secret value replaced by `[redacted]`."""
        spans: list[tuple[int, int]] = []
        for secret in self.secrets:
            start = s.find(secret)
            while start >= 0:
                end = start + len(secret)
                spans.append((start, end))
                # An occurrence overlapping this one is inside the redacted span already.
                start = s.find(secret, end)
        if not spans:
            return s
        spans.sort()
        parts: list[str] = []
        pos = 0
        cur_start, cur_end = spans[0]
        for start, end in spans[1:]:
            if start < cur_end:  # overlapping: one span
                cur_end = max(cur_end, end)
                continue
            parts += [s[pos:cur_start], REDACTED]
            pos = cur_end
            cur_start, cur_end = start, end
        parts += [s[pos:cur_start], REDACTED, s[cur_end:]]
        return "".join(parts)

    def value(self, obj: Any) -> Any:
        """A copy of a JSON-like value (mappings, lists, tuples, strings, scalars) with every
        string redacted, keys included; tuples come back as lists. Other objects are returned
        unchanged."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, Mapping):
            return {self.value(k): self.value(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.value(v) for v in obj]
        return obj
