"""The trust boundary as the bot core keeps it: decisions bound to the places the cards were
posted, strict checkpoint loading, leases and results that survive a database outage."""

from __future__ import annotations

import asyncio
import sys

import ormsgpack
import pytest

from adapters.base import Actor, Conversation, Decision, DecisionClick, MessageRef, Outcome, Place
from bot.approvals.models import Approval, CardCopy, RuleSnapshot, Status
from bot.approvals.policy import counts_here
from bot.flow.execution import OUTCOME_UNKNOWN
from graph.checkpoint import strict_serializer
from tests import pg_cluster
from tests.conftest import console_message, runtime_for

SLOW = f"""
tools:
  - name: slow
    parameters: {{type: object, properties: {{seconds: {{type: string}}}}, required: [seconds]}}
    aliases: ["slow {{seconds}}"]
    approval: [{{approvers: ["*"]}}]
    run:
      command: ["{sys.executable}", "-c",
                "import sys, time; time.sleep(float(sys.argv[1])); print('slept', sys.argv[1])", "{{seconds}}"]
      timeout: 60s
"""
DANA = Actor("slack", "UDANA", "dana")


async def _card(rt, seconds: str = "0"):  # type: ignore[no-untyped-def]
    await rt.service.on_message(console_message(f"slow {seconds}"))
    [approval] = await rt.ledger.approvals(status=[Status.PENDING])
    return approval


async def test_a_click_counts_only_where_the_card_was_posted(database_url, tmp_path) -> None:
    async with runtime_for(database_url, SLOW, tmp_path) as rt:
        approval = await _card(rt)
        [posted] = approval.places
        elsewhere = [
            None,  # a chat click that carries no place at all
            Place("console", "", "console:other", posted.message),  # another conversation
            Place(posted.platform, posted.workspace, posted.channel, "999"),  # another message
            Place(posted.platform, "T-OTHER", posted.channel, posted.message),  # another workspace
        ]
        for place in elsewhere:
            result = await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA, place=place))
            assert result.outcome is Outcome.NOT_ALLOWED
            assert result.message == "This approval belongs to another conversation."
        after = await rt.ledger.get(approval.id)
        assert after is not None and after.status is Status.PENDING and after.decisions == ()
        refused = [row for row in await rt.ledger.audit_trail() if row["event"] == "refused"]
        assert len(refused) == 4
        ok = await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA, place=posted))
        await rt.service.drain()
        assert ok.outcome is Outcome.ACCEPTED
        assert (await rt.ledger.get(approval.id)).status is Status.DONE  # type: ignore[union-attr]


def test_a_click_counts_only_from_an_actor_of_the_cards_workspace() -> None:
    posted = Place("slack", "T1", "C1", "1700000000.000100")
    approval = Approval(
        id="apv_x", thread_id="t", interrupt_id="i", tool_call_id="c", tool="deploy", args={},
        requester=Actor("slack", "UREQ", "req", "T1"), rule=RuleSnapshot(), conversation=Conversation("slack", "t"),
        cards=(CardCopy(MessageRef("slack", {}, posted)),))

    def click(actor: Actor, place: Place | None) -> DecisionClick:
        return DecisionClick("apv_x", Decision.APPROVE, actor, place=place)

    assert counts_here(approval, click(Actor("slack", "U1", "a", "T1"), posted))
    assert not counts_here(approval, click(Actor("slack", "U1", "a", "T2"), posted))  # shared channel, other org
    assert not counts_here(approval, click(Actor("slack", "U1", "a", "T1"), Place("slack", "T1", "C2", posted.message)))
    assert not counts_here(approval, click(Actor("teams", "aad", "a", "T1"), None))
    assert counts_here(approval, click(Actor("api", "release-bot"), None))
    assert counts_here(approval, click(Actor("console", "alice"), None))


def _attack(marker: str) -> tuple[str, bytes]:
    """A msgpack extension that asks the loader to call os.system, as a database writer could."""
    payload = ormsgpack.packb(("os", "system", f"touch {marker}"))
    return "msgpack", ormsgpack.packb(ormsgpack.Ext(0, payload))


def test_checkpoints_do_not_revive_arbitrary_callables(tmp_path) -> None:
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    marker = tmp_path / "pwned"
    strict_serializer().loads_typed(_attack(str(marker)))
    assert not marker.exists()
    # The same bytes through LangGraph's permissive default do run it: the test can fail.
    JsonPlusSerializer(allowed_msgpack_modules=True).loads_typed(_attack(str(marker)))
    assert marker.exists()


async def test_runtime_checkpointers_are_strict(database_url, tmp_path) -> None:
    marker = tmp_path / "pwned"
    async with runtime_for(database_url, SLOW, tmp_path) as rt:
        rt.graph.checkpointer.serde.loads_typed(_attack(str(marker)))
    assert not marker.exists()


async def test_a_result_reported_after_outcome_unknown_is_recorded(database_url, tmp_path) -> None:
    """A runner cut off from the database looks dead to the sweeper; when it comes back with
    the real result, the result is kept and posted, not thrown away."""
    async with runtime_for(database_url, SLOW, tmp_path, CLEARANCE_EXECUTION_LEASE="30") as rt:
        approval = await _card(rt, "1.5")
        [place] = approval.places
        await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA, place=place))
        for _ in range(100):
            running = await rt.ledger.get(approval.id)
            if running is not None and running.status is Status.EXECUTING:
                break
            await asyncio.sleep(0.02)
        # What a sweeper of another replica records when the lease looks lapsed.
        lost = await rt.ledger.finish(approval.id, ok=False, result=OUTCOME_UNKNOWN, unknown=True)
        assert lost is not None
        await rt.service.drain()
        final = await rt.ledger.get(approval.id)
        assert final is not None and final.status is Status.DONE and final.result == "slept 1.5"
        assert any(row["event"] == "late_result" for row in await rt.ledger.audit_trail())
        assert any(t.startswith("Late result for slow") and "slept 1.5" in t for t in rt.recorder.texts)


@pytest.mark.skipif(not pg_cluster.available(), reason="needs Debian's postgresql package")
async def test_lease_survives_a_database_outage(tmp_path) -> None:
    """The database goes away for longer than the lease while a call runs. The runner keeps
    retrying its renewals, the sweeper (which saw the outage) waits a whole lease after
    reconnecting, and the call ends done with its real result — not "outcome unknown"."""
    with pg_cluster.cluster() as pg:
        async with runtime_for(pg.url, SLOW, tmp_path, CLEARANCE_EXECUTION_LEASE="2") as rt:
            approval = await _card(rt, "9")
            [place] = approval.places
            await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, DANA, place=place))
            stop = asyncio.Event()
            sweeper = asyncio.create_task(rt.service.run_sweeper(0.3, stop))
            await asyncio.sleep(1.0)
            await asyncio.to_thread(pg.stop)
            await asyncio.sleep(3.0)  # longer than the 2 s lease
            await asyncio.to_thread(pg.start)
            await asyncio.sleep(8.0)
            stop.set()
            await sweeper
            await rt.service.drain()
            final = await rt.ledger.get(approval.id)
            assert final is not None
            assert final.result == "slept 9" and final.status is Status.DONE
            assert not any(row["detail"].get("outcome_unknown") for row in await rt.ledger.audit_trail())
