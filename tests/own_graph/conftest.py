"""Fixtures for users' own graphs: a scripted OpenAI-compatible server their model talks to,
and a runtime with CLEARANCE_GRAPH pointing at one of tests/own_graph/agents.py."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from tests.conftest import runtime_for
from tests.llm.fake_openai import FakeOpenAI


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        monkeypatch.setenv("OWN_GRAPH_OPENAI", server.base_url)
        monkeypatch.setenv("OWN_GRAPH_RAN", str(tmp_path / "ran.txt"))
        yield server


def ran(tmp_path: Path) -> list[str]:
    path = tmp_path / "ran.txt"
    return path.read_text().splitlines() if path.exists() else []


@contextlib.asynccontextmanager
async def own_runtime(database_url: str, graph: str, tmp_path: Path, tools_yaml: str | None = None,
                      **settings: Any) -> AsyncIterator[Any]:
    async with runtime_for(database_url, tools_yaml, tmp_path, CLEARANCE_GRAPH=f"tests.own_graph.agents:{graph}",
                           **settings) as rt:
        yield rt
