"""Which session each forum topic works in, kept in the store.

A binding points at the session's row, so it follows a rename and goes away
with the session.
"""

from __future__ import annotations

from voice_agent.store.database import Database


class TopicsTable:
    """Bindings of (chat, topic thread) to a session of that chat."""

    def __init__(self, db: Database) -> None:
        """Use the store's database.

        Args:
            db: The open database.
        """
        self._db = db

    def bind(
        self, chat_id: int, thread_id: int, session_name: str, title: str | None = None
    ) -> bool:
        """Make the topic work in session ``session_name`` of the chat.

        Args:
            chat_id: Telegram chat ID of the forum.
            thread_id: The topic's thread id.
            session_name: The session's name.
            title: The topic's title, when known (a known one is kept otherwise).

        Returns:
            False when the chat has no such session (nothing changes).
        """
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO topics (chat_id, thread_id, session_id, title) "
                "SELECT ?, ?, id, ? FROM sessions WHERE chat_id = ? AND name = ? "
                "ON CONFLICT (chat_id, thread_id) DO UPDATE SET session_id = excluded.session_id, "
                "title = coalesce(excluded.title, title)",
                (chat_id, thread_id, title, chat_id, session_name),
            )
            return cursor.rowcount > 0

    def set_title(self, chat_id: int, thread_id: int, title: str) -> None:
        """Remember the topic's new title."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE topics SET title = ? WHERE chat_id = ? AND thread_id = ?",
                (title, chat_id, thread_id),
            )

    def titles(self) -> dict[tuple[int, int], str]:
        """The known title of each bound topic, by (chat id, thread id)."""
        rows = self._db.query(
            "SELECT chat_id, thread_id, title FROM topics WHERE title IS NOT NULL"
        )
        return {(int(row[0]), int(row[1])): str(row[2]) for row in rows}

    def all(self) -> dict[int, dict[int, str]]:
        """Every binding: chat id to (thread id to session name)."""
        rows = self._db.query(
            "SELECT topics.chat_id, topics.thread_id, sessions.name FROM topics "
            "JOIN sessions ON sessions.id = topics.session_id ORDER BY topics.thread_id"
        )
        found: dict[int, dict[int, str]] = {}
        for row in rows:
            found.setdefault(int(row[0]), {})[int(row[1])] = str(row[2])
        return found
