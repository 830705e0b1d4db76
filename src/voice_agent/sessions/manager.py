"""Session management for Claude Code SDK.

Manages Claude SDK client instances and their lifecycle: each chat owns named
sessions (one active), persisted in the store; turns run on a bounded pool of
live clients (see :mod:`voice_agent.sessions.turns`).
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any

from voice_agent.agent.events import AgentEvent, TextBlockDone, TurnError
from voice_agent.agent.options import AgentSettings
from voice_agent.sessions.image import ImageAttachment
from voice_agent.sessions.permissions import PERMISSION_MODES, PendingPermission, PermissionHandler
from voice_agent.sessions.records import StoredSession
from voice_agent.sessions.session import Session, SessionInfo
from voice_agent.sessions.storage import SessionStorage
from voice_agent.sessions.turns import TurnRunner

__all__ = ["Session", "SessionInfo", "SessionManager"]

logger = logging.getLogger(__name__)

NotifyCallback = Callable[[str, dict[str, Any]], Coroutine[Any, Any, None]]
RequestListener = Callable[[Session, PendingPermission], Awaitable[None]]


class SessionManager:
    """Manages Claude Code sessions per chat with multi-session support.

    Attributes:
        sessions: Mapping of chat_id to dict of session_name to Session.
        active_sessions: Mapping of chat_id to active session name.
        default_cwd: Default working directory for new sessions.
        permission_timeout: Timeout for permission requests.
        storage: Optional persistent storage for sessions.
        agent: Settings of the Claude Code clients.
    """

    def __init__(
        self,
        default_cwd: str = "/code",
        permission_timeout: int = 300,
        storage: SessionStorage | None = None,
        *,
        agent: AgentSettings | None = None,
    ) -> None:
        """Initialize the session manager and restore stored sessions.

        Args:
            default_cwd: Default working directory for new sessions.
            permission_timeout: Timeout in seconds for permission requests.
            storage: Optional storage for session persistence.
            agent: Settings of the Claude Code clients (defaults: bundled CLI,
                at most 4 live clients, 30 minutes idle timeout).
        """
        self.sessions: dict[int, dict[str, Session]] = {}
        self.active_sessions: dict[int, str] = {}
        self.default_cwd = default_cwd
        self.permission_timeout = permission_timeout
        self.storage = storage
        self.agent = agent or AgentSettings()
        self._runner = TurnRunner(self.agent)
        self._notify_callbacks: dict[int, NotifyCallback] = {}
        self._on_request: RequestListener | None = None
        self._on_resolved: RequestListener | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._restore_sessions()

    # -- construction and persistence ----------------------------------------

    def _new_session(
        self,
        chat_id: int,
        name: str,
        cwd: str,
        *,
        created_at: datetime | None = None,
        message_count: int = 0,
        claude_session_id: str | None = None,
        permission_mode: str = "default",
    ) -> Session:
        handler = PermissionHandler(
            timeout=self.permission_timeout,
            notify_callback=self._notify_callbacks.get(chat_id),
            cwd=cwd,
            extra_roots=self.agent.extra_roots,
            storage=self.storage,
            chat_id=chat_id,
            session_name=name,
            permission_mode=permission_mode,
            listener=self,
        )
        session = Session(
            chat_id=chat_id,
            name=name,
            cwd=cwd,
            created_at=created_at or datetime.now(),
            message_count=message_count,
            permission_handler=handler,
            claude_session_id=claude_session_id,
        )
        return session

    async def permission_requested(
        self, handler: PermissionHandler, request: PendingPermission
    ) -> None:
        """Pass a session's new permission request to the front end's listener."""
        session = self._session_of(handler)
        if self._on_request is not None and session is not None:
            await self._on_request(session, request)

    async def permission_resolved(
        self, handler: PermissionHandler, request: PendingPermission
    ) -> None:
        """Pass a decided permission request to the front end's listener."""
        session = self._session_of(handler)
        if self._on_resolved is not None and session is not None:
            await self._on_resolved(session, request)

    def _session_of(self, handler: PermissionHandler) -> Session | None:
        if handler.chat_id is None or handler.session_name is None:
            return None
        session = self.sessions.get(handler.chat_id, {}).get(handler.session_name)
        return session if session is not None and session.permission_handler is handler else None

    def _restore_sessions(self) -> None:
        """Restore sessions from storage."""
        if not self.storage:
            return
        # Building many long-lived objects at once triggers repeated full collections
        # (about 2/3 of the time at 100,000 sessions); none of them is garbage.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._restore_from(self.storage)
        finally:
            if collecting:
                gc.enable()

    def _restore_from(self, storage: SessionStorage) -> None:
        modes = storage.permission_modes()
        for chat_id, state in storage.load_all().items():
            self.active_sessions[chat_id] = state.active_session
            chat = self.sessions.setdefault(chat_id, {})
            for stored in state.sessions.values():
                try:
                    created_at = datetime.fromisoformat(stored.created_at)
                except ValueError:
                    created_at = datetime.now()
                chat[stored.name] = self._new_session(
                    chat_id,
                    stored.name,
                    stored.cwd,
                    created_at=created_at,
                    message_count=stored.message_count,
                    claude_session_id=stored.claude_session_id,
                    permission_mode=modes.get((chat_id, stored.name), "default"),
                )

    def _persist_session(self, session: Session) -> None:
        """Persist a session to storage."""
        if not self.storage:
            return
        self.storage.save_session(
            StoredSession(
                chat_id=session.chat_id,
                name=session.name,
                cwd=session.cwd,
                created_at=session.created_at.isoformat(),
                message_count=session.message_count,
                claude_session_id=session.claude_session_id,
            )
        )

    def _set_active(self, chat_id: int, name: str) -> None:
        self.active_sessions[chat_id] = name
        if self.storage:
            self.storage.set_active_session(chat_id, name)

    # -- callbacks -------------------------------------------------------------

    def set_notify_callback(self, chat_id: int, callback: NotifyCallback) -> None:
        """Set the notification callback for a chat.

        Args:
            chat_id: Telegram chat ID.
            callback: Async function ``(tool_name, input_data)`` to call for notifications.
        """
        self._notify_callbacks[chat_id] = callback
        for session in self.sessions.get(chat_id, {}).values():
            session.permission_handler.notify_callback = callback

    def set_permission_listeners(
        self, on_request: RequestListener | None, on_resolved: RequestListener | None = None
    ) -> None:
        """Tell a front end about every permission request, for every chat.

        Args:
            on_request: Awaited with ``(session, request)`` when a request starts waiting.
            on_resolved: Awaited with ``(session, request)`` once it is decided or timed out.
        """
        self._on_request, self._on_resolved = on_request, on_resolved

    # -- sessions ----------------------------------------------------------------

    def _get_active_session_name(self, chat_id: int) -> str:
        """Get the active session name for a chat, defaulting to "main"."""
        return self.active_sessions.get(chat_id, "main")

    def get_or_create(
        self, chat_id: int, cwd: str | None = None, name: str | None = None
    ) -> Session:
        """Get existing active session or create new one.

        Args:
            chat_id: Telegram chat ID.
            cwd: Working directory (uses default if not specified).
            name: Session name (uses active session if not specified).

        Returns:
            The session for this chat.
        """
        chat = self.sessions.setdefault(chat_id, {})
        if chat_id not in self.active_sessions:
            self.active_sessions[chat_id] = "main"
        session_name = name or self._get_active_session_name(chat_id)
        if session_name not in chat:
            session = self._new_session(chat_id, session_name, cwd or self.default_cwd)
            chat[session_name] = session
            self._persist_session(session)
            if session_name == self._get_active_session_name(chat_id):
                self._set_active(chat_id, session_name)
        return chat[session_name]

    def _replace(
        self, chat_id: int, cwd: str | None, name: str | None
    ) -> tuple[Session, Session | None]:
        """Create session ``name`` (default "main") as the active one; return it and the old one."""
        chat = self.sessions.setdefault(chat_id, {})
        session_name = name or "main"
        old = chat.get(session_name)
        if old is not None and self.storage:
            self.storage.sticky.clear(chat_id, session_name)
        session = self._new_session(chat_id, session_name, cwd or self.default_cwd)
        chat[session_name] = session
        self._persist_session(session)
        self._set_active(chat_id, session_name)
        return session, old

    async def create_new_async(
        self, chat_id: int, cwd: str | None = None, name: str | None = None
    ) -> Session:
        """Create a new session, replacing any existing one with same name.

        Args:
            chat_id: Telegram chat ID.
            cwd: Working directory.
            name: Session name (uses "main" if not specified).

        Returns:
            The new session.
        """
        session, old = self._replace(chat_id, cwd, name)
        if old is not None:
            await self._runner.close(old)
        return session

    def create_new(self, chat_id: int, cwd: str | None = None, name: str | None = None) -> Session:
        """Create a new session, replacing any existing one with same name.

        Same as :meth:`create_new_async`; the old client closes in a tracked task.

        Args:
            chat_id: Telegram chat ID.
            cwd: Working directory.
            name: Session name (uses "main" if not specified).

        Returns:
            The new session.
        """
        session, old = self._replace(chat_id, cwd, name)
        if old is not None:
            self._close_later(old)
        return session

    def get(self, chat_id: int, name: str | None = None) -> Session | None:
        """Get session for a chat if it exists.

        Args:
            chat_id: Telegram chat ID.
            name: Session name (uses active session if not specified).

        Returns:
            Session or None.
        """
        chat = self.sessions.get(chat_id)
        if chat is None:
            return None
        return chat.get(name or self._get_active_session_name(chat_id))

    def list_sessions(self, chat_id: int) -> list[SessionInfo]:
        """List all sessions for a chat.

        Args:
            chat_id: Telegram chat ID.

        Returns:
            List of SessionInfo objects.
        """
        active = self._get_active_session_name(chat_id)
        return [
            SessionInfo(s.name, s.message_count, s.cwd, s.name == active)
            for s in self.sessions.get(chat_id, {}).values()
        ]

    def get_active_session_name(self, chat_id: int) -> str | None:
        """Get the name of the active session.

        Args:
            chat_id: Telegram chat ID.

        Returns:
            Active session name or None if no sessions.
        """
        return self._get_active_session_name(chat_id) if chat_id in self.sessions else None

    def switch_session(self, chat_id: int, name: str) -> Session | None:
        """Switch to a different session.

        Args:
            chat_id: Telegram chat ID.
            name: Session name to switch to.

        Returns:
            The switched-to session, or None if not found.
        """
        session = self.sessions.get(chat_id, {}).get(name)
        if session is not None:
            self._set_active(chat_id, name)
        return session

    def generate_session_name(self, chat_id: int) -> str:
        """Generate a unique session name for a chat.

        Args:
            chat_id: Telegram chat ID.

        Returns:
            A unique session name like "session-2", "session-3", etc.
        """
        existing = self.sessions.get(chat_id, {})
        counter = 2
        while f"session-{counter}" in existing:
            counter += 1
        return f"session-{counter}"

    def rename_session(self, chat_id: int, old_name: str, new_name: str) -> bool:
        """Rename a session (its order, rules and conversation are kept).

        Args:
            chat_id: Telegram chat ID.
            old_name: Current session name.
            new_name: New session name.

        Returns:
            True if renamed, False if not found or name already exists.
        """
        chat = self.sessions.get(chat_id)
        if chat is None or old_name not in chat or new_name in chat or not new_name:
            return False
        session = chat[old_name]
        session.name = new_name
        session.permission_handler.session_name = new_name
        self.sessions[chat_id] = {(new_name if k == old_name else k): v for k, v in chat.items()}
        if self.active_sessions.get(chat_id) == old_name:
            self.active_sessions[chat_id] = new_name
        if self.storage:
            self.storage.rename_session(chat_id, old_name, new_name)
        return True

    def set_cwd(self, chat_id: int, cwd: str) -> Session:
        """Set the working directory for the active session.

        The next prompt starts the session's Claude Code process afresh in the new
        directory; the conversation continues.

        Args:
            chat_id: Telegram chat ID.
            cwd: New working directory.

        Returns:
            The updated session.
        """
        session = self.get_or_create(chat_id)
        session.cwd = cwd
        session.permission_handler.cwd = cwd
        self._persist_session(session)
        return session

    def _forget(self, chat_id: int, name: str) -> Session | None:
        """Remove a session from memory and the store; the first remaining one becomes active."""
        chat = self.sessions.get(chat_id)
        if chat is None or name not in chat:
            return None
        session = chat.pop(name)
        if self.storage:
            self.storage.delete_session(chat_id, name)
        if self.active_sessions.get(chat_id) == name:
            if chat:
                self.active_sessions[chat_id] = next(iter(chat))
            else:
                del self.sessions[chat_id]
                del self.active_sessions[chat_id]
        return session

    async def close_session_async(self, chat_id: int, name: str) -> bool:
        """Close a specific session asynchronously.

        Args:
            chat_id: Telegram chat ID.
            name: Session name to close.

        Returns:
            True if session was closed, False if not found.
        """
        session = self._forget(chat_id, name)
        if session is None:
            return False
        await self._runner.close(session)
        return True

    def close_session(self, chat_id: int, name: str) -> bool:
        """Close a specific session synchronously.

        Same as :meth:`close_session_async`; the client closes in a tracked task.

        Args:
            chat_id: Telegram chat ID.
            name: Session name to close.

        Returns:
            True if session was closed, False if not found.
        """
        session = self._forget(chat_id, name)
        if session is None:
            return False
        self._close_later(session)
        return True

    async def delete_session_async(self, chat_id: int) -> bool:
        """Delete the active session asynchronously (legacy compatibility).

        Args:
            chat_id: Telegram chat ID.

        Returns:
            True if session was deleted, False if not found.
        """
        return await self.close_session_async(chat_id, self._get_active_session_name(chat_id))

    def delete_session(self, chat_id: int) -> bool:
        """Delete the active session synchronously (legacy compatibility).

        Args:
            chat_id: Telegram chat ID.

        Returns:
            True if session was deleted, False if not found.
        """
        return self.close_session(chat_id, self._get_active_session_name(chat_id))

    def set_claude_session_id(self, chat_id: int, session_id: str | None) -> None:
        """Set the Claude session ID for resume capability.

        Args:
            chat_id: Telegram chat ID.
            session_id: Claude CLI session ID or None to clear.
        """
        session = self.get(chat_id)
        if session:
            session.claude_session_id = session_id
            self._persist_session(session)

    def has_resumable_session(self, chat_id: int) -> bool:
        """Check if a chat has a resumable Claude session.

        Args:
            chat_id: Telegram chat ID.

        Returns:
            True if there's a session with a Claude session ID.
        """
        session = self.get(chat_id)
        return session is not None and session.claude_session_id is not None

    def get_status(self, chat_id: int) -> str | None:
        """Get status of the active session.

        Args:
            chat_id: Telegram chat ID.

        Returns:
            Status string or None if no session.
        """
        session = self.get(chat_id)
        return session.get_status() if session else None

    def set_permission_mode(self, chat_id: int, mode: str, name: str | None = None) -> Session:
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

    # -- turns -------------------------------------------------------------------

    def _record_session_id(self, session: Session, claude_session_id: str) -> None:
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
        self,
        chat_id: int,
        prompt: str,
        images: list[ImageAttachment] | None = None,
        name: str | None = None,
    ) -> AsyncIterator[AgentEvent]:
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
        async for event in self._runner.run(session, prompt, images, self._record_session_id):
            yield event

    async def send_prompt(
        self,
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
        async for event in self.stream(chat_id, prompt, images):
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
        session = self.get(chat_id, name)
        return session is not None and await self._runner.interrupt(session)

    async def clear_context(self, chat_id: int, name: str | None = None) -> bool:
        """Start a fresh Claude conversation in a session (name, cwd and rules stay).

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
        session.claude_session_id = None
        self._persist_session(session)
        return True

    async def restart(self, chat_id: int, name: str | None = None) -> bool:
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
    def live_clients(self) -> int:
        """How many Claude Code processes are alive now."""
        return self._runner.pool.live_count

    def _close_later(self, session: Session) -> None:
        """Close a session's client in a task the manager tracks (awaited by :meth:`aclose`)."""
        session.permission_handler.deny_all("The session was closed")
        if self._runner.pool.get_live(session.key) is None:
            return
        task = asyncio.get_running_loop().create_task(self._runner.pool.close(session.key))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        """Close every Claude Code client; call before the event loop ends."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self._runner.pool.close_all()
