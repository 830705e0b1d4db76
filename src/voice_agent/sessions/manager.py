"""Session management for Claude Code SDK.

Manages Claude SDK client instances and their lifecycle: each chat owns named
sessions (one active), persisted in the store; turns run on a bounded pool of
live clients (see :mod:`voice_agent.sessions.turns`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from datetime import datetime
from typing import Any

from voice_agent.agent.events import AgentEvent
from voice_agent.agent.options import AgentSettings
from voice_agent.policy.jail import Jail, default_jail
from voice_agent.sessions.conversations import Conversations
from voice_agent.sessions.image import ImageAttachment
from voice_agent.sessions.permissions import PERMISSION_MODES, PermissionHandler
from voice_agent.sessions.relay import PermissionRelay, RequestListener
from voice_agent.sessions.restore import persist, restore, to_stored
from voice_agent.sessions.session import Session, SessionBusy, SessionInfo
from voice_agent.sessions.storage import SessionStorage
from voice_agent.sessions.topics import ForumTopics
from voice_agent.sessions.turns import Runner, TurnRunner

__all__ = ["Session", "SessionBusy", "SessionInfo", "SessionManager"]

logger = logging.getLogger(__name__)

NotifyCallback = Callable[[str, dict[str, Any]], Coroutine[Any, Any, None]]


class SessionManager:
    """Manages Claude Code sessions per chat with multi-session support.

    Attributes:
        sessions: Mapping of chat_id to dict of session_name to Session.
        active_sessions: Mapping of chat_id to active session name.
        topics: The session of each forum topic (:class:`ForumTopics`, read as a
            mapping of chat_id to (thread id to session name)).
        topic_titles: The known title of each bound forum topic, by (chat_id, thread id).
        default_cwd: Default working directory for new sessions.
        permission_timeout: Timeout for permission requests.
        storage: Optional persistent storage for sessions.
        agent: Settings of the Claude Code clients.
        jail: Where Bash commands that run unasked run.
        conversations: Each session's conversation with Claude (prompts and
            turns, interrupts, ``/clear``, the Claude session id, live clients).
    """

    def __init__(
        self,
        default_cwd: str = "/code",
        permission_timeout: int = 300,
        storage: SessionStorage | None = None,
        *,
        agent: AgentSettings | None = None,
        jail: Jail | None = None,
        runner: Runner | None = None,
    ) -> None:
        """Initialize the session manager and restore stored sessions.

        Args:
            default_cwd: Default working directory for new sessions.
            permission_timeout: Timeout in seconds for permission requests.
            storage: Optional storage for session persistence; the manager holds
                it (:meth:`SessionStorage.hold`) so that changes made from outside
                while it runs are refused instead of being silently undone.
            agent: Settings of the Claude Code clients (defaults: bundled CLI,
                at most 4 live clients, 30 minutes idle timeout).
            jail: Where Bash commands that run unasked run (default: bubblewrap
                with the default limits; see :mod:`voice_agent.policy.jail`).
            runner: Runs the turns (default: a ``TurnRunner`` on ``agent``; the
                machines hub passes one that runs remote sessions where they live).
        """
        self.sessions: dict[int, dict[str, Session]] = {}
        self.active_sessions: dict[int, str] = {}
        self.default_cwd = default_cwd
        self.permission_timeout = permission_timeout
        self.storage = storage
        self.agent = agent or AgentSettings()
        self.jail = jail or default_jail()
        self.topics = ForumTopics(
            self.sessions,
            ensure_chat=self._ensure_general,
            open_session=self._open_topic_session,
            rename_session=self.rename_session,
            table=storage.topics if storage is not None else None,
        )
        self._runner = runner or TurnRunner(self.agent)
        self.conversations = Conversations(self._runner, storage, self)
        self._notify_callbacks: dict[int, NotifyCallback] = {}
        self._relay = PermissionRelay(self.sessions)
        if storage is not None:
            storage.hold()
        self._restore_sessions()

    # -- construction and persistence ----------------------------------------

    def _new_session(
        self,
        chat_id: int,
        name: str,
        cwd: str,
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
            listener=self._relay,
            jail=self.jail,
        )
        return Session(
            chat_id=chat_id,
            name=name,
            cwd=cwd,
            created_at=created_at or datetime.now(),
            message_count=message_count,
            permission_handler=handler,
            claude_session_id=claude_session_id,
        )

    def _restore_sessions(self) -> None:
        """Restore sessions from storage."""
        if self.storage:
            sessions, active = restore(self.storage, self._new_session)
            self.sessions.update(sessions)
            self.active_sessions.update(active)

    def _persist_session(self, session: Session) -> None:
        """Persist a session to storage (never one that was closed or replaced)."""
        persist(self.storage, session)

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
        self._relay.on_request, self._relay.on_resolved = on_request, on_resolved

    # -- forum topics (the work is done by self.topics) --------------------------

    @property
    def topic_titles(self) -> dict[tuple[int, int], str]:
        """The known title of each bound forum topic, by (chat_id, thread id)."""
        return self.topics.titles

    def topic_session(
        self, chat_id: int, thread_id: int, title: str | None = None, cwd: str | None = None
    ) -> Session:
        """The session a forum topic works in (see :meth:`ForumTopics.topic_session`)."""
        return self.topics.topic_session(chat_id, thread_id, title, cwd)

    def new_topic_session(
        self, chat_id: int, thread_id: int, name: str, cwd: str | None = None
    ) -> Session:
        """Start a new session for a topic (see :meth:`ForumTopics.new_topic_session`)."""
        return self.topics.new_topic_session(chat_id, thread_id, name, cwd)

    def bind_topic(self, chat_id: int, thread_id: int, name: str) -> Session | None:
        """Make a topic work in an existing session (see :meth:`ForumTopics.bind_topic`)."""
        return self.topics.bind_topic(chat_id, thread_id, name)

    def retitle_topic(self, chat_id: int, thread_id: int, title: str) -> str | None:
        """Follow a topic's new title (see :meth:`ForumTopics.retitle_topic`)."""
        return self.topics.retitle_topic(chat_id, thread_id, title)

    def topic_of(self, session: Session) -> int | None:
        """The thread of a topic working in ``session`` (the first one), or None."""
        return self.topics.topic_of(session)

    def _ensure_general(self, chat_id: int) -> None:
        """Give the chat its active session first, so the General topic keeps its own."""
        if chat_id not in self.active_sessions:
            self.get_or_create(chat_id)

    def _open_topic_session(self, chat_id: int, name: str, cwd: str | None) -> Session:
        """Start session ``name`` for a topic, not made active; one it replaces is closed."""
        session, old = self._replace(chat_id, cwd, name, activate=False)
        if old is not None:
            self.conversations.close_later(old)
        return session

    # -- sessions ----------------------------------------------------------------

    def _active_name_or_main(self, chat_id: int) -> str:
        """The chat's active session name; "main" when it has none yet."""
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
        session_name = name or self._active_name_or_main(chat_id)
        if session_name not in chat:
            session = self._new_session(chat_id, session_name, cwd or self.default_cwd)
            chat[session_name] = session
            self._persist_session(session)
            if session_name == self._active_name_or_main(chat_id):
                self._set_active(chat_id, session_name)
        return chat[session_name]

    def _replace(
        self, chat_id: int, cwd: str | None, name: str | None, activate: bool = True
    ) -> tuple[Session, Session | None]:
        """Create session ``name`` (default "main"), made active unless told not to.

        Returns:
            The new session and the one it replaced, if any.
        """
        chat = self.sessions.setdefault(chat_id, {})
        session_name = name or "main"
        old = chat.get(session_name)
        if old is not None:
            old.closed = True  # what its last turn reports must not overwrite the new one
        session = self._new_session(chat_id, session_name, cwd or self.default_cwd)
        chat[session_name] = session
        if self.storage:
            if old is not None:
                self.storage.sticky.clear(chat_id, session_name)
            # A new session starts in the default permission mode, in the store too.
            self.storage.replace_session(to_stored(session))
        if activate:
            self._set_active(chat_id, session_name)
        return session, old

    async def create_new_async(
        self, chat_id: int, cwd: str | None = None, name: str | None = None
    ) -> Session:
        """Create a new session, replacing any existing one with same name.

        The new session starts afresh: a new Claude conversation, no sticky
        rules, the ``default`` permission mode (in the store too, so a restart
        does not bring the old mode back). The old one's client is closed, and
        nothing its last turn reports is stored.

        Args:
            chat_id: Telegram chat ID.
            cwd: Working directory.
            name: Session name (uses "main" if not specified).

        Returns:
            The new session.
        """
        session, old = self._replace(chat_id, cwd, name)
        if old is not None:
            await self.conversations.close(old)
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
            self.conversations.close_later(old)
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
        return chat.get(name or self._active_name_or_main(chat_id))

    def list_sessions(self, chat_id: int) -> list[SessionInfo]:
        """List all sessions for a chat.

        Args:
            chat_id: Telegram chat ID.

        Returns:
            List of SessionInfo objects.
        """
        active = self._active_name_or_main(chat_id)
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
        return self._active_name_or_main(chat_id) if chat_id in self.sessions else None

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
            True if renamed; False if not found, the name already exists, or the
            store refused (then nothing is renamed, in memory either).
        """
        chat = self.sessions.get(chat_id)
        if chat is None or old_name not in chat or new_name in chat or not new_name:
            return False
        # The store is the source of truth: rename there first, then in memory.
        if self.storage and not self.storage.rename_session(chat_id, old_name, new_name):
            logger.warning(
                "chat %s: the store could not rename session %s to %s; nothing renamed",
                chat_id,
                old_name,
                new_name,
            )
            return False
        session = chat[old_name]
        session.name = new_name
        session.permission_handler.session_name = new_name
        self.sessions[chat_id] = {(new_name if k == old_name else k): v for k, v in chat.items()}
        if self.active_sessions.get(chat_id) == old_name:
            self.active_sessions[chat_id] = new_name
        self.topics.session_renamed(chat_id, old_name, new_name)
        return True

    def set_cwd(self, chat_id: int, cwd: str, name: str | None = None) -> Session:
        """Set the working directory for the active session (or session ``name``).

        The next prompt starts the session's Claude Code process afresh in the new
        directory; the conversation continues. Refused while the session runs a
        turn: its Claude Code process keeps working in the old directory until
        the turn ends, and what may run unasked must be judged where it runs.

        Args:
            chat_id: Telegram chat ID.
            cwd: New working directory.
            name: Session name (the active one if None).

        Returns:
            The updated session.

        Raises:
            SessionBusy: The session is running a turn (or one is waiting to run);
                nothing changed. The message says so, for the user.
        """
        session = self.get_or_create(chat_id, name=name)
        if session.busy:
            raise SessionBusy(
                f"{session.name} is running a turn in {session.cwd}; change its directory "
                "when the turn is over (or stop the turn first)."
            )
        session.cwd = cwd
        session.permission_handler.cwd = cwd
        self._persist_session(session)
        return session

    def _remove_session(self, chat_id: int, name: str) -> Session | None:
        """Remove a session from memory and the store; the first remaining one becomes active.

        Its client is left to the caller to close.
        """
        chat = self.sessions.get(chat_id)
        if chat is None or name not in chat:
            return None
        session = chat.pop(name)
        session.closed = True  # what its running turn reports from now on is not stored
        self.topics.session_removed(chat_id, name)
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
        session = self._remove_session(chat_id, name)
        if session is None:
            return False
        await self.conversations.close(session)
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
        session = self._remove_session(chat_id, name)
        if session is None:
            return False
        self.conversations.close_later(session)
        return True

    async def delete_session_async(self, chat_id: int) -> bool:
        """Close the chat's *active* session, whichever it is (the seed's name).

        Same as :meth:`close_session_async` with the active session's name; kept
        for compatibility. The chat's other sessions stay.

        Args:
            chat_id: Telegram chat ID.

        Returns:
            True if session was deleted, False if not found.
        """
        return await self.close_session_async(chat_id, self._active_name_or_main(chat_id))

    def delete_session(self, chat_id: int) -> bool:
        """Close the chat's *active* session, whichever it is (the seed's name).

        Same as :meth:`close_session` with the active session's name; kept for
        compatibility. The chat's other sessions stay.

        Args:
            chat_id: Telegram chat ID.

        Returns:
            True if session was deleted, False if not found.
        """
        return self.close_session(chat_id, self._active_name_or_main(chat_id))

    def set_claude_session_id(
        self, chat_id: int, session_id: str | None, name: str | None = None
    ) -> None:
        """Set the Claude session ID for resume capability.

        A different id is another conversation: a turn still running in the old one
        no longer records its id, and the next prompt starts Claude Code afresh on
        the new one.

        Args:
            chat_id: Telegram chat ID.
            session_id: Claude CLI session ID or None to clear.
            name: Session name (the active one if None).
        """
        self.conversations.set_claude_session_id(chat_id, session_id, name)

    def has_resumable_session(self, chat_id: int) -> bool:
        """Check if a chat has a resumable Claude session.

        Args:
            chat_id: Telegram chat ID.

        Returns:
            True if there's a session with a Claude session ID.
        """
        return self.conversations.has_resumable(chat_id)

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

    # -- conversations: one-line delegates to :attr:`conversations` -------------

    def stream(
        self,
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

        Returns:
            The turn's events (an async generator).
        """
        return self.conversations.stream(chat_id, prompt, images, name)

    def send_prompt(
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

        Returns:
            Response chunks from Claude (each complete text block), or one
            ``"Error: ..."`` chunk when the turn failed.
        """
        return self.conversations.send_prompt(chat_id, prompt, resume, images)

    async def interrupt(self, chat_id: int, name: str | None = None) -> bool:
        """Stop the running turn of a session without losing the session.

        Args:
            chat_id: Telegram chat ID.
            name: Session name (the active one if None).

        Returns:
            True if a turn was running.
        """
        return await self.conversations.interrupt(chat_id, name)

    async def clear_context(self, chat_id: int, name: str | None = None) -> bool:
        """Start a fresh Claude conversation in a session (name, cwd and rules stay).

        A turn running meanwhile is stopped, and what it reports afterwards (its
        Claude session id) is not recorded: the next prompt starts afresh.

        Args:
            chat_id: Telegram chat ID.
            name: Session name (the active one if None).

        Returns:
            True if the session exists.
        """
        return await self.conversations.clear(chat_id, name)

    async def restart(self, chat_id: int, name: str | None = None) -> bool:
        """Close a session's Claude Code process; the next prompt resumes in a new one.

        Args:
            chat_id: Telegram chat ID.
            name: Session name (the active one if None).

        Returns:
            True if the session exists.
        """
        return await self.conversations.restart(chat_id, name)

    @property
    def live_clients(self) -> int:
        """How many Claude Code processes are alive now."""
        return self.conversations.live_clients

    async def aclose(self) -> None:
        """Close every Claude Code client; call before the event loop ends."""
        await self.conversations.aclose()

    # -- queries for front ends ---------------------------------------------------

    def sessions_of(self, chat_id: int) -> dict[str, Session]:
        """A chat's sessions by name (a copy: changing it changes nothing here).

        Args:
            chat_id: Telegram chat ID.
        """
        return dict(self.sessions.get(chat_id, {}))

    def count(self, chat_id: int) -> int:
        """How many sessions a chat has.

        Args:
            chat_id: Telegram chat ID.
        """
        return len(self.sessions.get(chat_id, {}))

    def session_by_key(self, chat_id: int, key: str) -> Session | None:
        """The session of a chat whose key, as text, is ``key`` (as buttons carry it).

        Args:
            chat_id: Telegram chat ID.
            key: The session's key as text.

        Returns:
            The session, or None when the chat has no such session (closed since).
        """
        chat = self.sessions.get(chat_id, {})
        return next((s for s in chat.values() if str(s.key) == key), None)
