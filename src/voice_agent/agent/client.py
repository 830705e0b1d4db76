"""One live Claude Code client, owned by one long-lived task.

The SDK's ``ClaudeSDKClient`` keeps an anyio task group open from connect to
disconnect, so it must be opened, used and closed from the same task. Here one
owner task does all three; callers only put commands in its inbox (run a turn,
interrupt it, close) and read the turn's events from a queue. Close, interrupt
and restart are therefore clean: no subprocess is killed from outside.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient, ClaudeSDKError, Message

from voice_agent.agent.events import AgentEvent, SlashCommand, TurnError, TurnResult
from voice_agent.agent.parse import MessageParser, described_commands

logger = logging.getLogger(__name__)

START_TIMEOUT = 60.0
"""Seconds a CLI may take to connect (start and answer ``initialize``) before it is given up."""
INTERRUPT_TIMEOUT = 10.0
"""Seconds a running turn may take to stop once interrupted, before it is cancelled."""

UserInput = str | dict[str, Any]
SDKClientFactory = Callable[[ClaudeAgentOptions], ClaudeSDKClient]
"""Makes the SDK client a :class:`LiveClient` serves (tests pass a fake)."""


class AgentUnavailable(Exception):
    """The Claude Code CLI could not be started or has gone away."""


@dataclass
class _Turn:
    message: UserInput
    events: asyncio.Queue[AgentEvent | None] = field(default_factory=asyncio.Queue)


@dataclass
class _Interrupt:
    done: asyncio.Future[bool]


@dataclass
class _Close:
    pass


_Command = _Turn | _Interrupt | _Close


async def _single(message: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    yield message


async def _described(client: ClaudeSDKClient) -> dict[str, SlashCommand]:
    """The CLI's slash commands with their descriptions, from its ``initialize`` answer."""
    try:
        return described_commands(await client.get_server_info())
    except ClaudeSDKError as exc:  # a client that answered no ``initialize`` (a test double)
        logger.debug("no server info: %s", exc)
        return {}


class LiveClient:
    """A ``ClaudeSDKClient`` served by its own task.

    Attributes:
        key: What the client serves (the pool's key), for logs.
        signature: What the options were built from (compared to decide a restart).
        last_used: ``time.monotonic()`` of the last turn's end.
    """

    def __init__(
        self,
        options: ClaudeAgentOptions,
        key: object = None,
        on_exit: Callable[[LiveClient], None] | None = None,
        signature: object = None,
        *,
        start_timeout: float = START_TIMEOUT,
        interrupt_timeout: float = INTERRUPT_TIMEOUT,
        sdk_client: SDKClientFactory = ClaudeSDKClient,
    ) -> None:
        """Prepare (but do not start) the client.

        Args:
            options: Options for the SDK client.
            key: What the client serves, for logs and the pool.
            on_exit: Called once the owner task has closed the client.
            signature: What the options were built from (compared to decide a restart).
            start_timeout: Seconds the CLI may take to connect.
            interrupt_timeout: Seconds a turn may take to stop once interrupted.
            sdk_client: Makes the SDK client from ``options`` (default: ``ClaudeSDKClient``).
        """
        self.key = key
        self.signature = signature
        self.last_used = time.monotonic()
        self._options = options
        self._on_exit = on_exit
        self._start_timeout = start_timeout
        self._interrupt_timeout = interrupt_timeout
        self._sdk_client = sdk_client
        self._inbox: asyncio.Queue[_Command] = asyncio.Queue()
        self._ready: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._turn: asyncio.Task[bool] | None = None
        self._closed = False
        self._commands: dict[str, SlashCommand] = {}

    @property
    def alive(self) -> bool:
        """Whether the owner task is running (started and not closed)."""
        return self._task is not None and not self._closed

    @property
    def busy(self) -> bool:
        """Whether a turn is running."""
        return self._turn is not None and not self._turn.done()

    async def start(self) -> None:
        """Start the owner task and wait until the CLI is connected.

        After ``start_timeout`` seconds the wait ends with :class:`AgentUnavailable`
        while the owner task stops the CLI in the background (the SDK gives it a few
        seconds to exit); the client is no longer :attr:`alive` from then on. If
        the caller is cancelled meanwhile, connecting stops the same way.

        Raises:
            AgentUnavailable: The CLI could not be started in time.
        """
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        # Whoever waits sees the failure; if nobody does, it must not be reported as lost.
        self._ready.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._task = asyncio.create_task(self._own(), name=f"claude-client-{self.key}")
        try:
            await asyncio.shield(self._ready)
        except asyncio.CancelledError:
            # Stop connecting; the owner task stops the CLI and exits on its own.
            self._closed = True
            self._task.cancel()
            raise

    async def run_turn(self, message: UserInput) -> AsyncGenerator[AgentEvent, None]:
        """Send one user message and yield the turn's events until its result.

        Args:
            message: Prompt text, or a stream-json user message dict (images).

        Yields:
            The turn's events; the last is a :class:`TurnResult` or :class:`TurnError`.
        """
        if not self.alive:
            yield TurnError("Claude Code is not running", kind="cli-exited")
            return
        turn = _Turn(message)
        self._inbox.put_nowait(turn)
        while (event := await turn.events.get()) is not None:
            yield event

    async def interrupt(self) -> bool:
        """Stop the running turn; the client stays usable.

        Returns:
            True if a turn was running and was asked to stop.
        """
        if not self.alive or not self.busy:
            return False
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._inbox.put_nowait(_Interrupt(done))
        return await done

    async def close(self) -> None:
        """Close the client from its owner task and wait until it is gone.

        A client still connecting is stopped at once: its owner task is inside
        the SDK's connect and does not read its inbox yet.
        """
        task = self._task
        if task is None or task.done():
            return
        if self._ready is not None and not self._ready.done():
            task.cancel()
        else:
            self._inbox.put_nowait(_Close())
        # Waiting never raises the owner's outcome, and cancelling the waiter
        # leaves the owner to finish closing.
        await asyncio.wait({task})

    # -- the owner task ----------------------------------------------------

    async def _own(self) -> None:
        assert self._ready is not None
        try:
            client = self._sdk_client(self._options)
            await self._connect(client)
            self._commands = await _described(client)
            try:
                self._ready.set_result(None)
                logger.info("Claude Code client %s started", self.key)
                await self._serve(client)
            finally:
                await client.disconnect()
        except AgentUnavailable as exc:
            logger.warning("Claude Code client %s: %s", self.key, exc)
            if not self._ready.done():
                self._ready.set_exception(exc)
        except Exception as exc:
            logger.warning("Claude Code client %s failed: %s", self.key, exc)
            if not self._ready.done():
                self._ready.set_exception(AgentUnavailable(f"Claude Code could not start: {exc}"))
        finally:
            self._closed = True
            if not self._ready.done():
                self._ready.set_exception(AgentUnavailable("Claude Code stopped while starting"))
            self._drain_inbox()
            logger.info("Claude Code client %s closed", self.key)
            if self._on_exit is not None:
                self._on_exit(self)

    async def _connect(self, client: ClaudeSDKClient) -> None:
        """Connect within ``start_timeout``; the SDK stops the CLI when connecting fails."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._start_timeout
        failure = AgentUnavailable(f"Claude Code did not start within {self._start_timeout:g} s")
        # The waiter hears of it at the deadline, not after the SDK's grace period
        # for the CLI to exit.
        late = loop.call_at(deadline, self._give_up, failure)
        try:
            async with asyncio.timeout_at(deadline):
                await client.connect()
        except TimeoutError as exc:
            raise failure from exc
        finally:
            late.cancel()

    def _give_up(self, failure: AgentUnavailable) -> None:
        """Answer the waiter of :meth:`start` now; the client will not be used."""
        assert self._ready is not None
        self._closed = True
        if not self._ready.done():
            self._ready.set_exception(failure)

    async def _serve(self, client: ClaudeSDKClient) -> None:
        command_wait: asyncio.Task[_Command] | None = None
        try:
            while True:
                if command_wait is None:
                    command_wait = asyncio.create_task(self._inbox.get())
                waits: set[asyncio.Task[Any]] = {command_wait}
                if self._turn is not None:
                    waits.add(self._turn)
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                turn = self._turn
                if turn is not None and turn in done:
                    broken = turn.cancelled() or turn.exception() is not None or not turn.result()
                    self._turn = None
                    self.last_used = time.monotonic()
                    if broken:
                        return
                if command_wait in done:
                    command = command_wait.result()
                    command_wait = None
                    if not await self._handle(client, command):
                        return
        finally:
            self._closed = True  # no new work from here on, even while disconnecting
            if command_wait is not None:
                if command_wait.done() and not command_wait.cancelled():
                    self._refuse(command_wait.result())
                command_wait.cancel()
            await self._stop_turn(client)

    async def _handle(self, client: ClaudeSDKClient, command: _Command) -> bool:
        """Carry out one command; False means close the client."""
        if isinstance(command, _Turn):
            if self.busy:
                command.events.put_nowait(TurnError("a turn is already running"))
                command.events.put_nowait(None)
            else:
                self._turn = asyncio.create_task(self._run(client, command))
            return True
        if isinstance(command, _Interrupt):
            stopped = await self._interrupt(client)
            if not command.done.done():  # its caller may have given up waiting
                command.done.set_result(stopped)
            return True
        return False

    async def _interrupt(self, client: ClaudeSDKClient) -> bool:
        if not self.busy:
            return False
        try:
            await asyncio.wait_for(client.interrupt(), self._interrupt_timeout)
        except (TimeoutError, ClaudeSDKError) as exc:
            logger.warning("interrupt of %s failed: %s", self.key, exc)
            return False
        return True

    async def _stop_turn(self, client: ClaudeSDKClient) -> None:
        """Stop a running turn: interrupt it, and cancel it if it does not end in time.

        Waiting uses ``asyncio.wait``, which never raises the turn's outcome, so a
        cancellation of the owner task itself is never mistaken for the turn's and
        always propagates.
        """
        turn = self._turn
        if turn is None or turn.done():
            return
        try:
            await self._interrupt(client)
            done, _ = await asyncio.wait({turn}, timeout=self._interrupt_timeout)
            if not done:
                turn.cancel()
                await asyncio.wait({turn})
        finally:
            if not turn.done():  # the owner task itself is being cancelled
                turn.cancel()
        if not turn.cancelled():
            turn.exception()  # retrieved: ``_run`` has reported it to the turn's reader

    async def _run(self, client: ClaudeSDKClient, turn: _Turn) -> bool:
        """Serve one turn; returns False when the client is no longer usable."""
        parser = MessageParser(self._commands)
        finished = False
        sent = False
        try:
            if isinstance(turn.message, str):
                await client.query(turn.message)
            else:
                await client.query(_single(turn.message))
            sent = True
            # The SDK's receive_response() is an async generator: closed here, in this task.
            messages = cast(AsyncGenerator[Message, None], client.receive_response())
            async with contextlib.aclosing(messages):
                async for message in messages:
                    for event in parser.parse(message):
                        finished = finished or isinstance(event, TurnResult)
                        turn.events.put_nowait(event)
            if not finished:
                self._closed = True
                turn.events.put_nowait(
                    TurnError("Claude Code stopped in the middle of the answer", kind="cli-exited")
                )
        except asyncio.CancelledError:
            turn.events.put_nowait(TurnError("The turn was cancelled", kind="cancelled"))
            raise
        except Exception as exc:
            logger.warning("turn on %s failed: %s", self.key, exc)
            # Mark the client dead before the caller hears of it, so its next turn
            # starts a new process instead of queueing on this one.
            self._closed = True
            if sent:
                error = TurnError(f"Claude Code stopped unexpectedly: {exc}", kind="cli-exited")
            else:  # it had died while idle: the prompt never reached it
                error = TurnError(f"Claude Code had stopped: {exc}", kind="cli-gone")
            turn.events.put_nowait(error)
        finally:
            turn.events.put_nowait(None)
        return finished

    def _drain_inbox(self) -> None:
        """Answer commands that arrived after the client stopped."""
        while not self._inbox.empty():
            self._refuse(self._inbox.get_nowait())

    @staticmethod
    def _refuse(command: _Command) -> None:
        """Answer a command the stopped client will not carry out."""
        if isinstance(command, _Turn):
            command.events.put_nowait(TurnError("Claude Code is not running", "cli-exited"))
            command.events.put_nowait(None)
        elif isinstance(command, _Interrupt) and not command.done.done():
            command.done.set_result(False)
