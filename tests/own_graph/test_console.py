"""The shipped example agents in `clearance console`, as a newcomer runs them: CLEARANCE_GRAPH
pointing at graph/examples, the model settings the graph's own (OPENAI_API_KEY and
OPENAI_BASE_URL, here the local fake), cards and decisions in the terminal."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.llm.fake_openai import FakeOpenAI, calls, text

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = {"service": "api", "version": "v2.3", "environment": "prod"}


async def _console(tmp_path: Path, model: FakeOpenAI, graph: str, script: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TEAMS_", "OPENAI_", "AZURE_",
                                                                     "CLEARANCE_", "DATABASE_URL"))}
    env.update({"PYTHONPATH": str(ROOT), "CLEARANCE_GRAPH": graph, "OPENAI_API_KEY": "sk-example",
                "OPENAI_BASE_URL": model.base_url})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "console", "--user", "alice", cwd=tmp_path, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(script.encode()), timeout=120)
    assert proc.returncode == 0, err.decode()
    return out.decode()


@pytest.mark.parametrize(("graph", "tool"), [
    ("graph.examples.tutorial_agent:agent", "deploy"),
    ("graph.examples.hitl_agent:agent", "deploy"),
    ("graph.examples.hitl_agent:per_call_agent", "deploy"),
])
async def test_example_agent_in_the_console(graph: str, tool: str, tmp_path: Path) -> None:
    async with FakeOpenAI(calls((tool, DEPLOY)), text("Deployed api v2.3 to prod, as dana approved.")) as model:
        out = await _console(tmp_path, model, graph, "ship api v2.3 to prod\napprove 1\nas dana\napprove 1\n")
        assert "[1] Approval needed: deploy" in out, out
        assert "someone else has to approve it" in out  # alice asked: four-eyes holds for her own graph
        assert "Deployed api v2.3 to prod, as dana approved." in out
        tool_results = [m["content"] for m in model.requests[1].messages if m["role"] == "tool"]
        assert any("Deployed api v2.3 to prod." in c for c in tool_results), tool_results


@pytest.mark.parametrize("graph", ["graph.examples.hitl_agent:agent", "graph.examples.hitl_agent:per_call_agent"])
async def test_reply_in_the_console_answers_in_the_tools_place(graph: str, tmp_path: Path) -> None:
    answer = "Not on a Friday: use the blue-green path on Monday."
    async with FakeOpenAI(calls(("deploy", DEPLOY)), text("Not deployed: Monday, blue-green.")) as model:
        script = f"ship api v2.3 to prod\nreply 1 {answer}\nas dana\nreply 1   \nreply 1 {answer}\n"
        out = await _console(tmp_path, model, graph, script)
        assert "reply 1 <answer>" in out, out  # deploy takes every decision, a reply too
        assert "someone else has to approve it" in out  # the requester may not answer their own call
        assert "A reply needs some text" in out
        assert f"[1] deploy: answered by dana: {answer}" in out
        assert "Not deployed: Monday, blue-green." in out
        tool_results = [m["content"] for m in model.requests[1].messages if m["role"] == "tool"]
        assert tool_results == [answer]
