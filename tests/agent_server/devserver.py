"""A real `langgraph dev` (langgraph-cli[inmem]: offline, no license) on loopback, serving
tests/agent_server/server_agent.py as assistant `agent`; stopped and started again in place
(its in-memory runtime keeps its threads in the working directory across a restart)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "tests" / "agent_server" / "server_agent.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DevServer:
    def __init__(self, workdir: Path, env: dict[str, str], *, webhooks: dict[str, Any] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        config: dict[str, Any] = {"dependencies": [str(ROOT)], "graphs": {"agent": f"{AGENT}:agent"}}
        if webhooks is not None:
            config["webhooks"] = webhooks  # what the server's run webhooks carry and may call
        (workdir / "langgraph.json").write_text(json.dumps(config))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> DevServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARANCE_", "SLACK_", "TEAMS_"))}
        env.update({"PYTHONPATH": str(ROOT), "LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGSMITH_TRACING": "false",
                    **self.env})
        cli = Path(sys.executable).parent / "langgraph"
        log = open(self.workdir / "langgraph-dev.log", "ab")
        self.proc = subprocess.Popen(
            [str(cli), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(self.port),
             "--config", str(self.workdir / "langgraph.json")],
            cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                assert self.proc.poll() is None, self.log()
                try:
                    async with http.get(self.url + "/ok") as resp:
                        if resp.status == 200:
                            return self
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        self.stop()
        raise AssertionError("langgraph dev did not start:\n" + self.log())

    def log(self) -> str:
        path = self.workdir / "langgraph-dev.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM to the server's own process group (it was started in a session of its own)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
