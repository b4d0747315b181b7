"""The audit trail: request, decisions (who, platform, when, reason) and execution (start, end,
exit status, truncated output), read back with `clearance audit --since … --json`."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys

from adapters.base import Decision, DecisionClick
from tests.policy.tools import DANA, ERIN, one_card


async def _decide(database_url: str, tmp_path) -> str:  # type: ignore[no-untyped-def]
    async with one_card(database_url, tmp_path) as (rt, approval, _):
        await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA, reason="looks good"))
        await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, ERIN))
        await rt.service.drain()
        return approval.id


def clearance(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "bot", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_audit_cli_json_lines(database_url, tmp_path) -> None:
    approval_id = asyncio.run(_decide(database_url, tmp_path))
    done = clearance(database_url, "audit", "--since", "1h", "--json")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    mine = [r for r in rows if r["approval_id"] == approval_id]
    events = [r["event"] for r in mine]
    assert events[:4] == ["requested", "approve", "approve", "executing"] and "done" in events
    requested, first = mine[0], mine[1]
    assert requested["actor"] == "console:alice" and requested["detail"]["args"]["environment"] == "prod"
    assert first["actor"] == "console:dana" and first["detail"]["platform"] == "console"
    assert first["detail"]["reason"] == "looks good" and first["detail"]["status"] == "pending"
    assert dt.datetime.fromisoformat(first["at"]).tzinfo is not None  # when, as an ISO timestamp
    end = next(r for r in mine if r["event"] == "done")
    assert end["detail"]["exit_code"] == 0 and end["detail"]["result"].startswith("deployed api to prod")
    assert dt.datetime.fromisoformat(end["at"]) >= dt.datetime.fromisoformat(mine[3]["at"])

    future = (dt.datetime.now() + dt.timedelta(hours=1)).isoformat()
    assert clearance(database_url, "audit", "--since", future, "--json").stdout == ""
    bad = clearance(database_url, "audit", "--since", "yesterday-ish")
    assert bad.returncode == 2 and "--since" in bad.stderr
