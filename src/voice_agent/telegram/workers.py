"""One queue per chat (or forum topic): what was sent runs one at a time, in order.

Different chats run concurrently. A job submitted while another runs waits its
turn; the submitter is told its place so it can say "queued".

A message whose job is not known yet (a voice note still being downloaded and
transcribed) takes its :class:`Place` when it arrives with :meth:`ChatWorkers.reserve`:
what comes after it waits for it, and it is given its job (:meth:`Place.fill`) or
gives up its place (:meth:`Place.release`) once its meaning is known.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class Place:
    """A place in a chat's queue, taken now and given its job later (or given up).

    Attributes:
        dropped: ``/cancel`` dropped the place: whatever it is given does not run.
    """

    def __init__(self, workers: ChatWorkers, key: Hashable) -> None:
        """An empty place of queue ``key``; :meth:`ChatWorkers.reserve` makes them."""
        self._workers = workers
        self._key = key
        self._job: Job | None = None
        self._ready = asyncio.Event()
        self.dropped = False

    @property
    def settled(self) -> bool:
        """Whether the place was filled, released or dropped."""
        return self._ready.is_set()

    def fill(self, job: Job) -> int:
        """Run ``job`` at this place.

        Args:
            job: What to run when the jobs ahead are done.

        Returns:
            How many jobs are still ahead of it (0: it starts now, or it was
            :attr:`dropped` and never runs).

        Raises:
            RuntimeError: The place was already filled or released.
        """
        if self._ready.is_set() and not self.dropped:
            raise RuntimeError("this place in the queue is already settled")
        self._job = job
        self._ready.set()
        return self._workers.ahead_of(self._key, self)

    def release(self) -> None:
        """Give the place up, if it was not filled: nothing runs there, the queue goes on."""
        self._ready.set()

    async def wait(self) -> Job | None:
        """The job to run here, once known (None: released, or dropped by ``/cancel``)."""
        await self._ready.wait()
        return None if self.dropped else self._job


class ChatWorkers:
    """A worker task and a queue of places per key; idle workers go away."""

    def __init__(self) -> None:
        """Start with no workers."""
        self._queues: dict[Hashable, deque[Place]] = {}
        self._running: dict[Hashable, Place] = {}
        self._tasks: dict[Hashable, asyncio.Task[None]] = {}

    def queued_or_running(self, key: Hashable) -> int:
        """Jobs (and places still to be filled) queued for ``key``, plus the one running."""
        return len(self._queues.get(key, ())) + (1 if key in self._running else 0)

    def waiting(self, key: Hashable) -> int:
        """The old name of :meth:`queued_or_running` (it counts the running job too)."""
        return self.queued_or_running(key)

    def ahead_of(self, key: Hashable, place: Place) -> int:
        """How many places of ``key`` come before ``place`` (0 when it runs or is gone)."""
        queue = self._queues.get(key, deque())
        if place not in queue:
            return 0
        return queue.index(place) + (1 if key in self._running else 0)

    def reserve(self, key: Hashable) -> Place:
        """Take the next place in ``key``'s queue, to be filled or released later.

        Args:
            key: The chat (or chat and topic).

        Returns:
            The place: everything submitted after it waits until it is settled.
        """
        place = Place(self, key)
        self._queues.setdefault(key, deque()).append(place)
        if key not in self._tasks or self._tasks[key].done():
            self._tasks[key] = asyncio.create_task(self._work(key), name=f"chat-{key}")
        return place

    def submit(self, key: Hashable, job: Job) -> int:
        """Queue ``job`` for ``key``.

        Args:
            key: The chat (or chat and topic).
            job: What to run.

        Returns:
            How many jobs were ahead of it (0: it starts now).
        """
        ahead = self.queued_or_running(key)
        self.reserve(key).fill(job)
        return ahead

    async def _work(self, key: Hashable) -> None:
        queue = self._queues[key]
        try:
            while queue:
                place = queue.popleft()
                self._running[key] = place
                try:
                    job = await place.wait()
                    if job is not None:
                        await job()
                except Exception:
                    logger.exception("a job for %s failed", key)
                finally:
                    del self._running[key]
        finally:
            if not queue and self._queues.get(key) is queue:
                del self._queues[key]
                self._tasks.pop(key, None)

    def cancel_queued(self, key: Hashable) -> int:
        """Drop what waits for ``key`` (not a running job); returns how many.

        A place still waiting for its job counts as waiting, even at the head of
        the queue: whatever it is given later does not run.
        """
        dropped = list(self._queues.get(key, ()))
        if dropped:
            self._queues[key].clear()
        running = self._running.get(key)
        if running is not None and not running.settled:
            dropped.append(running)
        for place in dropped:
            place.dropped = True
            place.release()
        return len(dropped)

    async def close(self) -> Stopped:
        """Cancel every worker (at shutdown), and say what that stopped.

        Returns:
            The keys whose job was cut off while running, and how many places
            each key still had waiting (those never run).
        """
        stopped = Stopped(
            running=[key for key, place in self._running.items() if place.settled],
            dropped={key: len(queue) for key, queue in self._queues.items() if queue},
        )
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return stopped


@dataclass(frozen=True)
class Stopped:
    """What :meth:`ChatWorkers.close` stopped.

    Attributes:
        running: The keys whose running job was cut off.
        dropped: How many queued places each key had (never run).
    """

    running: list[Hashable]
    dropped: dict[Hashable, int]
