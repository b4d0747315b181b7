"""Fixtures for the Agent Server tests: the model's fake, then a real `langgraph dev` serving
tests/agent_server/server_agent.py with its model pointed at that fake."""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import pytest

from tests.agent_server.devserver import DevServer
from tests.llm.fake_openai import FakeOpenAI


@pytest.fixture
async def model() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def agent_server(model: FakeOpenAI, tmp_path: Path) -> AsyncIterator[DevServer]:
    workdir = tmp_path / "agent-server"
    workdir.mkdir()
    server = DevServer(workdir, {"AGENT_SERVER_OPENAI": model.base_url, "AGENT_SERVER_RAN": str(tmp_path / "ran.txt")})
    await server.start()
    try:
        yield server
    finally:
        server.stop()


def ran(tmp_path: Path) -> list[str]:
    path = tmp_path / "ran.txt"
    return path.read_text().splitlines() if path.exists() else []
