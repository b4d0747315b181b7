"""CLEARANCE_GRAPH: the three kinds of target, what `clearance check` says of them, one line
and exit code 2 for a bad one, a compiled graph's own checkpointer replaced by Clearance's,
and rule-only tools refused when the bundled agent runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import console_message
from tests.ops.procs import free_port
from tests.own_graph.conftest import own_runtime


@pytest.mark.parametrize(("target", "kind"), [
    ("tests.own_graph.agents:asking_builder", "a StateGraph builder"),
    ("tests.own_graph.agents:asking_compiled", "a compiled graph"),
    ("tests.own_graph.agents:asking", "a callable taking checkpointer="),
])
def test_check_says_what_it_found(target: str, kind: str, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/c.db")
    monkeypatch.setenv("CLEARANCE_GRAPH", target)
    assert main(["check"]) == 0
    assert f"agent: {target} ({kind})" in capsys.readouterr().out


@pytest.mark.parametrize(("target", "cause"), [
    ("tests.own_graph.nowhere:agent", "cannot import tests.own_graph.nowhere (ModuleNotFoundError: "),
    ("tests.own_graph.agents:missing", "tests.own_graph.agents has no attribute 'missing'"),
    ("tests.own_graph.agents:not_a_graph", "is a int, not a StateGraph builder, a compiled graph or a callable"),
    ("no-colon", "must look like package.module:attr"),
])
def test_a_bad_target_fails_at_start_in_one_line(target: str, cause: str, tmp_path: Path, monkeypatch,
                                                 capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/c.db")
    monkeypatch.setenv("CLEARANCE_GRAPH", target)
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("PORT", str(free_port()))
    for command in ("check", "serve"):
        assert main([command]) == 2
        err = capsys.readouterr().err
        assert err.startswith("clearance: configuration error: CLEARANCE_GRAPH: ") and cause in err, err
        assert err.count("\n") == 1


def test_graph_named_in_tools_yml_and_a_path_to_import_it_from(tmp_path: Path, monkeypatch, capsys) -> None:
    code = tmp_path / "mine"
    code.mkdir()
    (code / "my_agent.py").write_text("from tests.own_graph.agents import asking_builder as agent\n")
    tools = tmp_path / "tools.yml"
    tools.write_text("graph: my_agent:agent\n")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/c.db")
    monkeypatch.setenv("CLEARANCE_TOOLS", str(tools))
    monkeypatch.setenv("CLEARANCE_GRAPH_PATH", str(code))
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # the graph's own setting, not Clearance's
    assert main(["check"]) == 0
    assert "agent: my_agent:agent (a StateGraph builder)" in capsys.readouterr().out


def test_rule_only_tools_need_your_own_agent(tmp_path: Path, monkeypatch, capsys) -> None:
    tools = tmp_path / "tools.yml"
    tools.write_text("tools:\n  - name: deploy\n    approval: [{approvers: ['*']}]\n")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/c.db")
    monkeypatch.setenv("CLEARANCE_TOOLS", str(tools))
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert "tool deploy has no run:" in err and "CLEARANCE_GRAPH" in err and err.count("\n") == 1


async def test_a_compiled_graph_runs_on_clearances_checkpointer(database_url, tmp_path: Path) -> None:
    """The tutorial compiles with InMemorySaver: the paused run must outlive the process."""
    async with own_runtime(database_url, "asking_compiled", tmp_path) as rt:
        await rt.service.on_message(console_message("deploy api"))
        assert rt.recorder.texts == ["Which environment, staging or prod?"]
    async with own_runtime(database_url, "asking_compiled", tmp_path) as rt:  # a new process, as it were
        await rt.service.on_message(console_message("prod"))
        assert rt.recorder.texts == ["Deploying to prod."]
