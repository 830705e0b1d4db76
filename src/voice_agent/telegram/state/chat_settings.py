"""Per-chat preferences (e.g. spoken replies on or off), kept in the store."""

from __future__ import annotations

from voice_agent.store.database import Database


class ChatSettingsTable:
    """String values by (chat, key)."""

    def __init__(self, db: Database) -> None:
        """Use the store's database.

        Args:
            db: The open database.
        """
        self._db = db

    def get(self, chat_id: int, key: str) -> str | None:
        """The chat's value for ``key``, or None."""
        rows = self._db.query(
            "SELECT value FROM chat_settings WHERE chat_id = ? AND key = ?", (chat_id, key)
        )
        return str(rows[0]["value"]) if rows else None

    def set(self, chat_id: int, key: str, value: str) -> None:
        """Store the chat's value for ``key``."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO chat_settings (chat_id, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (chat_id, key) DO UPDATE SET value = excluded.value",
                (chat_id, key, value),
            )
