""""What waits for me": `GET /api/approvals?approver=` and `clearance pending --for` list only
what that person may decide now (not the requester's own, not what they already approved)."""

from __future__ import annotations

import argparse
import json

from bot.cli import build_parser, cmd_pending
from bot.config import load_settings
from tests.conftest import console_message
from tests.policy.test_api import AUTH, call, served


async def test_api_and_cli_filter_by_approver(database_url, tmp_path, capsys, monkeypatch) -> None:
    async with served(database_url, tmp_path) as (rt, http):
        await rt.service.on_message(console_message("deploy api to prod", session="a"))
        await rt.service.on_message(console_message("deploy web to prod", session="b"))
        await rt.service.drain()
        pending = await rt.ledger.approvals()
        assert len(pending) == 2
        status, body = await call(http, "GET", "/api/approvals?status=pending&approver=console:dana")
        assert status == 200 and len(body["approvals"]) == 2
        status, body = await call(http, "GET", "/api/approvals?status=pending&approver=console:alice")
        assert status == 200 and body["approvals"] == []  # the requester may not approve her own
        status, body = await call(http, "GET", "/api/approvals?status=pending&approver=console:dana&limit=1")
        assert len(body["approvals"]) == 1 and body["next_cursor"]
        status, rest = await call(http, "GET", "/api/approvals?status=pending&approver=console:dana&limit=1"
                                               f"&cursor={body['next_cursor']}")
        assert [a["id"] for a in body["approvals"] + rest["approvals"]] == [a.id for a in pending]
        status, body = await call(http, "GET", "/api/approvals?approver=nobody", headers=AUTH)
        assert status == 400
    capsys.readouterr()
    settings = load_settings(DATABASE_URL=database_url, CLEARANCE_TOOLS=str(tmp_path / "tools.yml"))

    def args(*argv: str) -> argparse.Namespace:
        return build_parser().parse_args(["pending", *argv])

    assert await cmd_pending(settings, args("--json", "--for", "console:dana")) == 0
    assert len([json.loads(line) for line in capsys.readouterr().out.splitlines()]) == 2
    assert await cmd_pending(settings, args("--for", "console:alice")) == 0
    assert "No pending approvals." in capsys.readouterr().out
