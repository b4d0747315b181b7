"""The MCP test server as a stdio program or a streamable HTTP service, and tools files for it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

SERVER = str(Path(__file__).with_name("server.py"))


def mcp_tools(record: Path, *, url: str | None = None, extra: str = "") -> str:
    """A tools file with one MCP server `repo`: git_status ungated, deploy and delete_branch
    gated by the server's default rule, each with an alias for the planner."""
    where = f"url: {url}" if url else f"command: [{json.dumps(sys.executable)}, {json.dumps(SERVER)}]"
    copy = '"${MCP_TEST_TOKEN}"'
    env = "" if url else f"\n    env: {{MCP_TEST_RECORD: {json.dumps(str(record))}, MCP_TEST_TOKEN: {copy}}}"
    return f"""
mcp_servers:
  - name: repo
    {where}{env}
    approval:
      - approvers: ["*"]
        allow_self_approval: false
    tools:
      git_status: {{approval: [{{required: false}}], aliases: ["status"]}}
      deploy: {{aliases: ["deploy {{service}} {{version}}"]}}
      delete_branch: {{aliases: ["delete branch {{name}}"]}}
{extra}"""


def records(record: Path, event: str = "call") -> list[dict]:
    if not record.exists():
        return []
    rows = [json.loads(line) for line in record.read_text().splitlines() if line.strip()]
    return [r for r in rows if r["event"] == event]


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MCP_TEST_TOKEN", "mcp-secret-value-123")
    return tmp_path / "mcp-calls.jsonl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_server(record: Path) -> Iterator[str]:
    """The test server on streamable HTTP at 127.0.0.1:<free port>; yields its URL."""
    port = free_port()
    env = {"PATH": os.environ.get("PATH", ""), "MCP_TEST_RECORD": str(record)}
    proc = subprocess.Popen([sys.executable, SERVER, "--http", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError("the MCP test server did not listen")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.kill()
        proc.wait(timeout=10)
