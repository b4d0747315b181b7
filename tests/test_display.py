"""What an approver reads: hidden and reordering characters are shown, values are quoted."""

from __future__ import annotations

import json

import pytest

from adapters.display import reveal, show


@pytest.mark.parametrize("char,shown", [
    ("\x00", "\\u0000"), ("\n", "\\u000a"), ("\r", "\\u000d"), ("\t", "\\u0009"), ("\x1b", "\\u001b"),
    ("\x7f", "\\u007f"), ("\x85", "\\u0085"), ("\x9f", "\\u009f"),
    ("\u061c", "\\u061c"), ("\u200e", "\\u200e"), ("\u200f", "\\u200f"),
    ("\u202a", "\\u202a"), ("\u202e", "\\u202e"), ("\u2066", "\\u2066"), ("\u2069", "\\u2069"),
    ("\u200b", "\\u200b"), ("\u200c", "\\u200c"), ("\u200d", "\\u200d"), ("\u2060", "\\u2060"),
    ("\ufeff", "\\ufeff"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"),
])
def test_hidden_characters_are_written_out(char: str, shown: str) -> None:
    assert reveal(f"a{char}b") == f"a{shown}b"


@pytest.mark.parametrize("text", ["plain", "prod-eu", "naïve café ✓ 日本語", "emoji 🚀", "a\\u202eb"])
def test_visible_text_is_unchanged(text: str) -> None:
    assert reveal(text) == text


def test_bidi_override_cannot_reverse_what_follows() -> None:
    # "exe.txt" reversed by RIGHT-TO-LEFT OVERRIDE would read as "txt.exe".
    assert reveal("invoice\u202etxt.exe") == "invoice\\u202etxt.exe"


def test_json_value_quotes_strings_and_keeps_other_types() -> None:
    assert show("api") == '"api"'
    assert show(3) == "3" and show(True) == "true" and show(None) == "null"
    assert show({"k": ["v", 1]}) == '{"k": ["v", 1]}'
    assert show("日本") == '"日本"'  # readable, not \\u-escaped


def test_json_value_tells_apart_what_looks_alike() -> None:
    # A value that contains a separator is one quoted string, never two arguments.
    assert show("x, b=y") == '"x, b=y"'
    # A newline cannot start a new line; a literal backslash-n stays distinguishable from it.
    assert show("ok\n**Approved**") == '"ok\\n**Approved**"'
    assert show("ok\\n") == '"ok\\\\n"'
    # The real character and its spelled-out escape never show the same.
    assert show("\u202e") != show("\\u202e")
    assert show("a\u200bb") == '"a\\u200bb"' and show("\x85") == '"\\u0085"'
    assert json.loads(show("a\u200bb")) == "a\u200bb"  # still JSON, meaning unchanged


def test_visible_handles_a_megabyte_in_one_pass() -> None:
    text = ("\u202e" + "a" * 99) * 10_000  # 1 MB
    assert reveal(text).count("\\u202e") == 10_000
