"""Forum topics as sessions: each topic of a forum chat works in a session of its own.

:class:`ForumTopics` is the object a
:class:`~voice_agent.sessions.manager.SessionManager` holds as ``manager.topics``.
A topic is bound to one session of its chat, by name; the binding is stored (a
row pointing at the session's row, see :mod:`voice_agent.store.topics_table`),
follows a rename and goes away with the session. Topics never change the chat's active
session, which is the one used outside topics (the General topic of a forum).
A session still named after its topic is renamed when the topic is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterator, Mapping

from voice_agent.sessions.session import Session
from voice_agent.store.topics_table import TopicsTable

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


OpenSession = Callable[[int, str, "str | None"], Session]
"""Start session ``name`` of a chat for a topic: ``(chat_id, name, cwd) -> session``.

The chat's active session is not changed (the chat gets its ``main`` session first
if it has none); a session of that name is replaced, and its client closed.
"""


class ForumTopics(Mapping[int, dict[int, str]]):
    """The session of each forum topic: chat id to (thread id to session name).

    Reads like the mapping it holds (``topics[chat_id][thread_id]``); changes go
    through its methods, which keep the store in step.

    Attributes:
        titles: The known title of each bound topic, by (chat id, thread id).
    """

    def __init__(
        self,
        sessions: Mapping[int, Mapping[str, Session]],
        *,
        ensure_chat: Callable[[int], None],
        open_session: OpenSession,
        rename_session: Callable[[int, str, str], bool],
        table: TopicsTable | None = None,
    ) -> None:
        """Hold the bindings, loaded from the store's table.

        Args:
            sessions: The sessions of each chat (read only; the manager's own mapping).
            ensure_chat: Gives a chat its active session if it has none, so the
                General topic keeps its own.
            open_session: Starts a topic's session (see :data:`OpenSession`).
            rename_session: Renames a session of a chat (``False`` when refused).
            table: The store's topics table (None keeps the bindings in memory).
        """
        self._sessions = sessions
        self._ensure_chat = ensure_chat
        self._open = open_session
        self._rename = rename_session
        self._table = table
        self._bound: dict[int, dict[int, str]] = table.all() if table else {}
        self.titles: dict[tuple[int, int], str] = table.titles() if table else {}

    def __getitem__(self, chat_id: int) -> dict[int, str]:
        """The bindings of one chat: thread id to session name."""
        return self._bound[chat_id]

    def __iter__(self) -> Iterator[int]:
        """The chats with bound topics (or that had some)."""
        return iter(self._bound)

    def __len__(self) -> int:
        """How many chats have (or had) bound topics."""
        return len(self._bound)

    def session_name(self, chat_id: int, thread_id: int) -> str | None:
        """The name of the session a topic is bound to, or None."""
        return self._bound.get(chat_id, {}).get(thread_id)

    def topic_session(
        self, chat_id: int, thread_id: int, title: str | None = None, cwd: str | None = None
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
        self._ensure_chat(chat_id)
        chat = self._sessions[chat_id]
        name = self.session_name(chat_id, thread_id)
        if name is not None and name in chat:
            return chat[name]
        name = topic_session_name(title, thread_id, chat)
        session = self._open(chat_id, name, cwd)
        self._bind(chat_id, thread_id, name, title)
        return session

    def new_topic_session(
        self, chat_id: int, thread_id: int, name: str, cwd: str | None = None
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
        self._ensure_chat(chat_id)
        session = self._open(chat_id, name, cwd)
        self._bind(chat_id, thread_id, name)
        return session

    def bind_topic(self, chat_id: int, thread_id: int, name: str) -> Session | None:
        """Make a topic work in an existing session of its chat.

        Args:
            chat_id: Telegram chat ID of the forum.
            thread_id: The topic's ``message_thread_id``.
            name: The session's name.

        Returns:
            The session, or None if the chat has no such session.
        """
        session = self._sessions.get(chat_id, {}).get(name)
        if session is not None:
            self._bind(chat_id, thread_id, name)
        return session

    def retitle_topic(self, chat_id: int, thread_id: int, title: str) -> str | None:
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
        old_title = self.titles.get((chat_id, thread_id))
        self.titles[(chat_id, thread_id)] = title
        if self._table is not None:
            self._table.set_title(chat_id, thread_id, title)
        bound = self._bound.get(chat_id, {})
        name = bound.get(thread_id)
        chat = self._sessions.get(chat_id, {})
        if name not in chat or name not in _names_from(old_title, thread_id):
            return None
        if list(bound.values()).count(name) > 1:
            return None
        new = topic_session_name(title, thread_id, [n for n in chat if n != name])
        if new == name or not self._rename(chat_id, name, new):
            return None
        return new

    def topic_of(self, session: Session) -> int | None:
        """The thread of a topic working in ``session`` (the first one), or None."""
        bound = self._bound.get(session.chat_id, {})
        return next((thread for thread, name in bound.items() if name == session.name), None)

    def session_renamed(self, chat_id: int, old_name: str, new_name: str) -> None:
        """Follow a session's rename (the store's bindings follow its row by themselves)."""
        bound = self._bound.get(chat_id, {})
        for thread, name in bound.items():
            if name == old_name:
                bound[thread] = new_name

    def session_removed(self, chat_id: int, name: str) -> None:
        """Forget the topics of a closed session (the store drops them with its row)."""
        bound = self._bound.get(chat_id, {})
        for thread in [t for t, n in bound.items() if n == name]:
            del bound[thread]
            self.titles.pop((chat_id, thread), None)

    def _bind(self, chat_id: int, thread_id: int, name: str, title: str | None = None) -> None:
        self._bound.setdefault(chat_id, {})[thread_id] = name
        if title is not None:
            self.titles[(chat_id, thread_id)] = title
        if self._table is not None:
            self._table.bind(chat_id, thread_id, name, title)
