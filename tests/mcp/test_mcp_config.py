"""MCP configuration: servers that cannot start, `clearance check`, and names that clash."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import ConfigError
from graph.tools import ToolsFileError, load_registry
from tests.conftest import console_message, runtime_for
from tests.mcp.conftest import mcp_tools, records

BROKEN = """  - name: broken
    command: ["/nonexistent/mcp-server"]
"""


async def test_a_server_that_cannot_start_is_one_clear_line_and_the_rest_keeps_working(
        tmp_path, record, caplog) -> None:
    caplog.set_level(logging.INFO, logger="clearance.mcp")
    async with runtime_for(f"sqlite:///{tmp_path}/c.db", mcp_tools(record, extra=BROKEN), tmp_path) as rt:
        assert rt.mcp.failures == ['MCP server broken: cannot start ["/nonexistent/mcp-server"]: '
                                   'No such file or directory']
        await asyncio.sleep(2.0)  # several retries with backoff: still one line
        lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert lines == rt.mcp.failures
        await rt.service.on_message(console_message("status"))
        await rt.service.drain()
        assert [c["tool"] for c in records(record)] == ["git_status"]


def _check(tmp_path: Path, tools: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "tools.yml"
    path.write_text(tools)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CLEARANCE_TOOLS": str(path),
           "DATABASE_URL": f"sqlite:///{tmp_path}/check.db", "MCP_TEST_TOKEN": "x"}
    return subprocess.run([sys.executable, "-m", "bot", "check"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)


def test_check_lists_mcp_tools_with_their_gating(tmp_path, record) -> None:
    done = _check(tmp_path, mcp_tools(record))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "mcp servers: 1, tools: 3" in lines
    assert any(line.split()[:2] == ["repo_git_status", "run=mcp:repo"] and line.endswith("no approval needed")
               for line in lines)
    assert any(line.split()[0] == "repo_deploy" and line.endswith("by anyone; not the requester") for line in lines)


def test_check_fails_for_a_server_that_cannot_start(tmp_path, record) -> None:
    done = _check(tmp_path, mcp_tools(record, extra=BROKEN))
    assert done.returncode != 0
    assert ('error: MCP server broken: cannot start ["/nonexistent/mcp-server"]: No such file or directory'
            in done.stdout.splitlines())
    assert "repo_deploy" in done.stdout  # the servers that answered are still listed


async def test_a_name_clash_is_a_configuration_error(tmp_path, record) -> None:
    clash = """tools:
  - name: repo_deploy
    run: {command: ["true"]}
"""
    with pytest.raises(ConfigError, match="'repo_deploy' is used twice"):
        async with runtime_for(f"sqlite:///{tmp_path}/c.db", mcp_tools(record) + clash, tmp_path):
            pass


async def test_an_exposed_name_over_64_characters_is_a_configuration_error(tmp_path, record) -> None:
    tools = mcp_tools(record).replace("name: repo", "name: " + "r" * 55)
    with pytest.raises(ConfigError, match="longer than 64 characters"):
        async with runtime_for(f"sqlite:///{tmp_path}/c.db", tools, tmp_path):
            pass


async def test_overrides_must_name_tools_of_the_server(tmp_path, record) -> None:
    tools = mcp_tools(record).replace("delete_branch: {", "delete_brunch: {")
    with pytest.raises(ConfigError, match="'delete_brunch' names no tool of the server"):
        async with runtime_for(f"sqlite:///{tmp_path}/c.db", tools, tmp_path):
            pass


async def test_include_filters_by_the_servers_tool_names(tmp_path, record) -> None:
    tools = mcp_tools(record).replace("    approval:\n", "    include: [git_status, deploy]\n    approval:\n", 1)
    tools = tools.replace("      delete_branch: {aliases: [\"delete branch {name}\"]}\n", "")
    async with runtime_for(f"sqlite:///{tmp_path}/c.db", tools, tmp_path) as rt:
        assert [n for n in rt.registry.names if n.startswith("repo_")] == ["repo_git_status", "repo_deploy"]


def test_a_tools_file_cannot_name_an_mcp_target_by_hand(tmp_path) -> None:
    path = tmp_path / "tools.yml"
    path.write_text("tools:\n  - name: sneaky\n    run: {mcp: {server: repo, tool: deploy}}\n")
    with pytest.raises(ToolsFileError, match="set by mcp_servers"):
        load_registry(path)


def test_a_server_needs_exactly_one_of_command_and_url(tmp_path) -> None:
    path = tmp_path / "tools.yml"
    path.write_text("mcp_servers:\n  - name: both\n    command: [x]\n    url: http://127.0.0.1:1/mcp\n")
    with pytest.raises(ToolsFileError, match="exactly one of command"):
        load_registry(path)


async def test_an_unreachable_http_server_is_one_clear_line() -> None:
    from graph.mcp import McpManager
    from graph.tools import McpServerSpec
    from tests.mcp.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}/mcp"
    manager = McpManager([McpServerSpec(name="far", url=url)], start_timeout=10)
    await manager.start()
    try:
        [line] = manager.failures
        assert line.startswith(f"MCP server far: cannot connect to {url}: ConnectError")
    finally:
        await manager.close()
