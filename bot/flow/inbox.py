"""The approvals inbox of an Agent Server deployment: interrupts of runs Clearance did not
start (a cron, the server's API, another app on the same assistant) get cards too.

Found by looking for interrupted threads every CLEARANCE_INBOX_INTERVAL seconds, and at once
when the server's run webhook calls (it is unsigned, so it only triggers a look and decides
nothing). A server thread Clearance knows (it started it, or carded it before) gets its cards
in that chat thread; any other gets a thread of its own in CLEARANCE_INBOX_CHANNEL: a root
post there is claimed in the database first, so two replicas never open two threads, and each
interrupt is carded once (the ledger is unique per thread and interrupt). Decisions resume the
run on the server as usual, and its later answers go to the card's thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from adapters.base import Actor, Conversation
from bot.approvals.ids import PostTarget
from bot.flow.outbox import Outbox
from bot.flow.runs import Runs
from bot.ledger import steps as ledger_steps
from bot.ledger.ledger import Ledger
from bot.ledger.remote_threads import RemoteThreads
from graph.remote import AgentServerUnreachable, RemoteRunner

log = logging.getLogger("clearance.inbox")
# The requester of a call nobody in a chat asked for: anyone the rule lists may approve it.
SERVER = Actor("langgraph", "agent-server", "the agent server")
# Seconds a replica's claim on opening a server thread's inbox thread holds: one that died
# between the claim and the post leaves it to the next look after this.
CLAIM_HOLD = 60.0


class Inbox:
    def __init__(self, *, runner: RemoteRunner, threads: RemoteThreads, ledger: Ledger, outbox: Outbox, runs: Runs,
                 channel: str | None, clock: Callable[[], float] = time.time) -> None:
        self.runner = runner
        self.threads = threads
        self.ledger = ledger
        self.outbox = outbox
        self.runs = runs
        self.channel = PostTarget.parse(channel) if channel else None
        self.clock = clock
        self._warned: set[str] = set()
        self._looking = asyncio.Lock()

    async def look(self) -> int:
        """One look at the server; returns how many cards were new. Looks do not overlap in
        one process; across replicas the ledger keeps each card unique."""
        async with self._looking:
            try:
                interrupted = await self.runner.interrupted()
            except AgentServerUnreachable as exc:
                log.warning("inbox: agent server unreachable (%s)", exc)
                return 0
            new = 0
            for server_thread, assistant in interrupted:
                try:
                    conv = await self._home(server_thread, assistant)
                    if conv is not None:
                        new += await self.runs.adopt(conv, SERVER)
                except AgentServerUnreachable as exc:
                    log.warning("inbox: agent server unreachable (%s)", exc)
                    return new
                except Exception:
                    log.exception("inbox: carding server thread %s failed", server_thread)
            return new

    async def _home(self, server_thread: str, assistant: str) -> Conversation | None:
        """The chat thread a server thread's cards go to, opened in the inbox channel if it has
        none yet; None when there is nowhere to put them."""
        known = await self.threads.chat_thread(server_thread)
        if known is not None:
            found = await self.ledger.thread(known)
            return found[0] if found else None
        if self.channel is None:
            if server_thread not in self._warned:
                self._warned.add(server_thread)
                log.warning("inbox: server thread %s waits on an interrupt and has nowhere to go "
                            "(set CLEARANCE_INBOX_CHANNEL)", server_thread)
            return None
        if not await self.ledger.claim(f"inbox:{server_thread}", hold=CLAIM_HOLD):
            return None  # another replica opens its thread; the next look finds it known
        reaching = self.outbox.reaching(self.channel.platform)
        like = (Conversation("slack", "", {}) if self.channel.platform == "slack"
                else await ledger_steps.conversation_at(self.ledger, self.channel.platform, self.channel.where)
                or await ledger_steps.latest_conversation(self.ledger, self.channel.platform))
        if reaching is None or like is None:
            log.warning("inbox: cannot post to %s (platform off or never seen)", self.channel.text)
            return None
        conv, _ = await reaching.start_thread(like, self.channel.where,
                                              f"The agent ({assistant}) waits for a decision on a run it was given "
                                              f"outside the chats (server thread {server_thread}).")
        await self.threads.remember(conv.thread_id, server_thread)
        await self.ledger.save_thread(conv, SERVER)
        return conv

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.look()
            except Exception:
                log.exception("inbox look failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except asyncio.TimeoutError:
                pass
