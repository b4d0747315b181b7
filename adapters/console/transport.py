"""The console: reads lines from stdin (a TTY or a pipe), prints cards and answers."""

from __future__ import annotations

import asyncio
import enum
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable, TextIO, TypeVar

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

T = TypeVar("T")


@dataclass
class ConsoleAdapter:
    out: TextIO = field(default_factory=lambda: sys.stdout)
    platform: str = "console"
    numbers: dict[str, str] = field(default_factory=dict)  # "3" → approval id
    # The session on screen: the sweeper also expires and finishes cards of other console
    # sessions in the same database, and their notices must not print into this one.
    thread_id: str | None = None
    shown: dict[str, tuple[int, str]] = field(default_factory=dict)  # id → (revision, preview) printed

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _mine(self, conversation: Conversation) -> bool:
        return self.thread_id is None or conversation.thread_id == self.thread_id

    def _show(self, conversation: Conversation, text: str) -> None:
        if self._mine(conversation):
            self._print(text)

    def remember(self, card: ApprovalCard) -> None:
        self.numbers[str(card.number)] = card.approval_id

    async def post_card(self, conversation: Conversation, card: ApprovalCard) -> MessageRef:
        if self._mine(conversation):
            self.remember(card)
            self.shown[card.approval_id] = (card.revision, card.preview)
            self._print(render_card(card))
        return MessageRef(self.platform, {"number": card.number})

    async def update_card(self, conversation: Conversation, ref: MessageRef, card: ApprovalCard) -> None:
        if card.status is not CardStatus.PENDING:
            self._show(conversation, render_outcome(card))
        elif self.shown.get(card.approval_id, (card.revision, card.preview)) != (card.revision, card.preview):
            # Edited, or its new revision's preview arrived: the whole card again.
            self.shown[card.approval_id] = (card.revision, card.preview)
            self._show(conversation, render_card(card))
        elif card.approvals_so_far:
            self._show(conversation, render_progress(card))

    async def post_text(self, conversation: Conversation, text: str) -> MessageRef:
        self._show(conversation, f"clearance> {text}")
        return MessageRef(self.platform, {})

    async def update_text(self, conversation: Conversation, ref: MessageRef, text: str) -> None:
        self._show(conversation, f"clearance> {text}")

    async def notify(self, conversation: Conversation, actor: Actor, text: str) -> None:
        self._show(conversation, f"(only you) {text}")


def _pump(stream: TextIO, put: Callable[[str | None], None]) -> None:
    """Read lines until EOF. A real file descriptor is read with os.read: a daemon thread
    blocked there holds no interpreter lock, so leaving (quit, Ctrl-C) never waits for it
    nor trips over it at shutdown."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        fd = -1
    if fd < 0:
        for line in stream:
            put(line)
        put(None)
        return
    pending = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            put(raw.decode("utf-8", "replace") + "\n")
    if pending:
        put(pending.decode("utf-8", "replace"))
    put(None)


def _lines(stream: TextIO) -> asyncio.Queue[str | None]:
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def put(line: str | None) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        except RuntimeError:  # the loop is gone: we are leaving
            pass

    threading.Thread(target=_pump, args=(stream, put), name="console-stdin", daemon=True).start()
    return queue


async def _until(work: Awaitable[T], stop: asyncio.Event) -> tuple[bool, T | None]:
    """Run `work` unless `stop` is set first; (False, None) when stopped (work cancelled)."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task.done():
        return True, task.result()
    task.cancel()
    return False, None


class Ended(enum.Enum):
    """How a console session ended."""

    EOF = "eof"  # end of input, or quit
    AT_PROMPT = "at_prompt"  # Ctrl-C while waiting for a line
    IN_COMMAND = "in_command"  # Ctrl-C while a command ran: its calls may still be running


async def run_console(
    adapter: ConsoleAdapter,
    *,
    session: str,
    user: str,
    on_message: MessageHandler,
    on_decision: DecisionHandler,
    pending: Callable[[], Awaitable[list[ApprovalCard]]],
    settle: Callable[[], Awaitable[None]],
    find: Callable[[str], Awaitable[ApprovalCard | None]] | None = None,
    stdin: TextIO | None = None,
    interrupt: asyncio.Event | None = None,
    now: Callable[[], float] = time.time,
) -> Ended:
    """Each line is handled to the end (run, execution, resume) before the next is read, so a
    piped script sees the same order as a person typing. `interrupt` (set on Ctrl-C) ends the
    session at the prompt or stops waiting for a running command. `find`: a card of this
    session by number, whatever its state, so a decision on an expired card says so."""
    stdin = stdin or sys.stdin
    stop = interrupt or asyncio.Event()
    interactive = stdin.isatty()
    conv = Conversation(platform="console", thread_id=f"console:{session}", data={"session": session})
    actor = Actor(platform="console", id=user, name=user)
    adapter._print(f"Clearance console — session {session!r}, you are console:{user}. Type 'help'.")
    waiting = await pending()
    if waiting:
        adapter._print(f"{len(waiting)} pending approval(s) from before:")
        for card in waiting:
            await adapter.post_card(conv, card)
    queue = _lines(stdin)
    count = 0
    while True:
        if interactive:
            adapter.out.write(f"{actor.id}> ")
            adapter.out.flush()
        got, line = await _until(queue.get(), stop)
        if not got:
            return Ended.AT_PROMPT
        if line is None:
            return Ended.EOF
        command = parse_line(line)
        if command is None:
            continue
        if not interactive:
            adapter._print(f"{actor.id}> {line.strip()}")
        if isinstance(command, Control):
            if command.what == "quit":
                return Ended.EOF
            if command.what == "help":
                adapter._print(HELP)
            else:
                cards = [c for c in await pending() if not _past(c, now())]
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
            work: Awaitable[object] = on_message(InboundMessage(conv, command.text, actor, event_id=""))
        else:
            assert isinstance(command, Decide)
            target = await _card(adapter, command.ref, find)
            if target is None:
                adapter._print(f"No card {command.ref} in this session; type 'pending' to list them.")
                continue
            if target.status is CardStatus.EXPIRED or _past(target, now()):
                adapter._print(f"Card {command.ref} expired; ask again if it is still needed.")
                continue
            work = _decide(adapter, on_decision, DecisionClick(
                target.approval_id, command.decision, actor, command.reason, conv,
                args=dict(command.args) if command.decision is Decision.EDIT else None))
        finished, _ = await _until(work, stop)
        if finished:
            finished, _ = await _until(settle(), stop)
        if not finished:
            return Ended.IN_COMMAND


def _past(card: ApprovalCard, now: float) -> bool:
    """Pending past its expiry: expired, whether or not a sweeper has recorded it yet."""
    return card.status is CardStatus.PENDING and card.expires_at is not None and card.expires_at <= now


async def _card(adapter: ConsoleAdapter, ref: str,
                find: Callable[[str], Awaitable[ApprovalCard | None]] | None) -> ApprovalCard | None:
    if find is not None:
        card = await find(adapter.numbers.get(ref, ref))
        if card is not None:
            return card
    approval_id = adapter.numbers.get(ref, ref)
    if not approval_id.startswith("apv_"):
        return None
    # Without a lookup, a known id is taken as pending; the service judges it.
    return ApprovalCard(approval_id=approval_id, tool="", args={}, requester=Actor("console", ""),
                        rule="", status=CardStatus.PENDING)


async def _decide(adapter: ConsoleAdapter, on_decision: DecisionHandler, click: DecisionClick) -> None:
    result = await on_decision(click)
    still_open = result.card is not None and result.card.status is CardStatus.PENDING
    if result.outcome is not Outcome.ACCEPTED or still_open:
        adapter._print(f"(only you) {result.message}")
