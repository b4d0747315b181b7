"""Shared fixtures: a real PostgreSQL (the machine's, or a throwaway cluster we start), a
fresh database per test, and a runtime on SQLite or Postgres."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
from typing import AsyncIterator, Iterator

import psycopg
import pytest

from adapters.base import Actor, Conversation, InboundMessage
from tests import pg_cluster

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:
        return False


@contextlib.contextmanager
def _throwaway_cluster() -> Iterator[str]:
    if not pg_cluster.available():
        pytest.skip("no PostgreSQL server and no postgresql package to start one (see .ci/run)")
    with pg_cluster.cluster() as started:
        yield started.url


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    url = os.environ.get("CLEARANCE_TEST_PG", DEFAULT_PG)
    if _answers(url):
        yield url
        return
    with _throwaway_cluster() as started:
        yield started


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh database for one test, dropped afterwards."""
    name = "clearance_t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    base = pg_server.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/clearance.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """A test that runs `bot.cli.main` in-process installs the command's log handler on the
    stream pytest captured for it; later threads (aiosqlite's) would log into that closed
    stream. Every test leaves the root logger as it found it."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Tests never read the developer's .env or tools.yml, nor touch a shared demo state."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLEARANCE_DEMO_STATE", str(tmp_path / "demo-state.json"))
    for name in list(os.environ):
        if name.startswith(("SLACK_", "TEAMS_", "OPENAI_", "AZURE_OPENAI_")) or name in (
            "DATABASE_URL", "CLEARANCE_TOOLS", "CLEARANCE_MODEL", "CLEARANCE_API_TOKEN", "CLEARANCE_API_TOKENS",
            "CLEARANCE_GRAPH", "CLEARANCE_GRAPH_PATH",
        ):
            monkeypatch.delenv(name, raising=False)


def console_message(text: str, user: str = "alice", session: str = "t") -> InboundMessage:
    conv = Conversation(platform="console", thread_id=f"console:{session}", data={"session": session})
    return InboundMessage(conv, text, Actor("console", user, user))


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


@contextlib.asynccontextmanager
async def runtime_for(database_url: str, tools_yaml: str | None = None, tmp_path=None, **settings) -> AsyncIterator:  # type: ignore[no-untyped-def]
    """A full runtime (graph, ledger, locks, service) on the given database, with a recording
    adapter for the console platform."""
    from bot.config import load_settings
    from bot.runtime import open_runtime
    from graph.tools import load_registry

    registry = None
    if tools_yaml is not None:
        path = os.path.join(tmp_path or tempfile.mkdtemp(), "tools.yml")
        with open(path, "w") as f:
            f.write(tools_yaml)
        registry = load_registry(path)
    cfg = load_settings(DATABASE_URL=database_url, **settings)
    async with open_runtime(cfg, registry=registry) as runtime:
        recorder = RecordingAdapter()
        runtime.service.add_adapter(recorder)
        runtime.recorder = recorder  # type: ignore[attr-defined]
        yield runtime


class RecordingAdapter:
    """A ChatAdapter that records what the bot would show, for core tests (the platform
    adapters have their own end-to-end tests against fake Slack and Bot Framework servers)."""

    platform = "console"

    def __init__(self) -> None:
        self.cards: list = []
        self.updates: list = []
        self.texts: list[str] = []
        self.log: list[tuple[str, str]] = []  # ("card" | "update" | "text", id or text), in order

    async def post_card(self, conversation, card):  # type: ignore[no-untyped-def]
        from adapters.base import MessageRef, Place

        self.cards.append(card)
        self.log.append(("card", card.approval_id))
        n = str(len(self.cards))
        return MessageRef("console", {"n": n}, Place("console", "", conversation.thread_id, n))

    async def update_card(self, conversation, ref, card):  # type: ignore[no-untyped-def]
        self.updates.append(card)
        self.log.append(("update", f"{card.approval_id} {card.status.value}"))

    async def post_text(self, conversation, text):  # type: ignore[no-untyped-def]
        from adapters.base import MessageRef

        self.texts.append(text)
        self.log.append(("text", text))
        return MessageRef("console", {})

    async def update_text(self, conversation, ref, text):  # type: ignore[no-untyped-def]
        self.texts.append(text)

