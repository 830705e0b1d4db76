"""Scheduled prompts (``/schedule``), kept so that they survive a restart.

A schedule belongs to a chat (and forum topic) and points at its session's row:
it follows a rename, and once the session is closed it points nowhere
(:attr:`Schedule.session_name` is then None) and is never run in another session.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from voice_agent.store.database import Database, utc_now

_COLUMNS = (
    "j.id, j.chat_id, j.thread_id, j.user_id, s.name AS live_name, j.session_name, "
    "j.prompt, j.spec, j.next_run"
)
_FROM = "FROM schedules j LEFT JOIN sessions s ON s.id = j.session_id"


@dataclass(frozen=True)
class Schedule:
    """One scheduled prompt.

    Attributes:
        id: Its number (shown, and on its cancel button).
        chat_id: The chat it runs in.
        thread_id: The forum topic (None outside topics).
        user_id: Who scheduled it (its turns run as theirs).
        session_name: The session it runs in now (None: the session was closed).
        scheduled_in: The session's name when it was scheduled (to say which was closed).
        prompt: What is sent.
        spec: When, as the user wrote it, canonical (``daily 09:00``).
        next_run: When it runs next (aware, UTC).
    """

    id: int
    chat_id: int
    thread_id: int | None
    user_id: int | None
    session_name: str | None
    scheduled_in: str
    prompt: str
    spec: str
    next_run: datetime

    @classmethod
    def _of(cls, row: sqlite3.Row) -> Schedule:
        return cls(
            row["id"],
            row["chat_id"],
            row["thread_id"],
            row["user_id"],
            row["live_name"],
            row["session_name"],
            row["prompt"],
            row["spec"],
            datetime.fromisoformat(row["next_run"]),
        )


class SchedulesTable:
    """Add, list, move on and remove scheduled prompts."""

    def __init__(self, db: Database) -> None:
        """Use the store's database.

        Args:
            db: The open database.
        """
        self._db = db

    def add(
        self,
        chat_id: int,
        thread_id: int | None,
        user_id: int | None,
        session_name: str,
        prompt: str,
        spec: str,
        next_run: datetime,
    ) -> Schedule | None:
        """Store a new schedule for session ``session_name`` of the chat.

        Args:
            chat_id: The chat.
            thread_id: The forum topic, if any.
            user_id: Who schedules it.
            session_name: The session it runs in.
            prompt: What is sent.
            spec: When, canonical (``every 2h``).
            next_run: Its first run (aware).

        Returns:
            The schedule, or None when the chat has no such session in the store.
        """
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO schedules (chat_id, thread_id, user_id, session_id, session_name, "
                "prompt, spec, next_run, created_at) "
                "SELECT ?, ?, ?, id, name, ?, ?, ?, ? FROM sessions WHERE chat_id = ? AND name = ?",
                (
                    chat_id,
                    thread_id,
                    user_id,
                    prompt,
                    spec,
                    next_run.isoformat(),
                    utc_now(),
                    chat_id,
                    session_name,
                ),
            )
            new_id = cursor.lastrowid if cursor.rowcount else None
        return self.get(new_id) if new_id is not None else None

    def get(self, schedule_id: int) -> Schedule | None:
        """The schedule with this number, or None."""
        rows = self._db.query(f"SELECT {_COLUMNS} {_FROM} WHERE j.id = ?", (schedule_id,))
        return Schedule._of(rows[0]) if rows else None

    def of_chat(self, chat_id: int) -> list[Schedule]:
        """The chat's schedules, the next to run first."""
        rows = self._db.query(
            f"SELECT {_COLUMNS} {_FROM} WHERE j.chat_id = ? ORDER BY j.next_run, j.id", (chat_id,)
        )
        return [Schedule._of(row) for row in rows]

    def all(self) -> list[Schedule]:
        """Every schedule (at start-up, to arm them again)."""
        rows = self._db.query(f"SELECT {_COLUMNS} {_FROM} ORDER BY j.next_run, j.id")
        return [Schedule._of(row) for row in rows]

    def move_on(self, schedule_id: int, next_run: datetime) -> None:
        """Record when a repeating schedule runs next."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE schedules SET next_run = ? WHERE id = ?",
                (next_run.isoformat(), schedule_id),
            )

    def remove(self, schedule_id: int) -> bool:
        """Forget a schedule; False when there was none."""
        with self._db.transaction() as conn:
            cursor = conn.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,))
        return cursor.rowcount > 0
