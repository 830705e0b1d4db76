"""Turns of a session: prompts, interrupts, restarts and permission modes.

Mixed into :class:`~voice_agent.sessions.manager.SessionManager`; the session
bookkeeping it relies on is described by ``_Host``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Protocol

from voice_agent.agent.events import AgentEvent, TextBlockDone, TurnError, TurnResult
from voice_agent.sessions.image import ImageAttachment
from voice_agent.sessions.permissions import PERMISSION_MODES
from voice_agent.sessions.session import Session
from voice_agent.sessions.storage import SessionStorage
from voice_agent.sessions.turns import TurnRunner

logger = logging.getLogger(__name__)


class _Host(Protocol):
    """What the conversation methods need from the session manager."""

    storage: SessionStorage | None
    _runner: TurnRunner
    _background: set[asyncio.Task[None]]

    def get(self, chat_id: int, name: str | None = None) -> Session | None: ...

    def get_or_create(
        self, chat_id: int, cwd: str | None = None, name: str | None = None
    ) -> Session: ...

    def _persist_session(self, session: Session) -> None: ...

    def _record_session_id(self, session: Session, claude_session_id: str) -> None: ...

    def stream(
        self: _Host,
        chat_id: int,
        prompt: str,
        images: list[ImageAttachment] | None = None,
        name: str | None = None,
    ) -> AsyncGenerator[AgentEvent, None]: ...

    async def clear_context(self, chat_id: int, name: str | None = None) -> bool: ...


class ConversationMixin:
    """Prompts and the other per-turn operations of :class:`SessionManager`."""

    def set_permission_mode(
        self: _Host, chat_id: int, mode: str, name: str | None = None
    ) -> Session:
        """Set a session's permission mode (``default``, ``acceptEdits`` or ``plan``).

        Args:
            chat_id: Telegram chat ID.
            mode: The new mode.
            name: Session name (the active one if None).

        Returns:
            The session.

        Raises:
            ValueError: Unknown mode.
        """
        if mode not in PERMISSION_MODES:
            raise ValueError(
                f"unknown permission mode {mode!r}; use one of {', '.join(PERMISSION_MODES)}"
            )
        session = self.get_or_create(chat_id, name=name)
        session.permission_handler.permission_mode = mode
        if self.storage:
            self.storage.set_permission_mode(chat_id, session.name, mode)
        return session

    def _record_session_id(self: _Host, session: Session, claude_session_id: str) -> None:
        if session.claude_session_id != claude_session_id:
            logger.info(
                "chat %s session %s is Claude session %s",
                session.chat_id,
                session.name,
                claude_session_id,
            )
            session.claude_session_id = claude_session_id
        self._persist_session(session)

    async def stream(
        self: _Host,
        chat_id: int,
        prompt: str,
        images: list[ImageAttachment] | None = None,
        name: str | None = None,
    ) -> AsyncGenerator[AgentEvent, None]:
        """Send a prompt to a session and stream the turn's events.

        Text deltas, complete text blocks, tool calls started and finished, and
        finally a :class:`~voice_agent.agent.events.TurnResult` (cost, usage,
        session id) or a :class:`~voice_agent.agent.events.TurnError`.

        Args:
            chat_id: Telegram chat ID.
            prompt: The prompt to send.
            images: Optional image attachments.
            name: Session name (the active one if None).

        Yields:
            The turn's events.
        """
        session = self.get_or_create(chat_id, name=name)
        session.message_count += 1
        self._persist_session(session)
        turn = self._runner.run(session, prompt, images, self._record_session_id)
        async with contextlib.aclosing(turn) as events:
            async for event in events:
                if isinstance(event, TurnResult) and self.storage is not None:
                    self.storage.usage.record(
                        session.chat_id,
                        session.name,
                        event.cost_usd or 0.0,
                        event.input_tokens,
                        event.output_tokens,
                        event.duration_ms,
                    )
                yield event

    async def send_prompt(
        self: _Host,
        chat_id: int,
        prompt: str,
        resume: bool = True,
        images: list[ImageAttachment] | None = None,
    ) -> AsyncIterator[str]:
        """Send a prompt to the active session and stream responses.

        Uses a persistent, pooled Claude Code client: no reload per prompt.

        Args:
            chat_id: Telegram chat ID.
            prompt: The prompt to send.
            resume: Whether to resume existing session if available; False starts
                a fresh Claude conversation in the same session.
            images: Optional image attachments for multimodal prompts.

        Yields:
            Response chunks from Claude (each complete text block), or one
            ``"Error: ..."`` chunk when the turn failed.
        """
        if not resume:
            await self.clear_context(chat_id)
        async with contextlib.aclosing(self.stream(chat_id, prompt, images)) as events:
            async for event in events:
                if isinstance(event, TextBlockDone):
                    yield event.text
                elif isinstance(event, TurnError):
                    yield f"Error: {event.message}"

    async def interrupt(self: _Host, chat_id: int, name: str | None = None) -> bool:
        """Stop the running turn of a session without losing the session.

        Args:
            chat_id: Telegram chat ID.
            name: Session name (the active one if None).

        Returns:
            True if a turn was running.
        """
        session = self.get(chat_id, name)
        return session is not None and await self._runner.interrupt(session)

    async def clear_context(self: _Host, chat_id: int, name: str | None = None) -> bool:
        """Start a fresh Claude conversation in a session (name, cwd and rules stay).

        A turn running meanwhile is stopped, and what it reports afterwards (its
        Claude session id) is not recorded: the next prompt starts afresh.

        Args:
            chat_id: Telegram chat ID.
            name: Session name (the active one if None).

        Returns:
            True if the session exists.
        """
        session = self.get(chat_id, name)
        if session is None:
            return False
        session.conversation += 1
        session.claude_session_id = None
        self._persist_session(session)
        await self._runner.close(session)
        return True

    async def restart(self: _Host, chat_id: int, name: str | None = None) -> bool:
        """Close a session's Claude Code process; the next prompt resumes in a new one.

        Args:
            chat_id: Telegram chat ID.
            name: Session name (the active one if None).

        Returns:
            True if the session exists.
        """
        session = self.get(chat_id, name)
        if session is None:
            return False
        await self._runner.close(session)
        return True

    @property
    def live_clients(self: _Host) -> int:
        """How many Claude Code processes are alive now."""
        return self._runner.pool.live_count

    def _close_later(self: _Host, session: Session) -> None:
        """Close a session's client in a task the manager tracks (awaited by :meth:`aclose`)."""
        session.permission_handler.deny_all("The session was closed")
        if self._runner.pool.get_live(session.key) is None:
            return
        task = asyncio.get_running_loop().create_task(self._runner.pool.close(session.key))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self: _Host) -> None:
        """Close every Claude Code client; call before the event loop ends."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self._runner.pool.close_all()
