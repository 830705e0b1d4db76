"""Several machines, kept in the store: each session's machine, and turns running elsewhere.

A binding points at the session's row, so it follows a rename and goes away with
the session. A session without one lives on the machine that runs the bot.
"""

from __future__ import annotations

from dataclasses import dataclass

from voice_agent.store.database import Database, utc_now


@dataclass(frozen=True)
class RemoteTurn:
    """A turn sent to another machine whose end was not shown yet.

    Attributes:
        turn_id: The turn's id (its stream subject ends with it).
        machine: The machine running it.
        chat_id: The chat it answers.
        session_name: The session it runs in (its name when the turn started).
        started_at: When it was sent (UTC, ISO 8601).
    """

    turn_id: str
    machine: str
    chat_id: int
    session_name: str
    started_at: str


class MachinesTable:
    """The ``session_machines`` and ``remote_turns`` tables."""

    def __init__(self, db: Database) -> None:
        """Use the store's database.

        Args:
            db: The open database.
        """
        self._db = db

    def bind(self, chat_id: int, session_name: str, machine: str | None) -> bool:
        """Make session ``session_name`` of the chat live on ``machine`` (None: this one).

        Returns:
            False when the chat has no such session (nothing changes).
        """
        with self._db.transaction() as conn:
            if machine is None:
                conn.execute(
                    "DELETE FROM session_machines WHERE session_id = "
                    "(SELECT id FROM sessions WHERE chat_id = ? AND name = ?)",
                    (chat_id, session_name),
                )
                return True
            cursor = conn.execute(
                "INSERT INTO session_machines (session_id, machine) "
                "SELECT id, ? FROM sessions WHERE chat_id = ? AND name = ? "
                "ON CONFLICT (session_id) DO UPDATE SET machine = excluded.machine",
                (machine, chat_id, session_name),
            )
            return cursor.rowcount > 0

    def machine_of(self, chat_id: int, session_name: str) -> str | None:
        """The machine the session lives on, or None for the bot's own."""
        rows = self._db.query(
            "SELECT m.machine FROM session_machines m JOIN sessions s ON s.id = m.session_id "
            "WHERE s.chat_id = ? AND s.name = ?",
            (chat_id, session_name),
        )
        return str(rows[0][0]) if rows else None

    def sessions_on(self, machine: str) -> list[tuple[int, str]]:
        """The (chat id, session name) of every session living on ``machine``."""
        rows = self._db.query(
            "SELECT s.chat_id, s.name FROM session_machines m JOIN sessions s "
            "ON s.id = m.session_id WHERE m.machine = ? ORDER BY s.id",
            (machine,),
        )
        return [(int(row[0]), str(row[1])) for row in rows]

    def machines(self) -> list[str]:
        """The names of the machines sessions live on."""
        rows = self._db.query("SELECT DISTINCT machine FROM session_machines ORDER BY machine")
        return [str(row[0]) for row in rows]

    def turn_started(self, turn_id: str, machine: str, chat_id: int, session_name: str) -> None:
        """Remember a turn sent to ``machine`` until its end is shown."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO remote_turns "
                "(turn_id, machine, chat_id, session_name, started_at) VALUES (?, ?, ?, ?, ?)",
                (turn_id, machine, chat_id, session_name, utc_now()),
            )

    def turn_ended(self, turn_id: str) -> None:
        """Forget a turn whose end was shown."""
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM remote_turns WHERE turn_id = ?", (turn_id,))

    def running_turns(self) -> list[RemoteTurn]:
        """Turns sent to other machines whose end was not shown, oldest first."""
        rows = self._db.query(
            "SELECT turn_id, machine, chat_id, session_name, started_at FROM remote_turns "
            "ORDER BY started_at"
        )
        return [RemoteTurn(str(r[0]), str(r[1]), int(r[2]), str(r[3]), str(r[4])) for r in rows]
