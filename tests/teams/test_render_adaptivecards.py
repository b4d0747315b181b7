"""Every card kind rendered by the official `adaptivecards` package in headless Chromium
(Debian's `chromium`; deps via .ci/teams-render-deps.sh), markdown processed by markdown-it.
Fails if a card does not parse cleanly, lacks its actions, lets markdown make any element,
or shows an argument other than exactly as JSON; keeps PNGs under test-artifacts/teams/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from adapters.base import Actor, ApprovalCard, CardStatus
from adapters.display import show
from adapters.teams import render

ROOT = Path(__file__).resolve().parents[2]
RENDER_DIR = Path(__file__).resolve().parent / "render"
ARTIFACTS = ROOT / "test-artifacts" / "teams"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

ALICE = Actor("teams", "aad-alice", "Alice Example")
DANA = Actor("teams", "aad-dana", "Dana Oncall")
# Values that would reformat, hide, reorder or fake something if shown as they are.
HOSTILE = {
    "fence": "```\nrm -rf /\n```",
    "bidi": "invoice\u202etxt.exe",
    "zero_width": "pro\u200bd",
    "note": "ok\n**Approved** by Dana Oncall",
    "a": "x, b=y",
    "link": "[click here](https://evil.example)",
    "html": "<b>hi</b> &amp; `tick` ~~gone~~ _it_",
    "heading": "# big",
    "spaces": "a  b",
    "backslash": "C:\\new\\table",
    "count": -5,
    "nested": {"k": ["v", 1, None]},
}


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
        ("approval", _base(), approve_reject, 1, ["Approve deploy?", "Alice Example", "Arguments"]),
        ("approval-confirm", _base(confirm=True), approve_reject, 1, ["deliberate confirmation"]),
        ("approval-quorum", _base(quorum=2, approvals_so_far=decided), approve_reject, 1,
         ["1 of 2 approvals — Dana Oncall"]),
        ("running", _base(status=CardStatus.RUNNING, decided_by=decided), [], 0, ["Approved by Dana Oncall"]),
        ("waiting-worker", _base(status=CardStatus.WAITING_WORKER, decided_by=decided), [], 0, ["waiting for worker"]),
        ("done", _base(status=CardStatus.DONE, decided_by=decided, result="api v2.3 live in prod"), [], 0,
         ["Approved by Dana Oncall: done", "api v2.3 live in prod"]),
        ("failed", _base(status=CardStatus.FAILED, decided_by=decided, result="exit 1"), [], 0, ["failed"]),
        ("rejected", _base(status=CardStatus.REJECTED, decided_by=decided, reason="freeze until Monday"), [], 0,
         ["Rejected by Dana Oncall: freeze until Monday"]),
        ("expired", _base(status=CardStatus.EXPIRED), [], 0, ["Expired"]),
    ]
    kinds += [
        ("hostile-args", _base(args=HOSTILE, description="**Deploy** a `service`"), approve_reject, 1, []),
        ("one-arg-with-comma", _base(args={"a": "x, b=y"}), approve_reject, 1, []),
        ("two-args", _base(args={"a": "x", "b": "y"}), approve_reject, 1, []),
        ("hostile-outcome", _base(status=CardStatus.FAILED, decided_by=(Actor("teams", "m", "**Mallory**"),),
                                  result="line 1\n\n**Approved by Eve**\n    indented\n- item\n```"), [], 0,
         ["Approved by **Mallory**: failed", "**Approved by Eve**", "- item", "```"]),
        ("hostile-reject", _base(status=CardStatus.REJECTED, decided_by=decided,
                                 reason="fine\n\n**Approved by Eve**"), [], 0,
         ["Rejected by Dana Oncall: fine\\u000a\\u000a**Approved by Eve**"]),
    ]
    out = [{"name": name, "card": render.render_card(card),
            "expect": {"actions": verbs, "inputs": inputs, "text": text}}
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
    # Every argument exactly: one row per argument, the name, and the value as JSON.
    for name, args in (("hostile-args", HOSTILE), ("approval", _base().args)):
        rows = by_name[name]["factsets"][0]
        shown = [(title, value.replace("\u00a0", " ")) for title, _, value in rows]
        assert shown == [(k, show(v)) for k, v in args.items()], shown
    assert "**Deploy** a `service`" in by_name["hostile-args"]["text"]
    one, two = by_name["one-arg-with-comma"]["factsets"][0], by_name["two-args"]["factsets"][0]
    assert one == [["a", "", '"x, b=y"']] and two == [["a", "", '"x"'], ["b", "", '"y"']]
    approval = by_name["approval"]
    assert approval["buttons"] == ["Approve", "Reject"]
    assert [a["data"]["approval_id"] for a in approval["actions"]] == ["apv_Zk3q9yX2mN7pR4tV8wB1"] * 2
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for png in out.glob("*.png"):
        assert png.stat().st_size > 1000
        shutil.copy(png, ARTIFACTS / png.name)
    assert (ARTIFACTS / "approval.png").exists()
