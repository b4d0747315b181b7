"""Slack's form-encoded requests → the text Bolt parses. Pure: no I/O.

Clicks and modal submissions arrive as `payload=<JSON>` form-encoded, in which every brace,
quote, colon and comma is a `%XX` escape. `urllib.parse.unquote_plus` decodes those one at a
time in Python: on a card click (4 KB of form, the card's blocks included) that costs more
than the rest of the ack path together. Here the JSON decoder does it in C: `%XX` becomes
`\\u00XX`, which `json.loads` turns into the Latin-1 character of that byte, and the bytes
then decode as UTF-8. The result is the same as urllib's, which still decodes anything
unusual (text that is not ASCII, a `%` not followed by two hex digits, control characters).
"""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

FORM_FIELD = "payload"


def unquote(text: str) -> str:
    """`urllib.parse.unquote_plus(text)`, in C for well-formed ASCII."""
    if "%" not in text and "+" not in text:
        return text
    if text.isascii():
        escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("+", " ").replace("%", "\\u00")
        try:
            return json.loads(f'"{escaped}"').encode("latin-1").decode("utf-8", "replace")
        except ValueError:  # a stray % or a control character: urllib keeps those as they are
            pass
    return unquote_plus(text)


def form_payload(form: str) -> str | None:
    """The decoded `payload` field of a form (the last one, as a dict of the fields keeps),
    or None if there is none."""
    found = None
    for field in form.split("&"):
        name, _, value = field.partition("=")
        if unquote(name) == FORM_FIELD:
            found = value
    return None if found is None else unquote(found)
