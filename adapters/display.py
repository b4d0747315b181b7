"""Text that shows what it contains: the characters a reader cannot see, or that reorder or
hide what follows (controls, bidi overrides and isolates, zero-width characters, line and
paragraph separators), are written as `\\uXXXX` escapes, so an approver sees every argument
exactly and a value cannot disguise itself. Pure; linear time (one `str.translate`)."""

from __future__ import annotations

import json
from typing import Any

_HIDDEN = [
    *range(0x00, 0x20),  # C0 controls, newline and tab included: a value never starts a line
    *range(0x7F, 0xA0),  # DEL and C1 controls
    0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A),  # bidi marks, embeddings, isolates
    *range(0x200B, 0x200E), 0x2060, 0xFEFF,  # zero-width space, non-joiner, joiner, word joiner, BOM
    0x2028, 0x2029,  # line and paragraph separators
]
# Lower-case hex, as JSON writes its own escapes, so one value never mixes two spellings.
_TABLE = {code: f"\\u{code:04x}" for code in _HIDDEN}


def visible(text: str) -> str:
    """`text` with every hidden or reordering character written as `\\uXXXX`."""
    return text.translate(_TABLE)


def json_value(value: Any) -> str:
    """A value as JSON (strings quoted, so where it starts and ends is plain; a literal
    backslash shows as two), then `visible`."""
    return visible(json.dumps(value, ensure_ascii=False))
