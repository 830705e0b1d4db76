"""Forum topics as sessions: each topic of a forum chat works in a session of its own.

Mixed into :class:`~voice_agent.sessions.manager.SessionManager`. A topic is
bound to one session of its chat, by name; the binding is stored, follows a
rename and goes away with the session. Topics never change the chat's active
session, which is the one used outside topics (the General topic of a forum).
A session still named after its topic is renamed when the topic is.
"""

from __future__ import annotations

import re
from collections.abc import Container
from typing import Protocol

from voice_agent.sessions.session import Session
from voice_agent.sessions.storage import SessionStorage

_NOT_NAME = re.compile(r"[^\w.-]+")
MAX_NAME = 32


def topic_session_name(title: str | None, thread_id: int, taken: Container[str]) -> str:
    """A free session name for a topic, made from its title.

    Args:
        title: The topic's title ("API work" gives ``api-work``), if known.
        thread_id: The topic's thread id (``topic-<id>`` when there is no usable title).
        taken: Names the chat's sessions already have.

    Returns:
        A valid session name not in ``taken``.
    """
    base = _NOT_NAME.sub("-", (title or "").strip().lower()).strip("-.")[:MAX_NAME]
    base = base or f"topic-{thread_id}"
    if base not in taken:
        return base
    suffix = f"-{thread_id}"
    name = base[: MAX_NAME - len(suffix)] + suffix
    counter = 2
    while name in taken:
        name = f"topic-{thread_id}-{counter}"
        counter += 1
    return name


def _names_from(title: str | None, thread_id: int) -> set[str]:
    """The names a topic's session gets from ``title`` (plain, or with the thread id)."""
    plain = topic_session_name(title, thread_id, ())
    return {plain, topic_session_name(title, thread_id, {plain})}


class _Host(Protocol):
    """What the topic methods need from the session manager."""

    storage: SessionStorage | None
    sessions: dict[int, dict[str, Session]]
    active_sessions: dict[int, str]
    topics: dict[int, dict[int, str]]
    topic_titles: dict[tuple[int, int], str]

    def rename_session(self, chat_id: int, old_name: str, new_name: str) -> bool: ...

    def get_or_create(
        self, chat_id: int, cwd: str | None = None, name: str | None = None
    ) -> Session: ...

    def _replace(
        self, chat_id: int, cwd: str | None, name: str | None, activate: bool = True
    ) -> tuple[Session, Session | None]: ...

    def _close_later(self, session: Session) -> None: ...

    def _bind(self, chat_id: int, thread_id: int, name: str, title: str | None = None) -> None: ...

    def _ensure_general(self, chat_id: int) -> None: ...


class TopicsMixin:
    """The session of each forum topic."""

    topics: dict[int, dict[int, str]]
    topic_titles: dict[tuple[int, int], str]
    storage: SessionStorage | None

    def topic_session(
        self: _Host,
        chat_id: int,
        thread_id: int,
        title: str | None = None,
        cwd: str | None = None,
    ) -> Session:
        """The session a forum topic works in, created and bound on first use.

        Args:
            chat_id: Telegram chat ID of the forum.
            thread_id: The topic's ``message_thread_id``.
            title: The topic's title, used to name a new session.
            cwd: Working directory of a new session (default: the manager's).

        Returns:
            The topic's session. The chat's active session is not changed (the
            chat gets its ``main`` session first if it has none, so the General
            topic keeps its own).
        """
        self._ensure_general(chat_id)
        chat = self.sessions[chat_id]
        name = self.topics.get(chat_id, {}).get(thread_id)
        if name is not None and name in chat:
            return chat[name]
        name = topic_session_name(title, thread_id, chat)
        session, _ = self._replace(chat_id, cwd, name, activate=False)
        self._bind(chat_id, thread_id, name, title)
        return session

    def new_topic_session(
        self: _Host, chat_id: int, thread_id: int, name: str, cwd: str | None = None
    ) -> Session:
        """Start a new session ``name`` for a topic (replacing one of that name).

        Args:
            chat_id: Telegram chat ID of the forum.
            thread_id: The topic's ``message_thread_id``.
            name: The new session's name.
            cwd: Its working directory (default: the manager's).

        Returns:
            The new session, now the topic's.
        """
        self._ensure_general(chat_id)
        session, old = self._replace(chat_id, cwd, name, activate=False)
        self._bind(chat_id, thread_id, name)
        if old is not None:
            self._close_later(old)
        return session

    def bind_topic(self: _Host, chat_id: int, thread_id: int, name: str) -> Session | None:
        """Make a topic work in an existing session of its chat.

        Args:
            chat_id: Telegram chat ID of the forum.
            thread_id: The topic's ``message_thread_id``.
            name: The session's name.

        Returns:
            The session, or None if the chat has no such session.
        """
        session = self.sessions.get(chat_id, {}).get(name)
        if session is not None:
            self._bind(chat_id, thread_id, name)
        return session

    def retitle_topic(self: _Host, chat_id: int, thread_id: int, title: str) -> str | None:
        """Follow a topic's new title.

        Its session is renamed after the new title when it still has the name the
        old title gave it and no other topic uses it; a name you chose is kept.

        Args:
            chat_id: Telegram chat ID of the forum.
            thread_id: The topic's ``message_thread_id``.
            title: The topic's new title.

        Returns:
            The session's new name, or None when it keeps its name.
        """
        old_title = self.topic_titles.get((chat_id, thread_id))
        self.topic_titles[(chat_id, thread_id)] = title
        if self.storage is not None:
            self.storage.topics.set_title(chat_id, thread_id, title)
        bound = self.topics.get(chat_id, {})
        name = bound.get(thread_id)
        chat = self.sessions.get(chat_id, {})
        if name not in chat or name not in _names_from(old_title, thread_id):
            return None
        if list(bound.values()).count(name) > 1:
            return None
        new = topic_session_name(title, thread_id, [n for n in chat if n != name])
        if new == name or not self.rename_session(chat_id, name, new):
            return None
        return new

    def topic_of(self, session: Session) -> int | None:
        """The thread of a topic working in ``session`` (the first one), or None."""
        bound = self.topics.get(session.chat_id, {})
        return next((thread for thread, name in bound.items() if name == session.name), None)

    def _ensure_general(self: _Host, chat_id: int) -> None:
        """Give the chat its active session first, so the General topic keeps its own."""
        if chat_id not in self.active_sessions:
            self.get_or_create(chat_id)

    def _bind(self, chat_id: int, thread_id: int, name: str, title: str | None = None) -> None:
        self.topics.setdefault(chat_id, {})[thread_id] = name
        if title is not None:
            self.topic_titles[(chat_id, thread_id)] = title
        if self.storage is not None:
            self.storage.topics.bind(chat_id, thread_id, name, title)

    def _rename_topics(self, chat_id: int, old_name: str, new_name: str) -> None:
        bound = self.topics.get(chat_id, {})
        for thread, name in bound.items():
            if name == old_name:
                bound[thread] = new_name

    def _unbind_session(self, chat_id: int, name: str) -> None:
        """Forget the topics of a closed session (the store drops them with its row)."""
        bound = self.topics.get(chat_id, {})
        for thread in [t for t, n in bound.items() if n == name]:
            del bound[thread]
            self.topic_titles.pop((chat_id, thread), None)
