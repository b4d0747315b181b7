"""Fixtures for the LLM tests: a scripted OpenAI-compatible server and a runtime bound to it."""

from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator

import pytest

from tests.conftest import runtime_for
from tests.llm.fake_openai import FakeOpenAI


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


def llm_env(fake: FakeOpenAI, **extra: Any) -> dict[str, Any]:
    """Settings for an OpenAI-compatible server. Retries stay on (they are under test) but
    the per-attempt timeout is short, so a failing test fails in seconds, not minutes."""
    env: dict[str, Any] = {
        "OPENAI_BASE_URL": fake.base_url,
        "CLEARANCE_MODEL": "gpt-test",
        "OPENAI_API_KEY": "sk-test-secret",
        "CLEARANCE_LLM_TIMEOUT": "5",
        "CLEARANCE_LLM_MAX_RETRIES": "2",
    }
    env.update(extra)
    return env


@contextlib.asynccontextmanager
async def llm_runtime(database_url: str, fake: FakeOpenAI, tmp_path: Any = None,
                      tools_yaml: str | None = None, **extra: Any) -> AsyncIterator[Any]:
    async with runtime_for(database_url, tools_yaml, tmp_path, **llm_env(fake, **extra)) as rt:
        yield rt
