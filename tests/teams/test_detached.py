"""A thread never blocks, in Teams: a second request in the same conversation while the first
card waits gets its own card; deciding the first reports its outcome in the conversation."""

from __future__ import annotations

from tests.teams.conftest import teams_server
from tests.teams.fakes import message


async def test_second_request_gets_a_card_while_the_first_waits(database_url) -> None:
    async with teams_server(database_url) as srv:
        url = srv.connector.url
        await srv.post(message(url, "deploy api v2.3 to prod"))
        await srv.settle()
        await srv.post(message(url, "status of api in prod"))
        await srv.settle()
        assert any(t.startswith("status: done") for t in srv.connector.texts())
        await srv.post(message(url, "deploy web v1.9 to prod"))
        await srv.settle()
        cards = srv.connector.cards()
        assert len(cards) == 2
        first = cards[0].body["attachments"][0]["content"]["actions"][0]["data"]["approval_id"]
        status, _ = await srv.post(srv.connector.click(first, "approve", user="dana"))
        assert status == 200
        await srv.settle()
        reports = [t for t in srv.connector.texts() if t.startswith(f"[{first}] deploy(")]
        assert len(reports) == 1 and "approved by" in reports[0]
        assert (await srv.runtime.ledger.get(first)).status.value == "done"
        pending = await srv.runtime.ledger.approvals(status=["pending"])
        assert [a.args["service"] for a in pending] == ["web"]
