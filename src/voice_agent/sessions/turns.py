"""Running turns: a session's prompt through its pooled Claude Code client.

One turn at a time per session (its ``turn_lock``); different sessions run
concurrently, bounded by the pool. A closed client is reopened with the
session's Claude session id, so the conversation resumes invisibly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any, Protocol

from claude_agent_sdk import ClaudeAgentOptions

from voice_agent.agent.client import AgentUnavailable, LiveClient
from voice_agent.agent.events import AgentEvent, SessionStarted, TurnError, TurnResult
from voice_agent.agent.options import AgentSettings, GateAnswer, build_options
from voice_agent.agent.pool import ClientPool
from voice_agent.sessions.image import ImageAttachment, build_user_message
from voice_agent.sessions.session import Session

logger = logging.getLogger(__name__)

_DRAIN_TIMEOUT = 15.0


class Runner(Protocol):
    """What runs a session's turns: :class:`TurnRunner` here, or one that sends some elsewhere.

    The session manager (``runner=``) runs every turn through one; the machines
    package gives one that runs sessions living on other machines there.
    """

    @property
    def pool(self) -> ClientPool:
        """The live Claude Code clients of this machine."""

    def run(
        self,
        session: Session,
        prompt: str,
        images: list[ImageAttachment] | None,
        on_session_id: Callable[[Session, str], None],
    ) -> AsyncGenerator[AgentEvent, None]:
        """Run one turn and yield its events; the last is a result or an error."""

    async def interrupt(self, session: Session) -> bool:
        """Stop the session's running turn; True if one was running."""

    async def close(self, session: Session) -> None:
        """Close the session's Claude Code process (the conversation can resume)."""


class TurnRunner:
    """Runs turns for sessions on a bounded pool of clients.

    Attributes:
        settings: The shared client settings.
        pool: The live clients.
    """

    def __init__(self, settings: AgentSettings) -> None:
        """Create a runner with an empty pool.

        Args:
            settings: The shared client settings.
        """
        self.settings = settings
        self.pool = ClientPool(
            settings.max_live_clients, settings.idle_timeout, start_timeout=settings.start_timeout
        )

    def _options(self, session: Session) -> Callable[[], ClaudeAgentOptions]:
        handler = session.permission_handler

        async def ask(
            tool_name: str, input_data: dict[str, Any], tool_use_id: str | None
        ) -> tuple[bool, str | None, dict[str, Any] | None]:
            return await handler.decide_call(tool_name, input_data, tool_use_id=tool_use_id)

        async def check(
            tool_name: str, input_data: dict[str, Any], tool_use_id: str | None
        ) -> GateAnswer:
            verdict = await handler.pre_check(tool_name, input_data, tool_use_id)
            if verdict is None or not verdict.unasked:
                return GateAnswer(allow=False)
            return GateAnswer(allow=True, updated_input=verdict.updated_input)

        def build() -> ClaudeAgentOptions:
            return build_options(
                self.settings,
                cwd=session.cwd,
                resume=session.claude_session_id,
                permission_mode=session.permission_mode,
                ask=ask,
                check=check,
            )

        return build

    def _start_options(self, session: Session) -> Callable[[], tuple[ClaudeAgentOptions, object]]:
        build = self._options(session)
        return lambda: (build(), _signature(session))

    async def run(
        self,
        session: Session,
        prompt: str,
        images: list[ImageAttachment] | None,
        on_session_id: Callable[[Session, str], None],
    ) -> AsyncGenerator[AgentEvent, None]:
        """Run one turn and yield its events; the last is a result or an error.

        Args:
            session: The session to run in.
            prompt: The user's text.
            images: Images to send with it.
            on_session_id: Called when the turn reports a (new) Claude session id.

        Yields:
            The turn's events.
        """
        message: str | dict[str, Any] = build_user_message(prompt, images) if images else prompt
        async with session.turn_lock:
            if session.closed:  # closed (or replaced) while this turn waited for the last one
                yield TurnError(f"Session {session.name} was closed", kind="closed")
                return
            session.stop_requested = False
            conversation = session.conversation

            def report(claude_session_id: str) -> None:
                # A closed session, or one cleared since this turn began, keeps what it has.
                if not session.closed and session.conversation == conversation:
                    on_session_id(session, claude_session_id)

            live = self.pool.get_live(session.key)
            if live is not None and live.signature != _signature(session):
                # The cwd, plan mode or conversation changed since the process started.
                await self.pool.close(session.key)
            try:
                # A CLI that died while idle is found out when the prompt is written to
                # it: nothing was sent, so the turn runs once more on a new process.
                for attempt in (1, 2):
                    gone = False
                    async with self.pool.lease(session.key, self._start_options(session)) as client:
                        if session.stop_requested:  # stopped while the process was starting
                            yield TurnResult(session.claude_session_id or "", interrupted=True)
                            return
                        served = self._serve(client, message, session)
                        async with contextlib.aclosing(served) as events:
                            async for event in events:
                                if isinstance(event, TurnError) and event.kind == "cli-gone":
                                    gone = attempt == 1
                                    if gone:
                                        break
                                if isinstance(event, SessionStarted):
                                    report(event.session_id)
                                    continue
                                if isinstance(event, TurnResult) and event.session_id:
                                    report(event.session_id)
                                yield event
                    if not gone:
                        break
                    logger.info("Claude Code of %s had stopped; starting it again", session.name)
            except AgentUnavailable as exc:
                yield TurnError(str(exc), kind="cli-start")
            finally:
                session.permission_handler.deny_all("The turn ended")

    async def _serve(
        self, client: LiveClient, message: str | dict[str, Any], session: Session
    ) -> AsyncGenerator[AgentEvent, None]:
        finished = False
        stopping = False
        async with contextlib.aclosing(client.run_turn(message)) as events:
            try:
                async for event in events:
                    if session.stop_requested and not stopping:
                        # Stop was asked before the turn was under way: stop it now.
                        stopping = True
                        await client.interrupt()
                    finished = isinstance(event, TurnResult | TurnError)
                    yield event
            finally:
                if not finished:
                    # The consumer stopped early: stop the turn so the client is free again.
                    await client.interrupt()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(_drain(events), _DRAIN_TIMEOUT)

    async def interrupt(self, session: Session) -> bool:
        """Stop the session's running turn; pending approvals are denied.

        Args:
            session: The session.

        A turn whose process is still starting is stopped as soon as it can be.

        Returns:
            True if a turn was running (or waiting to run).
        """
        if not session.busy:
            return False
        session.stop_requested = True
        client = self.pool.get_live(session.key)
        stopping = asyncio.create_task(client.interrupt()) if client is not None else None
        session.permission_handler.deny_all("Interrupted by the user")
        if stopping is not None:
            await stopping
        return True

    async def close(self, session: Session) -> None:
        """Close the session's client (its conversation can still be resumed).

        Args:
            session: The session.
        """
        session.permission_handler.deny_all("The session was closed")
        await self.pool.close(session.key)


def _signature(session: Session) -> tuple[str, bool, int]:
    """What a running client was started with that a new turn may have changed."""
    return (session.cwd, session.permission_mode == "plan", session.conversation)


async def _drain(events: AsyncIterator[AgentEvent]) -> None:
    async for _ in events:
        pass
