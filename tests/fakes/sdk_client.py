"""An in-process stand-in for ``ClaudeSDKClient``: no CLI process, behaviour scripted by a test.

It is passed to :class:`~voice_agent.agent.client.LiveClient` (and the pool) as
``sdk_client``. Each instance records what happened to it in events a test can
wait on, so tests synchronise on what the client did, never on time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient, Message, ResultMessage


@dataclass
class Behaviour:
    """How the fake clients made by one :class:`FakeClients` behave.

    Attributes:
        connect_hangs: ``connect()`` never returns (a CLI that never answers ``initialize``).
        stubborn_turn: A turn never ends by itself and, once cancelled, waits for
            ``release`` before it lets the cancellation through.
        slow_disconnect: ``disconnect()`` waits for ``release``.
        slow_interrupt: ``interrupt()`` waits for ``release``.
        release: Lets whatever waits for it go.
    """

    connect_hangs: bool = False
    stubborn_turn: bool = False
    slow_disconnect: bool = False
    slow_interrupt: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)


class FakeSDKClient(ClaudeSDKClient):
    """A client that starts nothing; each turn answers with one result message."""

    def __init__(self, options: ClaudeAgentOptions, behaviour: Behaviour) -> None:
        super().__init__(options)
        self.behaviour = behaviour
        self.connecting = asyncio.Event()
        self.connect_cancelled = asyncio.Event()
        self.turn_started = asyncio.Event()
        self.turn_cancelled = asyncio.Event()
        self.interrupting = asyncio.Event()
        self.disconnecting = asyncio.Event()
        self.disconnected = asyncio.Event()

    async def connect(self, prompt: str | AsyncIterable[dict[str, Any]] | None = None) -> None:
        self.connecting.set()
        if self.behaviour.connect_hangs:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.connect_cancelled.set()
                raise

    async def disconnect(self) -> None:
        self.disconnecting.set()
        if self.behaviour.slow_disconnect:
            await self.behaviour.release.wait()
        self.disconnected.set()

    async def query(
        self, prompt: str | AsyncIterable[dict[str, Any]], session_id: str = "default"
    ) -> None:
        return None

    async def interrupt(self) -> None:
        self.interrupting.set()
        if self.behaviour.slow_interrupt:
            await self.behaviour.release.wait()

    async def receive_response(self) -> AsyncIterator[Message]:
        self.turn_started.set()
        if self.behaviour.stubborn_turn:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.turn_cancelled.set()
                await self.behaviour.release.wait()
                raise
        yield ResultMessage(
            subtype="success",
            duration_ms=1,
            duration_api_ms=1,
            is_error=False,
            num_turns=1,
            session_id="fake-session",
            result="done",
        )


class FakeClients:
    """Makes fake clients (the ``sdk_client`` factory) and keeps each one it made."""

    def __init__(self, *behaviours: Behaviour) -> None:
        """Clients take ``behaviours`` in turn; the last one is reused after that.

        Args:
            *behaviours: How the first, second... client behaves (default: well).
        """
        self.behaviours = list(behaviours) or [Behaviour()]
        self.made: list[FakeSDKClient] = []
        self.any_made = asyncio.Event()

    def __call__(self, options: ClaudeAgentOptions) -> ClaudeSDKClient:
        behaviour = self.behaviours[min(len(self.made), len(self.behaviours) - 1)]
        client = FakeSDKClient(options, behaviour)
        self.made.append(client)
        self.any_made.set()
        return client
