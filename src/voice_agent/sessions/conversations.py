"""The Claude conversation of each session: prompts, turns, a fresh start, the client.

:class:`Conversations` is held by the session manager as ``manager.conversations``.
It runs a session's turns on the pool of live clients, records the Claude session
id each turn reports (so the next prompt resumes it), starts a fresh conversation
(``/clear``), restarts or closes a session's Claude Code process, and records each
turn's usage. Which sessions exist is the manager's business: it is reached
through the manager's public lookup (:class:`SessionLookup`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Protocol

from voice_agent.agent.events import AgentEvent, TextBlockDone, TurnError, TurnResult
from voice_agent.sessions.image import ImageAttachment
from voice_agent.sessions.restore import persist
from voice_agent.sessions.session import Session
from voice_agent.sessions.storage import SessionStorage
from voice_agent.sessions.turns import Runner

logger = logging.getLogger(__name__)


class SessionLookup(Protocol):
    """Finding a chat's sessions (the session manager's public methods)."""

    def get(self, chat_id: int, name: str | None = None) -> Session | None:
        """The session, if it exists."""

    def get_or_create(
        self, chat_id: int, cwd: str | None = None, name: str | None = None
    ) -> Session:
        """The session, made if it does not exist."""


class Conversations:
    """Each session's conversation with Claude, on a bounded pool of live clients.

    Attributes:
        runner: Runs turns on the pool of live Claude Code clients.
    """

    def __init__(
        self, runner: Runner, storage: SessionStorage | None, sessions: SessionLookup
    ) -> None:
        """Hold the turn runner, the store and the way to find sessions.

        Args:
            runner: Runs turns (on the pool of live Claude Code clients, or elsewhere).
            storage: Where session records and usage are written, if anywhere.
            sessions: Finds (or makes) a chat's sessions.
        """
        self.runner = runner
        self._storage = storage
        self._sessions = sessions
        self._background: set[asyncio.Task[None]] = set()

    # -- turns -------------------------------------------------------------

    async def stream(
        self,
        chat_id: int,
        prompt: str,
        images: list[ImageAttachment] | None = None,
        name: str | None = None,
    ) -> AsyncGenerator[AgentEvent, None]:
        """Send a prompt to a session and stream the turn's events.

        Args:
            chat_id: Telegram chat ID.
            prompt: The prompt to send.
            images: Optional image attachments.
            name: Session name (the active one if None).

        Yields:
            The turn's events, the last a ``TurnResult`` or a ``TurnError``.
        """
        session = self._sessions.get_or_create(chat_id, name=name)
        session.message_count += 1
        persist(self._storage, session)
        turn = self.runner.run(session, prompt, images, self.record_session_id)
        async with contextlib.aclosing(turn) as events:
            async for event in events:
                if isinstance(event, TurnResult) and self._storage is not None:
                    self._storage.usage.record(
                        session.chat_id,
                        session.name,
                        event.cost_usd or 0.0,
                        event.input_tokens,
                        event.output_tokens,
                        event.duration_ms,
                    )
                yield event

    async def send_prompt(
        self,
        chat_id: int,
        prompt: str,
        resume: bool = True,
        images: list[ImageAttachment] | None = None,
    ) -> AsyncIterator[str]:
        """Send a prompt to the active session and stream its text blocks.

        Args:
            chat_id: Telegram chat ID.
            prompt: The prompt to send.
            resume: False starts a fresh Claude conversation in the same session.
            images: Optional image attachments for multimodal prompts.

        Yields:
            Each complete text block, or one ``"Error: ..."`` chunk when the turn failed.
        """
        if not resume:
            await self.clear(chat_id)
        async with contextlib.aclosing(self.stream(chat_id, prompt, images)) as events:
            async for event in events:
                if isinstance(event, TextBlockDone):
                    yield event.text
                elif isinstance(event, TurnError):
                    yield f"Error: {event.message}"

    async def interrupt(self, chat_id: int, name: str | None = None) -> bool:
        """Stop the running turn of a session without losing the session.

        Args:
            chat_id: Telegram chat ID.
            name: Session name (the active one if None).

        Returns:
            True if a turn was running.
        """
        session = self._sessions.get(chat_id, name)
        return session is not None and await self.runner.interrupt(session)

    # -- the Claude session id -------------------------------------------------

    def record_session_id(self, session: Session, claude_session_id: str) -> None:
        """Keep the Claude session id a turn reported, so that the next prompt resumes it.

        Args:
            session: The session whose turn reported it.
            claude_session_id: The Claude CLI session id.
        """
        if session.claude_session_id != claude_session_id:
            logger.info(
                "chat %s session %s is Claude session %s",
                session.chat_id,
                session.name,
                claude_session_id,
            )
            session.claude_session_id = claude_session_id
        persist(self._storage, session)

    def set_claude_session_id(
        self, chat_id: int, session_id: str | None, name: str | None = None
    ) -> None:
        """Set the Claude session id to resume; a different id is another conversation.

        Args:
            chat_id: Telegram chat ID.
            session_id: Claude CLI session id, or None to clear.
            name: Session name (the active one if None).
        """
        session = self._sessions.get(chat_id, name)
        if session:
            if session.claude_session_id != session_id:
                session.conversation += 1
            session.claude_session_id = session_id
            persist(self._storage, session)

    def has_resumable(self, chat_id: int) -> bool:
        """Whether the chat's active session has a Claude session id to resume.

        Args:
            chat_id: Telegram chat ID.
        """
        session = self._sessions.get(chat_id)
        return session is not None and session.claude_session_id is not None

    async def clear(self, chat_id: int, name: str | None = None) -> bool:
        """Start a fresh Claude conversation in a session (name, cwd and rules stay).

        A turn running meanwhile is stopped, and what it reports afterwards (its
        Claude session id) is not recorded: the next prompt starts afresh.

        Args:
            chat_id: Telegram chat ID.
            name: Session name (the active one if None).

        Returns:
            True if the session exists.
        """
        session = self._sessions.get(chat_id, name)
        if session is None:
            return False
        session.conversation += 1
        session.claude_session_id = None
        persist(self._storage, session)
        await self.runner.close(session)
        return True

    # -- the live client ---------------------------------------------------------

    async def restart(self, chat_id: int, name: str | None = None) -> bool:
        """Close a session's Claude Code process; the next prompt resumes in a new one.

        Args:
            chat_id: Telegram chat ID.
            name: Session name (the active one if None).

        Returns:
            True if the session exists.
        """
        session = self._sessions.get(chat_id, name)
        if session is None:
            return False
        await self.runner.close(session)
        return True

    async def close(self, session: Session) -> None:
        """Close a session's client (its pending requests are denied).

        Args:
            session: The session.
        """
        await self.runner.close(session)

    def close_later(self, session: Session) -> None:
        """Close a session's client in a tracked task (awaited by :meth:`aclose`).

        Args:
            session: The session.
        """
        session.permission_handler.deny_all("The session was closed")
        if self.runner.pool.get_live(session.key) is None:
            return
        task = asyncio.get_running_loop().create_task(self.runner.pool.close(session.key))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @property
    def live_clients(self) -> int:
        """How many Claude Code processes are alive now."""
        return self.runner.pool.live_count

    async def aclose(self) -> None:
        """Close every Claude Code client; call before the event loop ends."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.runner.pool.close_all()
