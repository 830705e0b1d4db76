"""Approval prompts on screen, kept so that a restart can mark them lapsed."""

from __future__ import annotations

from dataclasses import dataclass

from voice_agent.store.database import Database, utc_now


@dataclass(frozen=True)
class OpenPrompt:
    """An approval prompt message still showing buttons.

    Attributes:
        request_id: The request it asks about.
        chat_id: Its chat.
        message_id: Its message.
        text: Its text (to edit it without losing what it said).
    """

    request_id: str
    chat_id: int
    message_id: int
    text: str


class OpenPromptsTable:
    """Prompts are added when shown and removed when decided."""

    def __init__(self, db: Database) -> None:
        """Use the store's database.

        Args:
            db: The open database.
        """
        self._db = db

    def add(self, prompt: OpenPrompt) -> None:
        """Remember a prompt on screen."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO open_prompts (request_id, chat_id, message_id, text, "
                "created_at) VALUES (?, ?, ?, ?, ?)",
                (prompt.request_id, prompt.chat_id, prompt.message_id, prompt.text, utc_now()),
            )

    def remove(self, request_id: str) -> None:
        """Forget a prompt (its request was decided)."""
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM open_prompts WHERE request_id = ?", (request_id,))

    def take_all(self) -> list[OpenPrompt]:
        """Every remembered prompt, forgetting them (at start-up: they all lapsed)."""
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT request_id, chat_id, message_id, text FROM open_prompts ORDER BY created_at"
            ).fetchall()
            conn.execute("DELETE FROM open_prompts")
        return [OpenPrompt(*tuple(row)) for row in rows]
