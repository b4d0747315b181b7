"""Every card kind rendered by the official `adaptivecards` package in headless Chromium
(Debian's `chromium`; deps via .ci/teams-render-deps.sh). Fails if a card does not parse
cleanly or lacks its actions; keeps PNGs under test-artifacts/teams/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from adapters.base import Actor, ApprovalCard, CardStatus
from adapters.teams import render

ROOT = Path(__file__).resolve().parents[2]
RENDER_DIR = Path(__file__).resolve().parent / "render"
ARTIFACTS = ROOT / "test-artifacts" / "teams"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

ALICE = Actor("teams", "aad-alice", "Alice Example")
DANA = Actor("teams", "aad-dana", "Dana Oncall")


def _base(**kw) -> ApprovalCard:  # type: ignore[no-untyped-def]
    fields = dict(
        approval_id="apv_Zk3q9yX2mN7pR4tV8wB1", tool="deploy",
        args={"service": "api", "version": "v2.3", "environment": "prod"}, requester=ALICE,
        rule="approvers: anyone in the conversation; not the requester; expires after 30m",
        expires_at=time.time() + 1800, description="Deploy a service version to an environment",
    )
    fields.update(kw)
    return ApprovalCard(**fields)


def _kinds() -> list[dict]:
    approve_reject = ["approve", "reject"]
    decided = (DANA,)
    kinds = [
        ("approval", _base(), approve_reject, 1, ["Approve deploy?", "Alice Example", "environment=prod"]),
        ("approval-confirm", _base(confirm=True), approve_reject, 1, ["deliberate confirmation"]),
        ("approval-quorum", _base(quorum=2, approvals_so_far=decided), approve_reject, 1, ["1 of 2 approvals — Dana Oncall"]),
        ("running", _base(status=CardStatus.RUNNING, decided_by=decided), [], 0, ["Approved by Dana Oncall"]),
        ("waiting-worker", _base(status=CardStatus.WAITING_WORKER, decided_by=decided), [], 0, ["waiting for worker"]),
        ("done", _base(status=CardStatus.DONE, decided_by=decided, result="api v2.3 live in prod"), [], 0,
         ["Approved by Dana Oncall: done", "api v2.3 live in prod"]),
        ("failed", _base(status=CardStatus.FAILED, decided_by=decided, result="exit 1"), [], 0, ["failed"]),
        ("rejected", _base(status=CardStatus.REJECTED, decided_by=decided, reason="freeze until Monday"), [], 0,
         ["Rejected by Dana Oncall: freeze until Monday"]),
        ("expired", _base(status=CardStatus.EXPIRED), [], 0, ["Expired"]),
    ]
    out = [{"name": name, "card": render.render_card(card), "expect": {"actions": verbs, "inputs": inputs, "text": text}}
           for name, card, verbs, inputs, text in kinds]
    # The invoke answer's card is what the clicker sees at once: it must render too.
    answer = render.card_response(_base(status=CardStatus.RUNNING, decided_by=decided))
    out.append({"name": "invoke-answer", "card": answer["value"],
                "expect": {"actions": [], "inputs": 0, "text": ["Approved by Dana Oncall"]}})
    return out


def _available() -> str | None:
    if not shutil.which("node"):
        return "node is not installed"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium; see .ci/teams-render-deps.sh)"
    if not (RENDER_DIR / "node_modules" / "adaptivecards").is_dir():
        return "run `npm ci` in tests/teams/render (see .ci/teams-render-deps.sh)"
    return None


def test_every_card_kind_renders_with_the_official_renderer(tmp_path) -> None:
    missing = _available()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"Adaptive Card render check cannot run in CI: {missing}")
        pytest.skip(missing)
    cards = tmp_path / "cards.json"
    cards.write_text(json.dumps({"cards": _kinds()}))
    out = tmp_path / "png"
    proc = subprocess.run(["node", str(RENDER_DIR / "render.mjs"), str(cards), str(out)],
                          capture_output=True, text=True, timeout=180, env={**os.environ, "CHROMIUM": CHROMIUM})
    assert proc.stdout, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["failures"] == [], json.dumps(report["failures"], indent=1)
    by_name = {r["name"]: r for r in report["report"]}
    assert set(by_name) == {k["name"] for k in _kinds()}
    approval = by_name["approval"]
    assert approval["buttons"] == ["Approve", "Reject"]
    assert [a["data"]["approval_id"] for a in approval["actions"]] == ["apv_Zk3q9yX2mN7pR4tV8wB1"] * 2
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for png in out.glob("*.png"):
        assert png.stat().st_size > 1000
        shutil.copy(png, ARTIFACTS / png.name)
    assert (ARTIFACTS / "approval.png").exists()
