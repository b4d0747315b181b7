"""`clearance pending` writes the queue from the ledger's columns without building Approvals:
each `--json` line must still be, byte for byte, `json.dumps(approval.to_public())` (what the
command wrote when it built them), and hold what `GET /api/approvals` answers for that row —
on SQLite and PostgreSQL, with awkward values, rows written by older versions, and pages."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base import Actor, Conversation
from bot.approvals.models import (
    Approval,
    DecisionEntry,
    DecisionKind,
    EscalationStep,
    RuleSnapshot,
    Status,
    new_approval_id,
)
from bot.approvals.times import iso, iso_by_second
from bot.config import load_settings
from bot.errors import ConfigError
from bot.ledger import url as db_url
from bot.ledger.database import Database
from bot.ledger.ledger import Ledger
from bot.ledger.listing import PublicText, print_pending
from bot.ledger.store import open_database
from tests.policy.test_api import call, served

ROOT = Path(__file__).resolve().parent.parent

AWKWARD_ARGS: dict[str, Any] = {
    "quotes": 'say "hi" \\ back\\slash',
    "lines": "one\ntwo\r\n\tthree",
    "unicode": "é ü 中文 😀 \U0001f680",
    "invisible": "a\u200bb \u202eevil\u202c \ufeff",
    "controls": "\x00\x01\x1f\x7f\x80",
    "lone_surrogate": "\ud800",
    "nested": {"list": [1, 2.5, -0.0, 1e300, 2**70, True, False, None, {"deep": ["x", {"y": []}]}], "empty": {}},
    "": "empty key",
}


def _approval(n: int, now: float, **changes: Any) -> Approval:
    conv = Conversation("slack", f"slack:T1:C1:{now:.0f}.{n:06d}", {"channel": "C1", "thread_ts": f"{n}.0"})
    fields: dict[str, Any] = dict(
        id=new_approval_id(), thread_id=conv.thread_id, interrupt_id=uuid.uuid4().hex, tool_call_id=f"call_{n}",
        tool="deploy", args={"service": "api", "n": n}, requester=Actor("slack", f"U{n}", f"user{n}", tenant="T1"),
        rule=RuleSnapshot(text="anyone", expires_after=1800), conversation=conv, created_at=now + n,
        expires_at=now + 3600)
    return Approval(**{**fields, **changes})


async def _fill(ledger: Ledger) -> tuple[set[str], str]:
    """Pending rows of every shape, and rows the listing must leave out. Returns the ids left
    out and the id of one past its expiry (a server may not have swept it yet)."""
    now = time.time()
    tie = now + 0.25
    rule = RuleSnapshot(text='prod "deploy"\nwith care', approvers=("*", "slack:group:S1"), quorum=2,
                        expires_after=1800, when={"environment": "prod"}, editable=("service",),
                        notify=("slack:channel:C9",), remind_every=600,
                        escalate=(EscalationStep(300, ("slack:U77",), ("slack:dm",)),))
    rows = [
        _approval(1, now, args=AWKWARD_ARGS, tool='tool "quoted"\n',
                  requester=Actor("slack", 'U"1\\', 'Dana "the boss"\n\u00e9', tenant="T1")),
        _approval(2, now, rule=rule, expires_at=None, thread_id="teams:tenant:19:abc;messageid=1 ü"),
        _approval(3, now, requester=Actor("api", "release-bot", "release bot 🚀", via="api:release-bot")),
        _approval(4, tie, created_at=tie),  # same created_at: the id decides the order
        _approval(5, tie, created_at=tie),
        _approval(6, now, args={}),
    ]
    rows += [_approval(10 + n, now, args={"bulk": n, "text": "ü" * (n % 3)}) for n in range(7)]
    for approval in rows:
        assert await ledger.record(approval) is not None
    # One approval of two, from a decider with a tenant and a credential: still pending.
    stored = await ledger.get(rows[1].id)
    assert stored is not None
    decider = Actor("slack", "U9", "ann \"A\" \U0001f600", tenant="T1", via="")
    assert await ledger.decide(stored, Status.PENDING, (
        DecisionEntry(decider, DecisionKind.APPROVE, now, reason='fine\n"really"', revision=1),)) is not None
    # An edited one: new arguments, an edit in its history.
    stored = await ledger.get(rows[2].id)
    assert stored is not None
    assert await ledger.edit(stored, args={"service": "web", "note": "edited\t"}, rule=stored.rule,
                             expires_at=stored.expires_at, edit=_edit(stored)) is not None
    # Rows as older versions wrote them (missing keys, numbers where strings are now,
    # a time as a number), and texts in a form json.dumps does not write.
    await ledger.db.execute(
        "UPDATE clearance_approvals SET rule = ?, requester = ?, decisions = ?, result = ? WHERE id = ?",
        '{"text": "", "approvers": "*", "quorum": 0, "expires_after": 60}', '{"platform": "slack", "id": 42}',
        '[{"by": {"platform": "slack", "id": "U5"}, "decision": "approve", "at": 1700000000.5}]',
        'partial "output"\n', rows[5].id)
    await ledger.db.execute(
        "UPDATE clearance_approvals SET requester = ?, rule = ? WHERE id = ?",
        '{"id":"U\\u0041","platform":"slack","name":"caf\u00e9","tenant":null}',
        '{"text":"compact","approvers":["*"],"quorum":1,"allow_self_approval":false,"confirm":false,'
        '"expires_after":null,"when":{},"editable":[]}', rows[6].id)
    # Left out: decided, and past its expiry.
    decided = _approval(30, now)
    expired = _approval(31, now, expires_at=now - 1)
    for approval in (decided, expired):
        assert await ledger.record(approval) is not None
    stored = await ledger.get(decided.id)
    assert stored is not None
    assert await ledger.decide(stored, Status.REJECTED, (
        DecisionEntry(decider, DecisionKind.REJECT, now, reason="no"),)) is not None
    return {decided.id, expired.id}, expired.id


def _edit(approval: Approval) -> Any:
    from bot.approvals.models import EditEntry

    return EditEntry(Actor("slack", "U8", "editor"), time.time(), approval.revision + 1, dict(approval.args),
                     {"service": "web"})


async def _expected(ledger: Ledger) -> list[Approval]:
    """The pending approvals as the command listed them when it built Approvals."""
    approvals, more = await ledger.page(status=["pending"], limit=1000)
    assert not more
    now = time.time()
    return [a for a in approvals if a.expires_at is None or a.expires_at > now]


def _table(a: Approval) -> str:
    return (f"{a.id}  {a.tool} {json.dumps(a.args)}  by {a.requester.qualified}  thread {a.thread_id}  "
            f"expires {iso(a.expires_at) or 'never'}")


async def _listing(db: Database, as_json: bool, page: int = 5000) -> str:
    out = io.StringIO()
    await print_pending(db, out, as_json, page=page)
    return out.getvalue()


def _public_decider(line: dict[str, Any]) -> dict[str, Any]:
    # The API names each decider by platform, id and name; `pending --json` has always carried
    # their tenant and credential too (it is `to_public`, not the API's model of it).
    for decision in line["decisions"]:
        decision["by"] = {k: decision["by"][k] for k in ("platform", "id", "name")}
    return line


async def test_json_lines_are_the_public_approvals_byte_for_byte(database_url: str, tmp_path: Path) -> None:
    async with served(database_url, tmp_path) as (rt, http):
        left_out, expired = await _fill(rt.ledger)
        expected = await _expected(rt.ledger)
        assert len(expected) == 13 and not left_out & {a.id for a in expected}
        want = "".join(json.dumps(a.to_public()) + "\n" for a in expected)
        async with open_database(database_url) as db:
            for page in (1, 2, 5, 13, 14, 5000):  # pages end inside ties and on the last row
                assert await _listing(db, True, page) == want, page
            assert await _listing(db, False, 3) == "".join(_table(a) + "\n" for a in expected)
            lines = [json.loads(line) for line in (await _listing(db, True)).splitlines()]
        status, body = await call(http, "GET", "/api/approvals?status=pending&limit=500")
        assert status == 200 and body["next_cursor"] is None
        api = [a for a in body["approvals"] if a["id"] != expired]
        assert [_public_decider(line) for line in lines] == api


async def test_the_command_prints_the_same_lines(database_url: str, tmp_path: Path) -> None:
    """The whole path a user runs: DATABASE_URL read without the settings, the listing, stdout."""
    async with served(database_url, tmp_path) as (rt, _):
        await _fill(rt.ledger)
        expected = await _expected(rt.ledger)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TEAMS_", "OPENAI_", "AZURE_"))}
    env.update(DATABASE_URL=database_url, PYTHONPATH=str(ROOT))
    for argv, want in ((["--json"], "".join(json.dumps(a.to_public()) + "\n" for a in expected)),
                       ([], "".join(_table(a) + "\n" for a in expected))):
        done = subprocess.run([sys.executable, "-m", "bot", "pending", *argv], env=env, cwd=tmp_path,
                              capture_output=True, text=True, encoding="utf-8", timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout == want


def test_a_new_database_gets_its_tables_and_an_empty_queue(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    for argv, want in (([], "No pending approvals.\n"), (["--json"], "")):
        done = subprocess.run([sys.executable, "-m", "bot", "pending", *argv], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stdout, done.stderr) == (0, want, "")
    # The tables are there for whoever comes next, as after any other command.
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            count = conn.execute("SELECT COUNT(*) FROM clearance_approvals").fetchone()
    else:
        with psycopg.connect(database_url) as pg:
            count = pg.execute("SELECT COUNT(*) FROM clearance_approvals").fetchone()
    assert count == (0,)


_DUMPS = st.sampled_from([
    json.dumps,
    lambda value: json.dumps(value, ensure_ascii=False),
    lambda value: json.dumps(value, separators=(",", ":")),
    lambda value: json.dumps(value, sort_keys=True),
])


@settings(max_examples=300, deadline=None)
@given(st.text(), st.text(), st.text(), st.text(), st.text(), _DUMPS)
def test_a_stored_requester_reads_as_the_model_reads_it(platform: str, user: str, name: str, tenant: str,
                                                         via: str, dumps: Any) -> None:
    """Whatever the text (as the ledger writes it, or not), the public requester is the one
    `Actor.from_json(...).to_json()` makes of it."""
    stored = dumps(Actor(platform, user, name, tenant=tenant, via=via).to_record())
    assert PublicText().requester(stored) == json.dumps(Actor.from_json(json.loads(stored)).to_json())


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["platform", "id", "name", "tenant", "via", "other"]),
                       st.none() | st.integers() | st.text() | st.booleans()), _DUMPS)
def test_an_odd_requester_reads_as_the_model_reads_it(record: dict[str, Any], dumps: Any) -> None:
    stored = dumps(record)
    assert PublicText().requester(stored) == json.dumps(Actor.from_json(json.loads(stored)).to_json())


@settings(max_examples=500, deadline=None)
@given(st.integers(-2 * 10**9, 5 * 10**9),
       st.floats(0, 1, exclude_max=True) | st.sampled_from([0.0, 0.9999989, 0.999999, 0.9999994, 0.9999995,
                                                            0.9999996, 0.99999999]))
def test_times_by_the_second_are_the_times_iso_writes(second: int, fraction: float) -> None:
    ts = second + fraction
    assert iso_by_second()(ts) == iso(ts)


@pytest.mark.parametrize("environ, dotenv", [
    ({}, None),
    ({"DATABASE_URL": "sqlite:////var/lib/c.db"}, None),
    ({"database_url": "postgresql://u@h/db"}, None),
    ({}, "DATABASE_URL=sqlite:///from-dotenv.db\n"),
    ({}, 'export DATABASE_URL="postgres://u@h:5/d"  # the server\n'),
    ({}, "Database_Url=sqlite:///mixed-case.db\n"),
    ({}, "A=sqlite:///a.db\nDATABASE_URL=${A}\n"),
    ({"DATABASE_URL": "sqlite:///env.db"}, "DATABASE_URL=sqlite:///dotenv.db\n"),
    ({}, "DATABASE_URL\n"),
    ({}, "DATABASE_URL=\n"),
    ({"DATABASE_URL": "mysql://u@h/db"}, None),
])
def test_database_url_is_read_as_the_settings_read_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                      environ: dict[str, str], dotenv: str | None) -> None:
    """`pending` reads DATABASE_URL without the settings: the same value, or the same error."""
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    if dotenv is not None:
        (tmp_path / ".env").write_text(dotenv)

    def outcome(read: Any) -> str:
        try:
            return f"value {read()}"
        except ConfigError as exc:
            return f"error {exc}"

    assert outcome(db_url.read) == outcome(lambda: load_settings().database_url)
