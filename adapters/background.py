"""Background work that must outlive the request that started it (a click is acked at once;
its execution and resume go on), with every failure logged and a way to wait for the rest
at shutdown or in tests. One helper for the service and every adapter."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Coroutine

log = logging.getLogger("clearance.background")


class Background:
    """A set of tasks: `spawn` keeps a strong reference until the task ends (asyncio keeps
    only weak ones), logs its failure, and `drain` waits for all, including those spawned
    while draining."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: background task failed", self.name, exc_info=task.exception())

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def __len__(self) -> int:
        return len(self._tasks)
