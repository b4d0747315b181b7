"""The console: reads lines from stdin (a TTY or a pipe), prints cards and answers."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from typing import Awaitable, Callable, TextIO

from adapters.base import (
    Actor,
    ApprovalCard,
    CardStatus,
    Conversation,
    Decision,
    DecisionClick,
    DecisionHandler,
    InboundMessage,
    MessageHandler,
    MessageRef,
    Outcome,
)
from adapters.console.parse import Control, Decide, Say, SwitchUser, parse_line
from adapters.console.render import HELP, render_card, render_outcome, render_progress


@dataclass
class ConsoleAdapter:
    out: TextIO = field(default_factory=lambda: sys.stdout)
    platform: str = "console"
    numbers: dict[str, str] = field(default_factory=dict)  # "3" → approval id
    shown: dict[str, tuple[int, str]] = field(default_factory=dict)  # id → (revision, preview) printed

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def remember(self, card: ApprovalCard) -> None:
        self.numbers[str(card.number)] = card.approval_id

    async def post_card(self, conversation: Conversation, card: ApprovalCard) -> MessageRef:
        self.remember(card)
        self.shown[card.approval_id] = (card.revision, card.preview)
        self._print(render_card(card))
        return MessageRef(self.platform, {"number": card.number})

    async def update_card(self, conversation: Conversation, ref: MessageRef, card: ApprovalCard) -> None:
        if card.status is not CardStatus.PENDING:
            self._print(render_outcome(card))
        elif self.shown.get(card.approval_id, (card.revision, card.preview)) != (card.revision, card.preview):
            # Edited, or its new revision's preview arrived: the whole card again.
            self.shown[card.approval_id] = (card.revision, card.preview)
            self._print(render_card(card))
        elif card.approvals_so_far:
            self._print(render_progress(card))

    async def post_text(self, conversation: Conversation, text: str) -> MessageRef:
        self._print(f"clearance> {text}")
        return MessageRef(self.platform, {})

    async def update_text(self, conversation: Conversation, ref: MessageRef, text: str) -> None:
        self._print(f"clearance> {text}")

    async def notify(self, conversation: Conversation, actor: Actor, text: str) -> None:
        self._print(f"(only you) {text}")


async def _lines(stream: TextIO) -> asyncio.Queue[str | None]:
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def pump() -> None:
        for line in stream:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    loop.run_in_executor(None, pump)
    return queue


async def run_console(
    adapter: ConsoleAdapter,
    *,
    session: str,
    user: str,
    on_message: MessageHandler,
    on_decision: DecisionHandler,
    pending: Callable[[], Awaitable[list[ApprovalCard]]],
    settle: Callable[[], Awaitable[None]],
    stdin: TextIO | None = None,
) -> None:
    """Each line is handled to the end (run, execution, resume) before the next is read, so a
    piped script sees the same order as a person typing."""
    stdin = stdin or sys.stdin
    interactive = stdin.isatty()
    conv = Conversation(platform="console", thread_id=f"console:{session}", data={"session": session})
    actor = Actor(platform="console", id=user, name=user)
    adapter._print(f"Clearance console — session {session!r}, you are console:{user}. Type 'help'.")
    waiting = await pending()
    if waiting:
        adapter._print(f"{len(waiting)} pending approval(s) from before:")
        for card in waiting:
            await adapter.post_card(conv, card)
    queue = await _lines(stdin)
    count = 0
    while True:
        if interactive:
            adapter.out.write(f"{actor.id}> ")
            adapter.out.flush()
        line = await queue.get()
        if line is None:
            break
        command = parse_line(line)
        if command is None:
            continue
        if not interactive:
            adapter._print(f"{actor.id}> {line.strip()}")
        if isinstance(command, Control):
            if command.what == "quit":
                break
            if command.what == "help":
                adapter._print(HELP)
            else:
                cards = await pending()
                for card in cards:
                    await adapter.post_card(conv, card)
                if not cards:
                    adapter._print("No pending approvals.")
            continue
        if isinstance(command, SwitchUser):
            actor = Actor(platform="console", id=command.name, name=command.name)
            adapter._print(f"You are now console:{actor.id}.")
            continue
        if isinstance(command, Say):
            count += 1
            await on_message(InboundMessage(conv, command.text, actor, event_id=""))
        elif isinstance(command, Decide):
            approval_id = adapter.numbers.get(command.ref, command.ref)
            if not approval_id.startswith("apv_"):
                adapter._print(f"No card {command.ref} in this session; type 'pending' to list them.")
                continue
            result = await on_decision(
                DecisionClick(approval_id, command.decision, actor, command.reason, conv,
                              args=dict(command.args) if command.decision is Decision.EDIT else None)
            )
            still_open = result.card is not None and result.card.status is CardStatus.PENDING
            if result.outcome is not Outcome.ACCEPTED or still_open:
                adapter._print(f"(only you) {result.message}")
        await settle()
