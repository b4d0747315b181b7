"""Runs started outside a chat: an alert hook, a pipeline or a cron job asks the agent for
work in a channel. The bot posts a root message there (`api:<name> asked: …`) and runs the
agent in its thread, cards as usual; the requester is the caller's identity, so four-eyes
holds. An idempotency key never starts a second run: the first caller's thread is the answer.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from adapters.background import Background
from adapters.base import Actor, Conversation
from bot.approvals.ids import PostTarget
from bot.flow.outbox import Outbox
from bot.flow.runs import Runs
from bot.ledger import steps as ledger_steps
from bot.ledger.ledger import Ledger
from bot.ledger.run_keys import RunKeys

log = logging.getLogger("clearance.service")
KEY_WAIT = 5.0  # seconds a second caller with the same key waits for the first one's thread


class StartRefused(Exception):
    """The run cannot be started as asked; the message says why (one sentence)."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Started:
    thread_id: str
    link: str
    created: bool  # False: the idempotency key had started this run before


class OutsideRuns:
    def __init__(self, *, outbox: Outbox, ledger: Ledger, runs: Runs, keys: RunKeys, background: Background) -> None:
        self.outbox = outbox
        self.ledger = ledger
        self.runs = runs
        self.keys = keys
        self.background = background

    async def start(self, post_to: str, text: str, actor: Actor, key: str | None = None) -> Started:
        target = PostTarget.parse(post_to)
        if target is None:
            raise StartRefused("post_to: expected slack:channel:C… or teams:conversation:<id>")
        if not text.strip():
            raise StartRefused("text: the agent needs something to do")
        if key is not None:
            if not await self.keys.claim(key):
                return await self._started_before(key)
        try:
            conv, link = await self._post_root(target, actor, text)
        except BaseException:
            if key is not None:
                await self.keys.release(key)
            raise
        if key is not None:
            await self.keys.fill(key, conv.thread_id, link)
        await self.ledger.save_thread(conv, actor)
        self.background.spawn(self.runs.run_input(conv, actor, text.strip(), author=actor.display))
        return Started(conv.thread_id, link, created=True)

    async def _started_before(self, key: str) -> Started:
        for _ in range(int(KEY_WAIT / 0.1)):
            found = await self.keys.get(key)
            if found is not None:
                return Started(found[0], found[1], created=False)
            await asyncio.sleep(0.1)  # the first caller is still posting its root message
        raise StartRefused("Idempotency-Key: a run with this key is still starting; try again", status=409)

    async def _post_root(self, target: PostTarget, actor: Actor, text: str) -> tuple[Conversation, str]:
        reaching = self.outbox.reaching(target.platform)
        if reaching is None:
            raise StartRefused(f"post_to: {target.platform} is not configured on this server")
        like = (Conversation("slack", "", {}) if target.platform == "slack"
                else await ledger_steps.conversation_at(self.ledger, target.platform, target.where)
                or await ledger_steps.latest_conversation(self.ledger, target.platform))
        if like is None:
            raise StartRefused("post_to: the bot has not seen a Teams conversation yet (install it and say hello)")
        try:
            conv, root = await reaching.start_thread(like, target.where, self.outbox.redact(f"{actor.qualified} asked: "
                                                                                            f"{text.strip()}"))
        except StartRefused:
            raise
        except Exception as exc:
            log.warning("starting a run in %s failed: %s", target.text, type(exc).__name__)
            raise StartRefused(f"post_to: {target.text} could not be posted to ({type(exc).__name__})",
                               status=502) from None
        try:
            link = await reaching.link(conv, root)
        except Exception:
            link = ""
        return conv, link
