"""The alias planner runs on the event loop: pathological lines must plan in linear time."""

from __future__ import annotations

import time

import pytest
from langchain_core.messages import HumanMessage

from graph.planner import AliasMatcher, AliasPlanner
from graph.tools import load_registry

BUNDLED = load_registry()
EM = "\u2003"


def _seconds(matcher: AliasMatcher, text: str) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        matcher.plan(text)
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize("make", [
    lambda n: EM * n,
    lambda n: "deploy " + EM * n + "x",  # a long whitespace run between words
    lambda n: "deploy api" + EM * n + "and" + EM * n + "x",
    lambda n: ("a" + EM) * (n // 2),
    lambda n: ";" * n,
    lambda n: "<at>" + EM * n,
])
def test_pathological_lines_plan_fast_and_linearly(make) -> None:  # type: ignore[no-untyped-def]
    matcher = AliasMatcher(BUNDLED)
    short, long = _seconds(matcher, make(8000)), _seconds(matcher, make(16000))
    assert short < 0.1, f"8000 characters took {short:.3f}s"
    assert long < 4 * max(short, 0.002), f"doubling the input: {short:.4f}s -> {long:.4f}s"


async def test_the_planner_answers_an_8000_character_line_fast() -> None:
    planner = AliasPlanner(registry=BUNDLED)
    started = time.perf_counter()
    reply = await planner.ainvoke([HumanMessage("deploy " + EM * 8000 + "x\ndeploy api v2 to prod")])
    assert time.perf_counter() - started < 0.1
    assert [c["args"] for c in reply.tool_calls] == [{"service": "api", "version": "v2", "environment": "prod"}]


def test_normalising_keeps_the_meaning() -> None:
    matcher = AliasMatcher(BUNDLED)
    assert matcher.plan(f"<@U0BOT>{EM}restart{EM}{EM}worker in staging{EM}and\tscale web in staging to 6;"
                        "status") == [
        ("restart", {"service": "worker", "environment": "staging"}),
        ("scale", {"service": "web", "environment": "staging", "replicas": 6}),
        ("status", {}),
    ]
    assert matcher.plan("deploy api " + "v" * 2000 + " to prod") == []  # longer than any command
