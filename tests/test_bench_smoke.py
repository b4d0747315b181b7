"""Each benchmark runs at a tiny size and prints its fields. Not timed: the figures
themselves are measured by running the benchmarks (see the README's Performance table)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_bench(*args: str, timeout: float) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("machine: nproc "), done.stdout[:300]
    return done.stdout


def test_throughput_prints_its_fields(pg_server: str) -> None:
    out = run_bench("bench/throughput.py", "--cards", "3", "--in-flight", "2", "--pg", pg_server, timeout=90)
    for field in ("raw_langgraph_resumes_per_s", "raw_langgraph_stock_lock_resumes_per_s",
                  "clearance_decisions_per_s", "clearance_stock_lock_decisions_per_s",
                  "clearance_two_replicas_decisions_per_s", "ratio_clearance_vs_raw",
                  "ratio_two_replicas_vs_one", "date"):
        assert f"  {field}: " in out, field


def test_scale_prints_its_fields(pg_server: str) -> None:
    out = run_bench("bench/scale.py", "--pending", "30", "--starts", "1", "--pg", pg_server, timeout=90)
    for field in ("rss_ratio", "startup_to_readyz_s", "pending_cli_ms", "api_page_ms", "sweep_pass_ms",
                  "statements_explained"):
        assert out.count(f"  {field}: ") == 2, field  # SQLite and PostgreSQL
    assert "  pending_cli_rows: 30\n" in out  # every row, none cut at a page size
    assert "  pending_cli_imports_langgraph: False\n" in out
    assert "  pending_cli_imports_pydantic: False\n" in out


@pytest.mark.parametrize("script,args,field", [
    ("bench/approval_round.py", ("--rounds", "2"), "p99"),
    ("bench/slack_click_ack.py", ("--clicks", "2", "--rounds", "1", "--runs", "1"), "p99"),
    ("bench/own_graph.py", ("--rounds", "2"), "p99"),
    ("bench/agent_server.py", ("--cards", "2", "--in-flight", "2"), "two replicas / one"),
])
def test_round_benchmarks_print_their_fields(script: str, args: tuple[str, ...], field: str, pg_server: str) -> None:
    out = run_bench(script, *args, "--pg", pg_server, timeout=90)
    assert field in out


def test_pending_lists_rows_without_importing_the_graph_stack(tmp_path: Path) -> None:
    """`clearance pending` opens the database and the ledger only: LangGraph, LangChain and
    the chat SDKs take seconds to import and are not needed to list rows; the settings
    machinery, the HTTP stack, the approval models and the other database's driver are not
    either (the listing reads DATABASE_URL alone and writes rows from their columns)."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/c.db", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "bot", "pending", "--json"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    modules = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()
               if line.startswith("import time:")}
    imported = {m.split(".")[0] for m in modules}
    assert "bot" in imported
    assert not imported & {"langgraph", "langchain_core", "langsmith", "slack_bolt", "slack_sdk", "microsoft_agents",
                           "msal", "pydantic", "pydantic_settings", "aiohttp", "psycopg", "psycopg_pool"}, imported
    assert not modules & {"bot.approvals.models", "bot.config", "bot.ledger.ledger", "adapters.base",
                          "graph.tools"}, modules

