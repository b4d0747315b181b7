"""What a start with the embedded default imports: none of the stacks it does not use.

The Teams SDK (and msal), the OpenAI client, the MCP SDK, Slack's SDKs and psycopg each cost
a noticeable part of start-up and are imported only when Teams, an LLM, MCP servers, Slack
or PostgreSQL are configured. Each command runs in its own process under
`python -X importtime`, so what this test process has imported does not count.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNCONFIGURED = {
    "microsoft_agents": "Teams", "msal": "Teams",
    "langchain_openai": "an LLM", "openai": "an LLM",
    "mcp": "MCP servers", "langchain_mcp_adapters": "MCP servers",
    "slack_sdk": "Slack", "slack_bolt": "Slack",
    "psycopg": "PostgreSQL", "psycopg_pool": "PostgreSQL",
}


def _embedded_default(tmp_path: Path) -> dict[str, str]:
    """No chat platform, no LLM, the bundled tools (no MCP server), SQLite: nothing inherited
    from this process' environment, and a working directory without .env or tools.yml."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT),
            "DATABASE_URL": f"sqlite:///{tmp_path}/c.db", "CLEARANCE_LOG_LEVEL": "WARNING"}


def _imported(trace: str) -> set[str]:
    return {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in trace.splitlines()
            if line.startswith("import time:")}


def _unconfigured_in(imported: set[str]) -> dict[str, str]:
    assert {"bot", "graph", "langgraph", "aiohttp"} <= imported, "the trace lists every import"
    return {name: why for name, why in UNCONFIGURED.items() if name in imported}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except (OSError, urllib.error.HTTPError):
        return False


def test_serve_is_ready_without_the_stacks_it_does_not_use(tmp_path: Path) -> None:
    port = _free_port()
    env = {**_embedded_default(tmp_path), "HOST": "127.0.0.1", "PORT": str(port)}
    # The trace goes to a file: it outgrows a pipe's buffer long before the server is ready.
    with open(tmp_path / "importtime.txt", "w+") as err:
        proc = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "bot", "serve"], env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 60
            while not _ready(f"http://127.0.0.1:{port}/readyz"):
                assert proc.poll() is None, "clearance serve exited"
                assert time.monotonic() < deadline, "clearance serve never became ready"
                time.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        err.seek(0)
        trace = err.read()
    assert proc.returncode == 0, trace[-2000:]
    assert _unconfigured_in(_imported(trace)) == {}


@pytest.mark.parametrize("command", ["console", "check"])
def test_console_and_check_skip_the_stacks_they_do_not_use(command: str, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "bot", command], env=_embedded_default(tmp_path),
                          cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _unconfigured_in(_imported(done.stderr)) == {}
