"""Property: the argv a command actually receives is its template with each placeholder
replaced exactly once by the value, whatever the values contain, and refusal() turns away
exactly the values that must not reach an argv. A real process prints the argv it got."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.executors import execute
from graph.tools import ToolSpec, load_registry

PRINT_ARGV = [sys.executable, "-c", "import json,sys;print(json.dumps(sys.argv[1:]))"]

# Each template element beside the value it must become, written out by hand (not by the
# substitution under test).
Values = dict[str, str]
TEMPLATE: list[tuple[str, Callable[[Values], str]]] = [
    ("{a}", lambda v: v["a"]),
    ("x{b}y", lambda v: "x" + v["b"] + "y"),
    ("{a}{b}{a}", lambda v: v["a"] + v["b"] + v["a"]),
    ("--opt={c}", lambda v: "--opt=" + v["c"]),
    ("{{a}}", lambda v: "{" + v["a"] + "}"),
    ("{ a } {} {0} {a-b} }{", lambda v: "{ a } {} {0} {a-b} }{"),
    ("{unused_literal", lambda v: "{unused_literal"),
]

# Values rich in what could confuse a substitution: braces, other placeholders, dashes, NUL,
# spaces, quotes, shell syntax and any Unicode an argv can carry (hypothesis's text() draws no
# surrogates; refusing those is tested on its own).
tricky = st.sampled_from(
    ["{a}", "{b}", "{c}", "{", "}", "{{", "-", "--x", "\x00", " ", "'", '"', "$(id)", "é", "\u202e"]
)
value = st.lists(st.one_of(tricky, st.text(max_size=8)), max_size=6).map("".join)


def spec_for(tmp_path: Path) -> ToolSpec:
    path = tmp_path / "tools.yml"
    argv = PRINT_ARGV + [element for element, _ in TEMPLATE]
    path.write_text(
        "tools:\n  - name: echo_argv\n"
        "    parameters: {type: object, properties: {a: {type: string}, b: {type: string}, c: {type: string}}}\n"
        f"    run: {{command: {json.dumps(argv)}, max_output: 100000}}\n"
    )
    spec = load_registry(path).get("echo_argv")
    assert spec is not None
    return spec


def test_argv_is_the_template_with_each_placeholder_replaced_once(tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    spec = spec_for(tmp_path_factory.mktemp("prop"))

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(a=value, b=value, c=value)
    def check(a: str, b: str, c: str) -> None:
        values = {"a": a, "b": b, "c": c}
        must_refuse = any("\x00" in v or v.startswith("-") for v in values.values())
        refused = spec.refusal(values)
        assert (refused is not None) == must_refuse, (values, refused)
        if refused:
            return
        result = asyncio.run(execute(spec, values, idempotency_key="apv_prop", approved_by=[]))
        assert result.ok, result.content
        assert json.loads(result.content) == [expected(values) for _, expected in TEMPLATE]

    check()
