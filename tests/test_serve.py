"""`clearance serve` as a real process: every platform and the API mounted, health and
readiness answer, bad input is refused, and SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_serve_mounts_everything_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    dead = _free_port()  # nothing listens there: Slack's auth.test at start only logs a warning
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOST": "127.0.0.1", "PORT": str(port),
           "DATABASE_URL": f"sqlite:///{tmp_path}/c.db", "SLACK_BOT_TOKEN": "xoxb-test-token",
           "SLACK_SIGNING_SECRET": "sig-secret-9f8e", "SLACK_API_URL": f"http://127.0.0.1:{dead}/api/",
           "TEAMS_ALLOW_ANONYMOUS": "true", "CLEARANCE_API_TOKEN": "api-token-123"}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if _get(base + "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("server did not start")
        status, body = _get(base + "/readyz")
        assert status == 200 and json.loads(body)["database"] == "sqlite"
        assert _get(base + "/metrics")[0] == 200
        assert _get(base + "/api/approvals")[0] == 401
        assert _get(base + "/api/approvals", {"Authorization": "Bearer api-token-123"})[0] == 200
        unsigned = _get(base + "/slack/events", {"Content-Type": "application/json"}, b"{}")[0]
        assert unsigned == 401
        garbage = _get(base + "/api/messages", {"Content-Type": "application/json"}, b"{not json")[0]
        assert 400 <= garbage < 500
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "Traceback" not in out
    assert "xoxb-test-token" not in out and "api-token-123" not in out and "sig-secret-9f8e" not in out
    assert "anonymous" in out.lower()  # the warning for TEAMS_ALLOW_ANONYMOUS
