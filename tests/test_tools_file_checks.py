"""The tools file refuses what could never work, in one line: a quorum no list of approvers can
fill, an alias placeholder that names no parameter, and a document nested deep enough to
exhaust the parser (which printed a 3,000-line traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from graph.tools import ToolsFileError, load_registry

TOOL = """
tools:
  - name: deploy
    parameters: {type: object, properties: {service: {type: string}, environment: {type: string}}}
    aliases: [ALIAS]
    approval:
      - approvers: APPROVERS
        quorum: QUORUM
        ESCALATE
    run: {command: ["true"]}
"""


def _file(tmp_path: Path, *, alias: str = '"deploy {service} to {environment}"', approvers: str = '["*"]',
          quorum: int = 1, escalate: str = "") -> Path:
    path = tmp_path / "tools.yml"
    path.write_text(TOOL.replace("ALIAS", alias).replace("APPROVERS", approvers).replace("QUORUM", str(quorum))
                    .replace("ESCALATE", escalate))
    return path


@pytest.mark.parametrize(("approvers", "quorum", "escalate", "ok"), [
    ('["console:dana", "console:erin"]', 3, "", False),
    ('["console:dana", "console:erin"]', 2, "", True),
    ('["console:dana"]', 2, 'escalate: [{after: 10m, approvers: ["console:erin"]}]', True),
    ('["slack:group:S0ONCALL"]', 5, "", True),
    ('["*"]', 5, "", True),
])
def test_a_quorum_nobody_can_fill_is_refused(tmp_path: Path, approvers: str, quorum: int, escalate: str,
                                             ok: bool) -> None:
    path = _file(tmp_path, approvers=approvers, quorum=quorum, escalate=escalate)
    if ok:
        load_registry(path)
        return
    with pytest.raises(ToolsFileError) as caught:
        load_registry(path)
    assert str(caught.value) == (f"{path}: tools.0.approval.0: quorum 3 but only 2 approvers listed, escalation "
                                 'included (add approvers, a group or "*")')


def test_an_alias_placeholder_must_name_a_parameter(tmp_path: Path) -> None:
    path = _file(tmp_path, alias='"deploy {service} to {env}"')
    with pytest.raises(ToolsFileError) as caught:
        load_registry(path)
    assert str(caught.value) == (f"{path}: tools.0: tool deploy: alias placeholder {{env}} names no parameter "
                                 "(parameters: environment, service)")


@pytest.mark.parametrize("document", [
    "a: " + "[" * 5000 + "]" * 5000,
    "tools:\n  - name: t\n    run: {command: [x]}\n    parameters: " + '{"a": ' * 3000 + "1" + "}" * 3000,
])
def test_a_deeply_nested_file_is_one_line(tmp_path: Path, document: str, monkeypatch, capsys) -> None:
    path = tmp_path / "tools.yml"
    path.write_text(document + "\n")
    with pytest.raises(ToolsFileError) as caught:
        load_registry(path)
    assert str(caught.value) == f"{path}: too deeply nested"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/c.db")
    monkeypatch.setenv("CLEARANCE_TOOLS", str(path))
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert err == f"clearance: configuration error: CLEARANCE_TOOLS: {path}: too deeply nested\n"
