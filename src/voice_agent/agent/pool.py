"""A bounded pool of live Claude Code clients: LRU eviction and an idle timeout.

At most ``max_live`` clients (CLI processes) exist at once. A session whose client
was closed gets a new one on its next turn, started with ``resume=<its Claude
session id>``, so the conversation goes on invisibly. When every live client is in
the middle of a turn, a new turn for another session waits for one to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable

from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient

from voice_agent.agent.client import START_TIMEOUT, LiveClient, SDKClientFactory

logger = logging.getLogger(__name__)


class ClientPool:
    """Live clients keyed by session, never more than ``max_live`` at once.

    A client that failed to start keeps its place until its process is gone, so
    the bound holds for processes, not only for usable clients. Every client and
    task the pool starts is kept until it is done, and :meth:`close_all` waits
    for all of them (a client whose closing was abandoned by a cancelled caller
    included).

    Attributes:
        max_live: Most clients alive at once.
        idle_timeout: Seconds after which an unused client is closed (None: never).
        start_timeout: Seconds a new client's CLI may take to connect.
        peak_live: The most clients that were ever alive at once (for benchmarks).
    """

    def __init__(
        self,
        max_live: int = 4,
        idle_timeout: float | None = 1800.0,
        *,
        start_timeout: float = START_TIMEOUT,
        sdk_client: SDKClientFactory = ClaudeSDKClient,
    ) -> None:
        """Create an empty pool.

        Args:
            max_live: Most clients alive at once (at least 1).
            idle_timeout: Seconds after which an unused client is closed.
            start_timeout: Seconds a new client's CLI may take to connect.
            sdk_client: Makes each client's SDK client (tests pass a fake).
        """
        if max_live < 1:
            raise ValueError("max_live must be at least 1")
        self.max_live = max_live
        self.idle_timeout = idle_timeout
        self.start_timeout = start_timeout
        self.peak_live = 0
        self._live: OrderedDict[Hashable, LiveClient] = OrderedDict()
        self._leases: dict[Hashable, int] = {}
        self._changed = asyncio.Condition()
        self._reaper: asyncio.Task[None] | None = None
        self._sdk_client = sdk_client
        self._clients: set[LiveClient] = set()  # every client whose owner task has not ended
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def live_count(self) -> int:
        """How many clients hold a slot now (a client that failed to start, until it is gone)."""
        return len(self._live)

    async def wait_for(self, predicate: Callable[[ClientPool], bool]) -> None:
        """Wait until ``predicate(pool)`` holds; it is checked whenever a client comes or goes.

        Args:
            predicate: A condition on the pool (e.g. ``lambda p: p.live_count == 0``).
        """
        async with self._changed:
            await self._changed.wait_for(lambda: predicate(self))

    def get_live(self, key: Hashable) -> LiveClient | None:
        """The live client for ``key``, if there is one."""
        client = self._live.get(key)
        return client if client is not None and client.alive else None

    @contextlib.asynccontextmanager
    async def lease(
        self, key: Hashable, options: Callable[[], tuple[ClaudeAgentOptions, object]]
    ) -> AsyncIterator[LiveClient]:
        """Hold the client for ``key`` (starting one if needed) for one turn.

        A leased client is never evicted.

        Args:
            key: The session the client serves.
            options: Builds the SDK options (and a signature of what they depend on)
                when a new client must start.

        Yields:
            The live client.
        """
        client = await self._acquire(key, options)
        try:
            yield client
        finally:
            self._release(key)
            client.last_used = time.monotonic()
            async with self._changed:
                self._changed.notify_all()

    async def _acquire(
        self, key: Hashable, options: Callable[[], tuple[ClaudeAgentOptions, object]]
    ) -> LiveClient:
        self._ensure_reaper()
        async with self._changed:
            while True:
                client = self._live.get(key)
                if client is not None and client.alive:
                    self._live.move_to_end(key)
                    self._leases[key] = self._leases.get(key, 0) + 1
                    return client
                if client is not None:
                    # This session's last client failed and is still exiting.
                    await self._changed.wait()
                    continue
                if len(self._live) < self.max_live:
                    break
                victim = next((k for k in self._live if k not in self._leases), None)
                if victim is None:
                    logger.info("all %d Claude Code clients are busy; waiting", self.max_live)
                    await self._changed.wait()
                    continue
                await self._close_locked(victim)
            sdk_options, signature = options()
            client = LiveClient(
                sdk_options,
                key=key,
                on_exit=self._forget,
                signature=signature,
                start_timeout=self.start_timeout,
                sdk_client=self._sdk_client,
            )
            self._live[key] = client
            self._clients.add(client)
            self._leases[key] = self._leases.get(key, 0) + 1
            self.peak_live = max(self.peak_live, len(self._live))
        try:
            await client.start()
        except BaseException:
            # Failed or cancelled while connecting: the owner task stops the CLI and
            # then leaves the pool (``_forget``); until then it keeps its slot.
            self._release(key)
            raise
        return client

    def _release(self, key: Hashable) -> None:
        self._leases[key] -= 1
        if not self._leases[key]:
            del self._leases[key]

    def _forget(self, client: LiveClient) -> None:
        """Drop a client that has exited and wake turns waiting for a slot."""
        self._clients.discard(client)
        if self._live.get(client.key) is client:
            del self._live[client.key]
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # the loop is gone: nobody is waiting
            return
        task = loop.create_task(self._notify(), name="claude-pool-notify")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _close_locked(self, key: Hashable) -> None:
        client = self._live.pop(key, None)
        if client is not None:
            logger.info("closing Claude Code client %s (least recently used)", key)
            await client.close()

    async def close(self, key: Hashable) -> None:
        """Close the client for ``key`` (interrupting its turn), if alive.

        Args:
            key: The session the client serves.
        """
        client = self._live.pop(key, None)
        if client is not None:
            await client.close()
        async with self._changed:
            self._changed.notify_all()

    async def close_all(self) -> None:
        """Close every client, stop the idle reaper, and wait until all of it is done."""
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.wait({self._reaper})  # a cancellation of close_all itself propagates
            self._reaper = None
        clients = {*self._live.values(), *self._clients}
        self._live.clear()
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _ensure_reaper(self) -> None:
        if self.idle_timeout is None or (self._reaper is not None and not self._reaper.done()):
            return
        self._reaper = asyncio.create_task(self._reap(self.idle_timeout), name="claude-reaper")

    async def _reap(self, idle_timeout: float) -> None:
        period = max(0.05, min(idle_timeout / 4, 30.0))
        while True:
            await asyncio.sleep(period)
            await self.close_idle(idle_timeout)

    async def close_idle(self, idle_timeout: float) -> int:
        """Close clients unused for ``idle_timeout`` seconds; returns how many.

        Args:
            idle_timeout: Seconds since a client's last turn.
        """
        now = time.monotonic()
        async with self._changed:
            idle = [
                key
                for key, client in self._live.items()
                if key not in self._leases
                and not client.busy
                and now - client.last_used >= idle_timeout
            ]
            for key in idle:
                logger.info("closing idle Claude Code client %s", key)
                await self._close_locked(key)
            if idle:
                self._changed.notify_all()
        return len(idle)
