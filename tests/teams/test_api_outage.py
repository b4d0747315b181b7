"""The Bot Framework connector has an outage when a card is posted: the card is not lost; the
sweeper posts it once the connector answers again."""

from __future__ import annotations

from bot.approvals.models import Status, Undelivered
from tests.slack.test_api_outage import _sweep_later
from tests.teams.conftest import teams_server
from tests.teams.fakes import message


async def test_a_card_refused_by_the_connector_is_posted_later(database_url) -> None:
    async with teams_server(database_url) as srv:
        srv.connector.fail_posts = 1
        await srv.post(message(srv.connector.url, "deploy api v2.3 to prod"))
        await srv.settle()
        assert srv.connector.cards() == []
        [approval] = await srv.runtime.ledger.approvals(status=[Status.PENDING])
        assert approval.undelivered & Undelivered.CARD
        await _sweep_later(srv, 10)
        [card] = srv.connector.cards()
        assert approval.id in str(card.body)
        status, _ = await srv.post(srv.connector.click(approval.id, "approve", user="dana"))
        assert status == 200
        await srv.settle()
        assert (await srv.runtime.ledger.get(approval.id)).status is Status.DONE  # type: ignore[union-attr]
