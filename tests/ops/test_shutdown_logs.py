"""SIGTERM while an approved call runs: `clearance serve` waits for it (up to
CLEARANCE_SHUTDOWN_GRACE), records it done and exits 0; past the grace it exits anyway.
And CLEARANCE_LOG_FORMAT=json: one JSON object per line, with thread and approval ids,
secrets redacted."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sqlite3
import time
from pathlib import Path

import aiohttp

from bot.logs import setup_logging
from graph.redact import Redactor
from tests.helpers import counting_tools, executions
from tests.ops.procs import card_in, click_on, json_lines, mention_on, slack_env, start_serve
from tests.slack.fake_slack import BOT_TOKEN, FakeSlack, approval_id_of
from tests.slack.payloads import SECRET


async def _approve_and_wait_until_running(tmp_path: Path, sleep: float, **extra: str):  # type: ignore[no-untyped-def]
    count = tmp_path / "count"
    tools = tmp_path / "tools.yml"
    tools.write_text(counting_tools(count, sleep=sleep))
    fake = await FakeSlack().start()
    db = tmp_path / "c.db"
    serve = await start_serve(slack_env(fake, f"sqlite:///{db}", tools, **extra), tmp_path)
    async with aiohttp.ClientSession() as http:
        ts = await mention_on(http, serve, "act on alpha")
        deadline = time.monotonic() + 30
        while card_in(fake, ts) is None:
            assert time.monotonic() < deadline, serve.output()
            await asyncio.sleep(0.05)
        card = card_in(fake, ts)
        assert await click_on(http, serve, card, ts) == 200
    while not executions(count):  # the call has started
        assert time.monotonic() < deadline, serve.output()
        await asyncio.sleep(0.05)
    return serve, fake, db, approval_id_of(card)


def _row(db: Path, approval_id: str) -> tuple[str, str]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT status, result FROM clearance_approvals WHERE id = ?", (approval_id,)).fetchone()


async def test_sigterm_waits_for_the_running_call_then_exits_0(tmp_path: Path) -> None:
    serve, fake, db, approval_id = await _approve_and_wait_until_running(tmp_path, sleep=3)
    try:
        started = time.monotonic()
        code = await asyncio.to_thread(serve.stop, 60)
        took = time.monotonic() - started
    finally:
        serve.kill()
        await fake.stop()
    assert code == 0, serve.output()
    assert took > 1.5, took  # it waited for the call
    status, result = _row(db, approval_id)
    assert status == "done" and "acted on alpha" in result, (status, result, serve.output())
    assert "Traceback" not in serve.output()


async def test_sigterm_gives_up_after_the_grace(tmp_path: Path) -> None:
    serve, fake, db, approval_id = await _approve_and_wait_until_running(
        tmp_path, sleep=30, CLEARANCE_SHUTDOWN_GRACE="1")
    try:
        started = time.monotonic()
        code = await asyncio.to_thread(serve.stop, 60)
        took = time.monotonic() - started
    finally:
        serve.kill()
        await fake.stop()
    assert code == 0, serve.output()
    assert took < 10, took
    # Cut short: the lease lapses and the next process reports "outcome unknown", never reruns.
    assert _row(db, approval_id)[0] == "executing"
    assert "work still running after 1s" in serve.output()


async def test_json_logs_one_object_per_line_with_ids_and_no_secrets(tmp_path: Path) -> None:
    serve, fake, db, approval_id = await _approve_and_wait_until_running(
        tmp_path, sleep=0.2, CLEARANCE_LOG_FORMAT="json", CLEARANCE_LOG_LEVEL="DEBUG")
    try:
        deadline = time.monotonic() + 30
        while _row(db, approval_id)[0] != "done":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        code = await asyncio.to_thread(serve.stop, 60)
    finally:
        serve.kill()
        await fake.stop()
    assert code == 0
    out = serve.output()
    lines = json_lines(out)  # every line parses
    assert lines and all({"time", "level", "logger", "message"} <= set(entry) for entry in lines)
    assert any(entry.get("approval_id") == approval_id and entry.get("thread_id", "").startswith("slack:")
               for entry in lines), out
    assert BOT_TOKEN not in out and SECRET not in out


def test_secrets_are_redacted_in_both_formats(capsys) -> None:  # type: ignore[no-untyped-def]
    secret = "s3cr3t-value-7781"
    for fmt in ("text", "json"):
        setup_logging("INFO", Redactor({secret}), fmt)
        log = logging.getLogger("clearance.test")
        log.warning("token is %s and xoxb-12345-abcdef", secret)
        try:
            raise RuntimeError(f"failed with {secret}")
        except RuntimeError:
            log.exception("boom")
        err = capsys.readouterr().err
        assert secret not in err and "xoxb-12345" not in err and "[redacted]" in err, err
        if fmt == "json":
            entries = [json.loads(line) for line in io.StringIO(err)]
            assert entries[1]["exception"].startswith("Traceback") and "RuntimeError" in entries[1]["exception"]
    logging.getLogger().handlers.clear()
