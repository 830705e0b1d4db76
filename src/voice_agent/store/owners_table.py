"""The owners made by pairing, kept in the store."""

from __future__ import annotations

from voice_agent.store.database import Database, utc_now


class OwnersTable:
    """Users who paired with the bot; they are served like allowlisted users."""

    def __init__(self, db: Database) -> None:
        """Use the store's database.

        Args:
            db: The open database.
        """
        self._db = db

    def list(self) -> list[int]:
        """User ids of every owner, first paired first."""
        return [
            row["user_id"] for row in self._db.query("SELECT user_id FROM owners ORDER BY rowid")
        ]

    def add(self, user_id: int, chat_id: int) -> bool:
        """Record an owner; False if the user already was one.

        Args:
            user_id: The Telegram user.
            chat_id: The private chat they paired from.
        """
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO owners (user_id, chat_id, paired_at) VALUES (?, ?, ?)",
                (user_id, chat_id, utc_now()),
            )
            return cursor.rowcount > 0
