"""What a person sees of an argument value: every character either visible as itself or
written as a `\\uXXXX` escape, so two different values never look the same on a card.

Control, bidi (which reorder what follows them), zero-width, separator and other invisible
characters are escaped; everything else is shown as is. Values are shown as JSON, whose
own escapes (`\\n`, `\\"`, `\\\\`) already make quotes, newlines and backslashes
unambiguous, and `\\uXXXX` is one more JSON escape: the text on a card decodes, as JSON, to
exactly the value that will run. Pure and linear (one pass, no regular expressions), shared
by every platform's renderer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

# Printable by Unicode's definition, yet invisible or blank in most fonts (Hangul fillers,
# the braille blank): they could hide inside a value as well as a zero-width space.
_BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def hidden(ch: str) -> bool:
    """True for a character that must be shown as an escape: Unicode's "other" (control,
    format — bidi and zero-width among them — surrogate, private use, unassigned) and
    "separator" categories except the ASCII space, plus a few blank letters."""
    return not ch.isprintable() or ch in _BLANK


def escape_char(ch: str) -> str:
    """`\\uXXXX`, as JSON writes it (a surrogate pair beyond the Basic Multilingual Plane)."""
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def reveal(text: str) -> str:
    """`text` with every hidden character escaped. For text that is already JSON (where a
    backslash is itself escaped) the result is unambiguous; see `show`."""
    if text.isprintable() and not any(ch in _BLANK for ch in text):
        return text
    return "".join(escape_char(ch) if hidden(ch) else ch for ch in text)


def prose_lines(text: str) -> list[str]:
    """An explanation written by the agent (a middleware's multi-line description) as its
    non-empty lines, each revealed: line breaks stay breaks rather than `\\u000a`, and
    nothing else hidden survives."""
    return [reveal(line.strip()) for line in text.splitlines() if line.strip()]


def show(value: Any) -> str:
    """A value as one line of JSON with hidden characters escaped: `"api"`, `3`, `["a", "b"]`."""
    return reveal(json.dumps(value, ensure_ascii=False, default=str))


def units(shown: str) -> Iterator[str]:
    """The displayed text as units a renderer may escape or split between: each JSON
    escape (`\\n`, `\\u202e`) is one unit, every other character one unit. Splitting a long
    value anywhere else could leave half an escape on each side."""
    i, n = 0, len(shown)
    while i < n:
        if shown[i] == "\\" and i + 1 < n:
            width = 6 if shown[i + 1] == "u" else 2
            yield shown[i:i + width]
            i += width
        else:
            yield shown[i]
            i += 1
