"""A mistake a new user makes is one clear line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(tmp_path: Path, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TEAMS_", "OPENAI_", "AZURE_"))}
    base.pop("DATABASE_URL", None)
    base.pop("CLEARANCE_TOOLS", None)
    base.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-m", "bot", *args], env=base, cwd=tmp_path,
                          capture_output=True, text=True, timeout=timeout)


def _one_line(run: subprocess.CompletedProcess, *needles: str) -> str:
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2, run.stderr
    assert len(lines) == 1, run.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_a_taken_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = _run(tmp_path, "serve", HOST="127.0.0.1", PORT=str(port))
    _one_line(run, "PORT", f"127.0.0.1:{port}", "address already in use")


def test_an_unwritable_teams_package_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    run = _run(tmp_path, "teams-package", "--app-id", "00000000-0000-0000-0000-000000000000",
               "--domain", "clearance.example.com", "--out", str(tmp_path / "file" / "app.zip"))
    _one_line(run, "--out", "cannot write")


def test_unparsable_tools_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "tools.yml").write_text("tools:\n  - name: x\n    foo: [bar\n")
    for command in ("check", "serve", "console"):
        run = _run(tmp_path, command, CLEARANCE_TOOLS="tools.yml")
        _one_line(run, "tools.yml", "not valid YAML", "line")


@pytest.mark.parametrize("which, cause", [("closed port", "connection refused"),
                                          ("unknown role", 'role "nobody" does not exist')])
def test_an_unreachable_postgres_fails_fast_with_its_cause(tmp_path: Path, pg_server: str, which: str,
                                                           cause: str) -> None:
    if which == "closed port":
        url = "postgresql://postgres@127.0.0.1:1/postgres"
    else:
        parts = urlsplit(pg_server)
        url = urlunsplit(parts._replace(netloc=f"nobody@{parts.hostname}:{parts.port or 5432}"))
    for command in ("check", "pending"):  # the runtime's pool, and the listing's one connection
        started = time.monotonic()
        run = _run(tmp_path, command, DATABASE_URL=url)
        assert time.monotonic() - started < 12  # the pool alone waited 15 s
        _one_line(run, "DATABASE_URL", "cannot connect to PostgreSQL", cause)


def _tool(name: str, run: str, extra: str = "") -> str:
    return f"""
  - name: {name}
    parameters: {{type: object, properties: {{env: {{type: string}}}}}}
    approval: [{{approvers: ["*"]{extra}}}]
    run: {run}
"""


def test_check_finds_what_would_fail_only_after_approval(tmp_path: Path) -> None:
    (tmp_path / "tools.yml").write_text("tools:" + "".join([
        _tool("nomodule", "{python: 'no_such_module_xyz:go'}"),
        _tool("nofunc", "{python: 'graph.demo:no_such_function'}"),
        _tool("badurl", "{webhook: {url: 'deployer.internal/hook'}}"),
        _tool("nosecret", "{webhook: {url: 'https://deployer.internal/hook', secret_env: CLEARANCE_T_UNSET}}"),
        _tool("fine", "{python: 'graph.demo:deploy'}"),
    ]))
    run = _run(tmp_path, "check", CLEARANCE_TOOLS="tools.yml")
    assert run.returncode != 0, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 4, run.stderr
    for name, words in [("nomodule", "cannot be imported"), ("nofunc", "has no"),
                        ("badurl", "not an http(s) URL"), ("nosecret", "CLEARANCE_T_UNSET is not set")]:
        assert any(f"tool {name}:" in line and words in line for line in lines), (name, run.stderr)


def test_check_refuses_names_that_point_nowhere(tmp_path: Path) -> None:
    for tool in (_tool("w", "{command: [echo, hi]}", ", when: {environment: prod}"),
                 _tool("p", "{command: [echo, '{environment}']}")):
        (tmp_path / "tools.yml").write_text("tools:" + tool)
        run = _run(tmp_path, "check", CLEARANCE_TOOLS="tools.yml")
        _one_line(run, "names no parameter")


def test_version(tmp_path: Path) -> None:
    run = _run(tmp_path, "--version")
    assert run.returncode == 0 and run.stdout.startswith("clearance "), run.stdout + run.stderr
