"""Real `clearance serve` processes for the operations drills: started with their own
environment on a free loopback port, logs to a file, stopped with SIGTERM; and signed Slack
requests sent to them as Slack sends them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.slack.fake_slack import BOT_TOKEN, FakeSlack, approval_id_of
from tests.slack.payloads import SECRET, block_actions, event_body, form, mention, new_ts, sign

ROOT = Path(__file__).resolve().parents[2]
DANA = "U0DANA001"
ALICE = "U0ALICE01"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Serve:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, then wait for the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def slack_env(fake: FakeSlack, database_url: str, tools: Path, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "CLEARANCE_TOOLS": str(tools), "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.api_url, **extra}


async def start_serve(env: dict[str, str], workdir: Path, name: str = "serve") -> Serve:
    port = free_port()
    log = workdir / f"{name}.log"
    full = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TEAMS_", "CLEARANCE_"))}
    full.update({"PYTHONPATH": str(ROOT), "HOST": "127.0.0.1", "PORT": str(port), **env})
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "serve"], env=full, cwd=workdir,
                                stdout=out, stderr=subprocess.STDOUT)
    serve = Serve(proc, port, log)
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{serve.output()}")
            try:
                async with http.get(serve.base + "/healthz") as resp:
                    if resp.status == 200:
                        return serve
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    serve.kill()
    raise AssertionError(f"{name} did not start:\n{serve.output()}")


async def post_signed(http: aiohttp.ClientSession, serve: Serve, body: str, content_type: str) -> int:
    headers = {"Content-Type": content_type, **sign(body)}
    async with http.post(serve.base + "/slack/events", data=body.encode(), headers=headers) as resp:
        await resp.read()
        return resp.status


async def mention_on(http: aiohttp.ClientSession, serve: Serve, text: str, user: str = ALICE) -> str:
    """Mention the bot in a new thread through `serve`; the thread's ts."""
    ts = new_ts()
    assert await post_signed(http, serve, event_body(mention(user, text, ts=ts)), "application/json") == 200
    return ts


async def click_on(http: aiohttp.ClientSession, serve: Serve, card: Any, thread_ts: str,
                   user: str = DANA, action: str = "clearance_approve") -> int:
    payload = block_actions(user, action, approval_id_of(card), card_ts=card.result["ts"], thread_ts=thread_ts)
    return await post_signed(http, serve, form(payload), "application/x-www-form-urlencoded")


def card_in(fake: FakeSlack, thread_ts: str) -> Any | None:
    found = [c for c in fake.cards() if c.args.get("thread_ts") == thread_ts]
    return found[0] if found else None


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
