"""What the approver reads on a Teams card is the call, in full and unambiguously. Pure: the
rendered JSON. (The headless-render test shows the same cards through real markdown.)"""

from __future__ import annotations

import re
import string

import pytest

from adapters.base import Actor, ApprovalCard, CardStatus
from adapters.display import show
from adapters.teams import render

_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # CommonMark: backslash + ASCII punctuation


def shown(text: str) -> str:
    """What a CommonMark renderer displays for escaped, single-line text."""
    return _ESCAPED.sub(r"\1", text).replace("\u00a0", " ")


def _card(**kw) -> ApprovalCard:  # type: ignore[no-untyped-def]
    base = dict(approval_id="apv_1", tool="deploy", args={"service": "api"},
                requester=Actor("teams", "aad-alice", "Alice"), rule="r")
    base.update(kw)
    return ApprovalCard(**base)


def _arguments(card: ApprovalCard) -> list[tuple[str, str]]:
    rendered = render.render_card(card)
    (factset,) = [b for b in rendered["body"] if b.get("id") == "arguments"]
    return [(f["title"], f["value"]) for f in factset["facts"]]


@pytest.mark.parametrize("value", [
    "```\nrm -rf /\n```",
    "invoice\u202etxt.exe",
    "pro\u200bd\u200c\u200d\u2060\ufeff",
    "ok\n**Approved** by Dana",
    "[click](https://evil.example)",
    "<at>Dana</at> &amp; &#42; `x` ~~y~~ _z_ *w*",
    "# heading", "- item", "1. first", "> quote", "---",
    "a  b   c", "C:\\new\\table", "\\*not bold\\*", "\x1b[31mred\x1b[0m", "\u2028line\u2029para\x85",
    -5, 1.5, True, None, ["x", {"k": "v"}],
    string.punctuation, "".join(chr(c) for c in range(0x20)),
])
def test_every_value_shows_as_its_json_and_nothing_else(value: object) -> None:
    ((name, text),) = _arguments(_card(args={"value": value}))
    assert name == "value"
    assert shown(text) == show(value)
    assert "\n" not in text and "\u202e" not in text and "\u200b" not in text


def test_hostile_characters_are_written_out() -> None:
    ((_, text),) = _arguments(_card(args={"v": "a\u202eb\u200bc\nd"}))
    assert shown(text) == '"a\\u202eb\\u200bc\\nd"'


def test_a_value_with_a_comma_is_not_two_arguments() -> None:
    one = _arguments(_card(args={"a": "x, b=y"}))
    two = _arguments(_card(args={"a": "x", "b": "y"}))
    assert one == [("a", '"x, b=y"')]
    assert two == [("a", '"x"'), ("b", '"y"')]


def test_a_newline_cannot_fake_an_outcome_line() -> None:
    card = render.render_card(_card(args={"note": "ok\n\n**Approved by Dana**"}))
    texts = [b.get("text", "") for b in card["body"]] + [
        f["value"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]]
    assert not any(t.startswith("Approved") or "**" in t or "\n" in t for t in texts)


def test_nothing_is_cut_at_the_limits_the_graph_allows() -> None:
    args = {f"arg{i}": chr(ord("a") + i) * 200 for i in range(19)}
    args["long"] = "z" * 1000
    rows = _arguments(_card(args=args))
    assert [(n, shown(v)) for n, v in rows] == [(k, show(v)) for k, v in args.items()]


def test_argument_names_are_escaped_too() -> None:
    assert _arguments(_card(args={"__init__": 1, "**b**\u202e": 2})) == [
        ("\\_\\_init\\_\\_", "1"), ("\\*\\*b\\*\\*\\\\u202e", "2")]


def test_no_arguments_says_so() -> None:
    card = render.render_card(_card(args={}))
    assert "(none)" in [b.get("text") for b in card["body"]]
    assert not [b for b in card["body"] if b.get("id") == "arguments"]


def test_other_texts_are_escaped() -> None:
    card = _card(tool="deploy_*x*", description="**bold** [l](https://e.example)",
                 requester=Actor("teams", "a", "Eve\n**Admin**"), status=CardStatus.REJECTED,
                 decided_by=(Actor("teams", "d", "_Dana_"),), reason="fine\n\nApproved by Dana")
    rendered = render.render_card(card)
    texts = [b.get("text", "") for b in rendered["body"]] + [
        f["value"] for b in rendered["body"] if b["type"] == "FactSet" for f in b["facts"]]
    assert "deploy\\_\\*x\\*: rejected" in texts
    assert "\\*\\*bold\\*\\* \\[l\\](https://e.example)" in texts
    assert "Eve\\\\u000a\\*\\*Admin\\*\\*" in texts
    assert "Rejected by \\_Dana\\_: fine\\\\u000a\\\\u000aApproved by Dana" in texts
    assert all("\n" not in t for t in texts)


def test_result_lines_are_literal_and_a_long_result_says_it_was_cut() -> None:
    card = _card(status=CardStatus.DONE, decided_by=(Actor("teams", "d", "Dana"),),
                 result="ok\n    indented\n**Approved by Eve**\n" + "x" * 2000)
    (block,) = [b for b in render.render_card(card)["body"] if b.get("fontType") == "Monospace"]
    paragraphs = block["text"].split("\n\n")
    assert paragraphs[:3] == ["ok", "\u00a0" * 4 + "indented", "\\*\\*Approved by Eve\\*\\*"]
    assert paragraphs[-1] == f"… ({len(card.result) - render.RESULT_LIMIT} more characters)"


def test_notification_and_fallback_quote_values_and_stay_short() -> None:
    card = _card(args={"a": "x, b=y", "n": 2})
    assert render.notification_summary(card) == 'Approval needed: deploy(a="x, b=y", n=2) (requested by Alice)'
    long = _card(args={"v": "y" * 500})
    assert render.notification_summary(long) == (
        "Approval needed: deploy (1 argument, see the card) (requested by Alice)")
    assert render.render_card(long)["fallbackText"].startswith("Approval needed: deploy (1 argument,")
