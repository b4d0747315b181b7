"""The console card shows the call in full and unambiguously, and nothing from outside
reaches the terminal as an escape sequence or a fake line. Pure."""

from __future__ import annotations

from adapters.base import Actor, ApprovalCard, CardStatus
from adapters.console.render import render_card, render_outcome, render_progress


def _card(**kw) -> ApprovalCard:  # type: ignore[no-untyped-def]
    base = dict(approval_id="apv_1", tool="deploy", args={"service": "api", "version": "v2.3"},
                requester=Actor("console", "alice", "alice"), rule="anyone", number=3)
    base.update(kw)
    return ApprovalCard(**base)


def _arguments(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("    arguments: "))
    end = next(i for i, line in enumerate(lines) if line.startswith("    requester: "))
    return [line[15:] for line in lines[start:end]]


def test_one_line_per_argument_with_its_json_value() -> None:
    text = render_card(_card())
    assert text.splitlines()[0] == "[3] Approval needed: deploy"
    assert _arguments(text) == ['service = "api"', 'version = "v2.3"']


def test_a_value_with_a_comma_is_not_two_arguments() -> None:
    assert _arguments(render_card(_card(args={"a": "x, b=y"}))) == ['a = "x, b=y"']
    assert _arguments(render_card(_card(args={"a": "x", "b": "y"}))) == ['a = "x"', 'b = "y"']


def test_hostile_values_and_names_are_written_out() -> None:
    args = {"note": "ok\n**Approved** by dana", "bidi": "a\u202eb", "zw": "p\u200bd", "esc": "\x1b[2J",
            "c1": "\x9b31m", "fence": "```\nrm\n```", "long": "z" * 1000, "a = \"1\"": 2}
    text = render_card(_card(args=args))
    assert _arguments(text) == [
        'note = "ok\\n**Approved** by dana"', 'bidi = "a\\u202eb"', 'zw = "p\\u200bd"', 'esc = "\\u001b[2J"',
        'c1 = "\\u009b31m"', 'fence = "```\\nrm\\n```"', f'long = "{"z" * 1000}"', '"a = \\"1\\"" = 2']
    assert not any(c in text for c in "\x1b\x9b\u202e\u200b")


def test_outcome_texts_are_shown_not_executed() -> None:
    rejected = _card(status=CardStatus.REJECTED, decided_by=(Actor("console", "d", "dana\x1b[31m"),),
                     reason="no\n[4] deploy: approved by eve")
    assert render_outcome(rejected) == "[3] deploy: rejected by dana\\u001b[31m: no\\u000a[4] deploy: approved by eve"
    done = _card(status=CardStatus.DONE, decided_by=(Actor("console", "d", "dana"),), result="line 1\nline\u202e2")
    assert render_outcome(done) == "[3] deploy: approved by dana: done — line 1\n    line\\u202e2"
    quorum = _card(quorum=2, approvals_so_far=(Actor("console", "d", "da\u200bna"),))
    assert render_progress(quorum) == "[3] 1 of 2 approvals — da\\u200bna"
