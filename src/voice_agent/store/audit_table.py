"""The audit log of permission decisions, kept in the store."""

from __future__ import annotations

from dataclasses import replace

from voice_agent.store.database import Database, utc_now
from voice_agent.store.records import AuditEntry

_COLUMNS = "ts, chat_id, user_id, session_name, tool_name, input_summary, decision, rule"


class AuditLog:
    """Append-only log of every permission decision: automatic, sticky, by a person, timeout."""

    def __init__(self, db: Database) -> None:
        """Use the store's database.

        Args:
            db: The open database.
        """
        self._db = db

    def record(self, entry: AuditEntry) -> None:
        """Append one decision.

        Args:
            entry: The decision; its ``ts`` is filled in when empty.
        """
        if not entry.ts:
            entry = replace(entry, ts=utc_now())
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.ts,
                    entry.chat_id,
                    entry.user_id,
                    entry.session_name,
                    entry.tool_name,
                    entry.input_summary,
                    entry.decision,
                    entry.rule,
                ),
            )

    def entries(
        self,
        chat_id: int | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 1000,
    ) -> list[AuditEntry]:
        """Read decisions, oldest first.

        Args:
            chat_id: Only this chat's decisions.
            since: Only decisions at or after this ISO timestamp.
            until: Only decisions before this ISO timestamp.
            limit: At most this many (the newest ones).
        """
        where: list[str] = []
        params: list[object] = []
        for clause, value in (("chat_id = ?", chat_id), ("ts >= ?", since), ("ts < ?", until)):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = f"SELECT {_COLUMNS} FROM audit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db.query(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [AuditEntry(**dict(row)) for row in reversed(rows)]
