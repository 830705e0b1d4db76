"""Which session each forum topic works in, kept in the store.

A binding points at the session's row, so it follows a rename and goes away
with the session.
"""

from __future__ import annotations

from voice_agent.sessions.database import Database


class TopicsTable:
    """Bindings of (chat, topic thread) to a session of that chat."""

    def __init__(self, db: Database) -> None:
        """Use the store's database.

        Args:
            db: The open database.
        """
        self._db = db

    def bind(self, chat_id: int, thread_id: int, session_name: str) -> bool:
        """Make the topic work in session ``session_name`` of the chat.

        Returns:
            False when the chat has no such session (nothing changes).
        """
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO topics (chat_id, thread_id, session_id) "
                "SELECT ?, ?, id FROM sessions WHERE chat_id = ? AND name = ? "
                "ON CONFLICT (chat_id, thread_id) DO UPDATE SET session_id = excluded.session_id",
                (chat_id, thread_id, chat_id, session_name),
            )
            return cursor.rowcount > 0

    def unbind(self, chat_id: int, thread_id: int) -> None:
        """Forget the topic's session (its next message starts a new one)."""
        with self._db.transaction() as conn:
            conn.execute(
                "DELETE FROM topics WHERE chat_id = ? AND thread_id = ?", (chat_id, thread_id)
            )

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
