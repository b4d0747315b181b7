"""Conversation memory: the thread's messages from the checkpoint, trimmed to fit the model.

The checkpoint keeps the whole thread (it is also what resumes need); only the copy sent to
the model is cut. Cuts happen at turn boundaries: the window starts on a human message, so
an assistant message with `tool_calls` is never separated from its ToolMessages (OpenAI
rejects a request where either half is missing).
"""

from __future__ import annotations

from typing import Callable, Sequence

from langchain_core.messages import AnyMessage, BaseMessage, HumanMessage, trim_messages
from langchain_core.messages.utils import count_tokens_approximately

Trimmer = Callable[[Sequence[AnyMessage]], list[BaseMessage]]

DEFAULT_CONTEXT_TOKENS = 24_000


def make_trimmer(max_tokens: int = DEFAULT_CONTEXT_TOKENS) -> Trimmer:
    """Keep the most recent whole turns that fit in `max_tokens` (approximate count: no
    tokenizer download, and the same for every OpenAI-compatible model)."""

    def trim(history: Sequence[AnyMessage]) -> list[BaseMessage]:
        messages: list[BaseMessage] = list(history)
        kept = trim_messages(
            messages,
            max_tokens=max_tokens,
            token_counter=count_tokens_approximately,
            strategy="last",
            start_on="human",
            allow_partial=False,
            include_system=False,
        )
        if kept and _holds_last_human(kept, messages):
            return kept
        # The current turn alone is over budget (say, a long tool result): send the whole
        # current turn rather than an empty or headless history; the model needs the question.
        return _current_turn(messages)

    return trim


def _holds_last_human(kept: list[BaseMessage], messages: list[BaseMessage]) -> bool:
    last = next((m for m in reversed(messages) if isinstance(m, HumanMessage)), None)
    return last is None or any(m is last or (m.id is not None and m.id == last.id) for m in kept)


def _current_turn(messages: list[BaseMessage]) -> list[BaseMessage]:
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return messages[index:]
    return messages
