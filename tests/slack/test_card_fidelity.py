"""A card shows every argument value in full and unambiguously: hidden characters escaped,
mrkdwn unable to format, ping, link or close our code blocks, nothing ever cut. The card
text decodes back to exactly the arguments that will run. Pure: no network."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from adapters.base import Actor, ApprovalCard, CardStatus
from adapters.display import escape_char, hidden, reveal, show, units
from adapters.slack.render import ARGS_HEAD, fallback_text, render_card
from tests.slack.blockkit import check_message

ALICE = Actor("slack", "U0ALICE01", "alice", "T0TEAM001")
DANA = Actor("slack", "U0DANA001", "dana", "T0TEAM001")


def card(args: dict[str, Any], **changes: Any) -> ApprovalCard:
    base: dict[str, Any] = {"approval_id": "apv_" + "a" * 22, "tool": "deploy", "args": args, "requester": ALICE,
                            "rule": "1 approval", "expires_at": 1_800_000_000.0}
    base.update(changes)
    return ApprovalCard(**base)


def argument_texts(message: dict[str, Any]) -> list[str]:
    """The code-block contents of the argument sections, in order."""
    out = []
    for block in message["blocks"]:
        text = block.get("text") or {}
        if block["type"] == "section" and text.get("verbatim"):
            body = text["text"].removeprefix(ARGS_HEAD)
            assert body.startswith("```\n") and body.endswith("\n```"), body
            out.append(body[4:-4])
    return out


def decode(message: dict[str, Any]) -> dict[str, Any]:
    """Read the arguments back as a person would copy them off the card: undo Slack's three
    entities, join the pieces of each argument, parse the JSON."""
    args: dict[str, Any] = {}
    pending = ""
    for piece in argument_texts(message):
        assert "`" not in piece and "<" not in piece and ">" not in piece
        pending += piece.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        try:
            args.update(json.loads("{" + pending + "}"))
        except ValueError:
            continue  # the value goes on in the next section
        pending = ""
    assert pending == "", pending
    return args


TRICKY = {
    "fence": "```\n*approved* by everyone\n```",
    "bidi": "prod\u202e\u2066dlrow\u2069\u202c",
    "zwj": "ad\u200dmin\u200b\u2060\ufeff",
    "fake_line": "api\n*approved*",
    "link": "<https://x|y>",
    "ping": "<!channel> <!here> <@U0BOSS001>",
    "formatting": "*bold* _it_ ~strike~ `code` > quote",
    "controls": "\x00\x07\x1b[31m\x7f\x85\u2028\u2029\u061c\u200e\u200f",
    "entities": "&amp; &lt; & < >",
    "backslash": "\\u202e is not a bidi override",
    "nested": {"list": [1, "two", None, True], "k`": "`"},
}


def test_tricky_values_are_shown_literally_and_escaped() -> None:
    msg = render_card(card(TRICKY))
    check_message(msg)
    texts = argument_texts(msg)
    assert len(texts) == len(TRICKY)  # one section per argument
    by_name = dict(zip(TRICKY, texts, strict=True))
    assert by_name["fence"] == '"fence": "\\u0060\\u0060\\u0060\\n*approved* by everyone\\n\\u0060\\u0060\\u0060"'
    assert by_name["bidi"] == '"bidi": "prod\\u202e\\u2066dlrow\\u2069\\u202c"'
    assert by_name["zwj"] == '"zwj": "ad\\u200dmin\\u200b\\u2060\\ufeff"'
    assert by_name["fake_line"] == '"fake_line": "api\\n*approved*"'
    assert by_name["link"] == '"link": "&lt;https://x|y&gt;"'
    assert by_name["ping"] == '"ping": "&lt;!channel&gt; &lt;!here&gt; &lt;@U0BOSS001&gt;"'
    assert by_name["formatting"] == '"formatting": "*bold* _it_ ~strike~ \\u0060code\\u0060 &gt; quote"'
    assert by_name["controls"] == ('"controls": "\\u0000\\u0007\\u001b[31m\\u007f\\u0085\\u2028\\u2029'
                                   '\\u061c\\u200e\\u200f"')
    assert by_name["entities"] == '"entities": "&amp;amp; &amp;lt; &amp; &lt; &gt;"'
    assert by_name["backslash"] == '"backslash": "\\\\u202e is not a bidi override"'
    # Nothing of a value reaches the card unescaped, and it decodes to exactly what runs.
    whole = json.dumps(msg, ensure_ascii=False)
    for ch in "\u202e\u2066\u200d\u200b\ufeff\x00\x1b\u2028\u061c":
        assert ch not in whole
    assert "<!channel>" not in whole and "<https://x" not in whole and "<@U0BOSS001>" not in whole
    assert decode(msg) == TRICKY
    # The phone notification only quotes plain values; the rest is "on the card".
    text = fallback_text(card(TRICKY))
    assert "fence=(on the card)" in text and "*approved*" not in text and "<!channel>" not in text
    assert fallback_text(card({"service": "api", "env": "prod_eu"})).startswith(
        "Approval needed: deploy service=api, env=prod_eu — requested by <@U0ALICE01>")


def _maximal(fill: str, sizes: list[int]) -> dict[str, str]:
    return {f"a{i:02d}": fill * n for i, n in enumerate(sizes)}


MAXIMA = [
    # 20 arguments, values at most 1000 characters, 4000 in all, each character as wide as it
    # can be once escaped.
    _maximal("\u202e", [1000] * 4 + [0] * 16),  # 6 characters each
    _maximal("\U000e0041", [1000] * 4 + [0] * 16),  # a tag character: a 12-character surrogate pair
    _maximal("`", [1000, 1000, 1000, 1000] + [0] * 16),
    _maximal("&", [200] * 20),  # &amp;
    _maximal("<!channel>", [100] * 4),
    _maximal("\u200b ", [500] * 4),  # spaces between escapes: a piece must not end in a space
    {**_maximal("\u2066", [999] * 4), **_maximal("x", [1] * 16)},
]


@pytest.mark.parametrize("args", MAXIMA, ids=range(len(MAXIMA)))
@pytest.mark.parametrize("status", [CardStatus.PENDING, CardStatus.DONE])
def test_arguments_at_the_maxima_fit_in_full(args: dict[str, str], status: CardStatus) -> None:
    assert len(args) <= 20 and sum(len(v) for v in args.values()) <= 4000
    msg = render_card(card(args, status=status, decided_by=(DANA,), result="r" * 10_000, quorum=3,
                           approvals_so_far=(DANA,), confirm=True, description="d" * 3000, rule="r" * 3000))
    check_message(msg)  # slack_sdk's validators: 3000 per section, 2000 per field, 50 blocks
    assert decode(msg) == args  # split where needed, never cut
    for piece in argument_texts(msg):
        assert not piece.endswith(" ")


def test_more_than_a_message_holds_is_an_error_not_a_cut() -> None:
    with pytest.raises(ValueError):
        render_card(card({f"a{i}": "x" for i in range(60)}))


def test_display_is_pure_and_linear() -> None:
    assert reveal("plain text, ok") == "plain text, ok"
    assert reveal("a\u202eb") == "a\\u202eb"
    assert escape_char("\U000e0041") == "\\udb40\\udc41"
    assert json.loads('"' + escape_char("\U000e0041") + '"') == "\U000e0041"
    assert all(hidden(ch) for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
    assert all(hidden(ch) for ch in "\u200b\u200c\u200d\u2060\ufeff\u3164\u00a0\t\n")
    assert not any(hidden(ch) for ch in "a Zé🚀€")
    assert list(units(show("a\nb\u202e\\"))) == ['"', "a", "\\n", "b", "\\u202e", "\\\\", '"']
    big = ("\u202e" + "x" * 9) * 100_000  # a million characters
    start = time.perf_counter()
    assert len(list(units(show(big)))) == 1_000_002
    assert time.perf_counter() - start < 5
