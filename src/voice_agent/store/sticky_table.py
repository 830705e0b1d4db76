"""The sticky approval rules of each session, persisted in the store."""

from __future__ import annotations

import builtins

from voice_agent.store.database import Database, utc_now
from voice_agent.store.records import StoredStickyRule

_COLUMNS = (
    "r.id, r.tool_name, r.pattern, r.field_name, r.label, r.created_at, r.expires_at, r.project"
)


class StickyRuleTable:
    """Sticky rules per (chat, session); they follow a rename and go with a delete.

    Project rules belong to the chat: they stay when the session that made them goes.
    """

    def __init__(self, db: Database) -> None:
        """Use the store's database.

        Args:
            db: The open database.
        """
        self._db = db

    def list(self, chat_id: int, name: str) -> list[StoredStickyRule]:
        """List a session's sticky approval rules, oldest first.

        Args:
            chat_id: Telegram chat ID.
            name: Session name.
        """
        rows = self._db.query(
            f"SELECT {_COLUMNS} FROM sticky_rules r JOIN sessions s ON s.id = r.session_id "
            "WHERE s.chat_id = ? AND s.name = ? AND r.project IS NULL ORDER BY r.id",
            (chat_id, name),
        )
        return [StoredStickyRule(**dict(row)) for row in rows]

    def project_rules(self, chat_id: int) -> builtins.list[StoredStickyRule]:
        """Every project-wide rule of a chat, oldest first.

        Args:
            chat_id: Telegram chat ID.
        """
        rows = self._db.query(
            f"SELECT {_COLUMNS} FROM sticky_rules r "
            "WHERE r.chat_id = ? AND r.project IS NOT NULL ORDER BY r.id",
            (chat_id,),
        )
        return [StoredStickyRule(**dict(row)) for row in rows]

    def add(
        self,
        chat_id: int,
        name: str,
        tool_name: str,
        pattern: str | None,
        field_name: str | None,
        label: str | None = None,
        expires_at: float | None = None,
        project: str | None = None,
    ) -> int | None:
        """Persist a sticky rule for a session.

        Args:
            chat_id: Telegram chat ID.
            name: Session name.
            tool_name: Tool the rule approves.
            pattern: Anchored regular expression, or None for every call of the tool.
            field_name: Input field the pattern is matched against.
            label: Human description shown in listings.
            expires_at: Unix time after which it no longer applies.
            project: The project directory, for a rule of the whole project (kept
                by the chat, so it outlives the session).

        Returns:
            The rule's id, or None when the session is not stored.
        """
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT id FROM sessions WHERE chat_id = ? AND name = ?", (chat_id, name)
            ).fetchone()
            if row is None:
                return None
            session_id = row["id"] if project is None else None
            cursor = conn.execute(
                "INSERT INTO sticky_rules (session_id, tool_name, pattern, field_name, label, "
                "created_at, expires_at, project, chat_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    tool_name,
                    pattern,
                    field_name,
                    label,
                    utc_now(),
                    expires_at,
                    project,
                    chat_id,
                ),
            )
            return cursor.lastrowid

    def remove(self, rule_id: int) -> bool:
        """Delete one sticky rule by id; True if it existed."""
        with self._db.transaction() as conn:
            return conn.execute("DELETE FROM sticky_rules WHERE id = ?", (rule_id,)).rowcount > 0

    def clear(self, chat_id: int, name: str) -> int:
        """Delete all sticky rules of a session; returns how many were deleted."""
        with self._db.transaction() as conn:
            return conn.execute(
                "DELETE FROM sticky_rules WHERE session_id IN "
                "(SELECT id FROM sessions WHERE chat_id = ? AND name = ?)",
                (chat_id, name),
            ).rowcount
