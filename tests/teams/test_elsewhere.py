"""Over real HTTP with the real Agents SDK: an Action.Execute invoke carrying a real approval
id from another conversation, another reply-to activity or another tenant decides nothing."""

from __future__ import annotations

import copy

from tests.teams.conftest import teams_server
from tests.teams.fakes import GROUP, card_action, message

ELSEWHERE = "This approval belongs to another conversation."


def _other_tenant(activity: dict) -> dict:  # type: ignore[type-arg]
    forged = copy.deepcopy(activity)
    forged["conversation"]["tenantId"] = "00000000-0000-0000-0000-0000000e71e5"
    forged["channelData"]["tenant"] = {"id": "00000000-0000-0000-0000-0000000e71e5"}
    return forged


async def test_an_invoke_from_elsewhere_is_refused(database_url) -> None:
    async with teams_server(database_url) as srv:
        url = srv.connector.url
        await srv.post(message(url, "deploy api v2.3 to prod"))
        await srv.settle()
        [card] = srv.connector.cards()
        apv = card.body["attachments"][0]["content"]["actions"][0]["data"]["approval_id"]
        real = srv.connector.click(apv, "approve", user="dana")
        forged = [
            card_action(url, apv, "approve", user="dana", conversation_id=GROUP, reply_to=card.assigned_id),
            card_action(url, apv, "approve", user="dana", reply_to="1:someotheractivity"),
            _other_tenant(real),
        ]
        for activity in forged:
            status, body = await srv.post(activity)
            assert status in (200, 400), (status, body)
            if status == 200:
                assert ELSEWHERE in str(body)
        await srv.settle()
        approval = await srv.runtime.ledger.get(apv)
        assert approval.status.value == "pending" and approval.decisions == ()
        status, _ = await srv.post(real)
        assert status == 200
        await srv.settle()
        assert (await srv.runtime.ledger.get(apv)).status.value == "done"
