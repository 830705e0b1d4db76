"""One queue per chat (or forum topic): prompts run one at a time, in order.

Different chats run concurrently. A job submitted while another runs waits its
turn; the submitter is told its place so it can say "queued".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class ChatWorkers:
    """A worker task and a queue per key; idle workers go away."""

    def __init__(self) -> None:
        """Start with no workers."""
        self._queues: dict[Hashable, asyncio.Queue[Job]] = {}
        self._busy: dict[Hashable, int] = {}
        self._tasks: dict[Hashable, asyncio.Task[None]] = {}

    def waiting(self, key: Hashable) -> int:
        """Jobs queued or running for ``key``."""
        return self._busy.get(key, 0)

    def submit(self, key: Hashable, job: Job) -> int:
        """Queue ``job`` for ``key``.

        Args:
            key: The chat (or chat and topic).
            job: What to run.

        Returns:
            How many jobs were ahead of it (0: it starts now).
        """
        ahead = self._busy.get(key, 0)
        self._busy[key] = ahead + 1
        queue = self._queues.setdefault(key, asyncio.Queue())
        queue.put_nowait(job)
        if key not in self._tasks or self._tasks[key].done():
            self._tasks[key] = asyncio.create_task(self._work(key, queue), name=f"chat-{key}")
        return ahead

    async def _work(self, key: Hashable, queue: asyncio.Queue[Job]) -> None:
        while not queue.empty():
            job = queue.get_nowait()
            try:
                await job()
            except Exception:
                logger.exception("a job for %s failed", key)
            finally:
                self._busy[key] -= 1
        if not self._busy.get(key):
            self._busy.pop(key, None)
            self._queues.pop(key, None)
            self._tasks.pop(key, None)

    def cancel_queued(self, key: Hashable) -> int:
        """Drop jobs waiting for ``key`` (not the running one); returns how many."""
        queue = self._queues.get(key)
        dropped = 0
        while queue is not None and not queue.empty():
            queue.get_nowait()
            dropped += 1
        if dropped:
            self._busy[key] -= dropped
        return dropped

    async def close(self) -> None:
        """Cancel every worker (at shutdown)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
