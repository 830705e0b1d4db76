"""Persistent session storage on SQLite.

One database file holds the chats, their named sessions, the sticky approval
rules of each session (``storage.sticky``), the audit log of permission
decisions (``storage.audit``), the owners made by pairing
(``storage.owners``) and the session each forum topic works in
(``storage.topics``). Every change is one small transaction (WAL journal), so
its cost does not grow with the number of sessions, and a crash never leaves a
half-written store.

A path to a legacy ``sessions.json`` (either historical format) is imported once
into ``sessions.db`` beside it; the JSON file is then renamed
``sessions.json.imported``. A corrupt or unreadable file is moved aside as
``<name>.corrupt-<timestamp>`` and reported in ``moved_aside``, never discarded.

A process serving sessions from the store holds it (:meth:`SessionStorage.hold`)
until it closes it; a change made from outside runs under
:meth:`SessionStorage.exclusively` and is refused while anyone holds it, since
the holder would write its own state back over it (see
:mod:`voice_agent.store.lock`).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from voice_agent.store import legacy
from voice_agent.store.audit_table import AuditLog
from voice_agent.store.database import Database, StorageError
from voice_agent.store.lock import StoreInUse, StoreLock
from voice_agent.store.owners_table import OwnersTable
from voice_agent.store.records import ChatStoredState, StoredSession
from voice_agent.store.sticky_table import StickyRuleTable
from voice_agent.store.topics_table import TopicsTable
from voice_agent.store.usage_table import UsageTable

__all__ = ["ChatStoredState", "SessionStorage", "StorageError", "StoreInUse", "StoredSession"]

_SQLITE_MAGIC = b"SQLite format 3\x00"
_SESSION_COLUMNS = "chat_id, name, cwd, created_at, message_count, claude_session_id"
_ACTIVE_SESSIONS = (
    "SELECT s.chat_id, s.name, s.cwd, s.created_at, s.message_count, s.claude_session_id "
    "FROM chats c JOIN sessions s ON s.chat_id = c.chat_id AND s.name = c.active_session "
)


def _row_to_session(row: sqlite3.Row) -> StoredSession:
    return StoredSession(
        chat_id=row["chat_id"],
        name=row["name"],
        cwd=row["cwd"],
        created_at=row["created_at"],
        message_count=row["message_count"],
        claude_session_id=row["claude_session_id"],
    )


class SessionStorage:
    """Persistent storage for session data, on SQLite.

    Attributes:
        path: The path given: a database file, or a legacy ``sessions.json``
            that is imported into ``sessions.db`` beside it.
        db_path: The SQLite database file actually used.
        moved_aside: Files found corrupt or unreadable and moved aside while
            opening, so a front end can tell the user.
    """

    def __init__(self, path: str | Path = "sessions.json") -> None:
        """Open (creating or importing as needed) the store.

        Args:
            path: Path to the database, or to a legacy JSON storage file.

        Raises:
            StorageError: The store can neither be opened nor moved aside.
        """
        self.path = Path(path)
        self.db_path = _database_path(self.path)
        self._db = Database(self.db_path)
        self.moved_aside: list[Path] = list(self._db.moved_aside)
        self.sticky = StickyRuleTable(self._db)
        self.audit = AuditLog(self._db)
        self.owners = OwnersTable(self._db)
        self.usage = UsageTable(self._db)
        self.topics = TopicsTable(self._db)
        self._lock = StoreLock(self.db_path)
        self._closed = False
        if self.db_path != self.path and self.path.exists():
            found = legacy.read_json(self.path)
            for chat_id, state in found.chats.items():
                self.import_chat(chat_id, state)
            self.moved_aside.extend(legacy.finish_import(found, self.db_path))

    @property
    def schema_version(self) -> int:
        """The number of schema migrations applied to the database."""
        return self._db.schema_version

    @property
    def database(self) -> Database:
        """The open database, for tables kept by a front end (``telegram.state``)."""
        return self._db

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Close the database (the last connection checkpoints the WAL); let go of the store."""
        self._closed = True
        self._db.close()
        self._lock.release()

    def hold(self, what: str = "voice-agent") -> None:
        """Mark the store as served by this process until :meth:`close`.

        While held, :meth:`exclusively` refuses in every other process (and in
        this one, through another ``SessionStorage``).

        Args:
            what: What this process is, named in the refusal ("the bot").
        """
        self._lock.hold(what)

    def exclusively(self) -> contextlib.AbstractContextManager[None]:
        """Run the block only while no process serves sessions from the store.

        For changes made from outside a running bot (its next save would undo them).

        Raises:
            StoreInUse: A process holds the store; the message names its pid.
        """
        return self._lock.exclusively()

    # -- chats and sessions ------------------------------------------------

    def get_chat_state(self, chat_id: int) -> ChatStoredState | None:
        """Get stored state for a chat.

        Args:
            chat_id: Telegram chat ID.

        Returns:
            ChatStoredState or None if not found.
        """
        active = self._db.query("SELECT active_session FROM chats WHERE chat_id = ?", (chat_id,))
        if not active:
            return None
        sessions = {s.name: s for s in self.list_sessions(chat_id)}
        return ChatStoredState(active_session=active[0]["active_session"], sessions=sessions)

    def get_session(self, chat_id: int, name: str) -> StoredSession | None:
        """Get a specific session for a chat.

        Args:
            chat_id: Telegram chat ID.
            name: Session name.

        Returns:
            StoredSession or None if not found.
        """
        rows = self._db.query(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE chat_id = ? AND name = ?",
            (chat_id, name),
        )
        return _row_to_session(rows[0]) if rows else None

    def get_active_session(self, chat_id: int) -> StoredSession | None:
        """Get the active session for a chat.

        Args:
            chat_id: Telegram chat ID.

        Returns:
            Active StoredSession or None if not found.
        """
        rows = self._db.query(
            _ACTIVE_SESSIONS + "WHERE c.chat_id = ?",
            (chat_id,),
        )
        return _row_to_session(rows[0]) if rows else None

    def save_session(self, session: StoredSession) -> None:
        """Save a session (insert or update), in one transaction.

        The first session saved for a chat becomes its active session.

        Args:
            session: Session to save.
        """
        with self._db.transaction() as conn:
            self._upsert(conn, session)

    def replace_session(self, session: StoredSession) -> None:
        """Store a new session in place of any session of the same name, in one transaction.

        The old session's settings go with it: its permission mode is back to
        ``default`` (its sticky rules are cleared by ``sticky.clear``). The row
        keeps its place (order, forum topics).

        Args:
            session: The new session.
        """
        with self._db.transaction() as conn:
            self._upsert(conn, session)
            conn.execute(
                "UPDATE sessions SET permission_mode = 'default' WHERE chat_id = ? AND name = ?",
                (session.chat_id, session.name),
            )

    def save_sessions(self, sessions: Iterable[StoredSession]) -> int:
        """Save many sessions in one transaction (bulk import).

        Args:
            sessions: Sessions to insert or update.

        Returns:
            How many were saved.
        """
        count = 0
        with self._db.transaction() as conn:
            for session in sessions:
                self._upsert(conn, session)
                count += 1
        return count

    @staticmethod
    def _upsert(conn: sqlite3.Connection, session: StoredSession, overwrite: bool = True) -> None:
        conflict = (
            "DO UPDATE SET cwd = excluded.cwd, created_at = excluded.created_at, "
            "message_count = excluded.message_count, "
            "claude_session_id = excluded.claude_session_id"
            if overwrite
            else "DO NOTHING"
        )
        conn.execute(
            f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT (chat_id, name) {conflict}",
            (
                session.chat_id,
                session.name,
                session.cwd,
                session.created_at,
                session.message_count,
                session.claude_session_id,
            ),
        )
        conn.execute(
            "INSERT OR IGNORE INTO chats (chat_id, active_session) VALUES (?, ?)",
            (session.chat_id, session.name),
        )

    def import_chat(self, chat_id: int, state: ChatStoredState) -> None:
        """Add a chat's sessions without overwriting sessions already stored.

        Args:
            chat_id: Telegram chat ID.
            state: The sessions to add and the active one.
        """
        with self._db.transaction() as conn:
            known = conn.execute("SELECT 1 FROM chats WHERE chat_id = ?", (chat_id,)).fetchone()
            for session in state.sessions.values():
                self._upsert(conn, session, overwrite=False)
            if known is None and state.active_session in state.sessions:
                conn.execute(
                    "UPDATE chats SET active_session = ? WHERE chat_id = ?",
                    (state.active_session, chat_id),
                )

    def set_active_session(self, chat_id: int, name: str) -> bool:
        """Set the active session for a chat.

        Args:
            chat_id: Telegram chat ID.
            name: Session name to make active.

        Returns:
            True if successful, False if session not found.
        """
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE chats SET active_session = ? WHERE chat_id = ? AND EXISTS "
                "(SELECT 1 FROM sessions WHERE chat_id = ? AND name = ?)",
                (name, chat_id, chat_id, name),
            )
            return cursor.rowcount > 0

    def delete_session(self, chat_id: int, name: str) -> bool:
        """Delete a specific session with its sticky rules.

        If it was the active session, the first remaining one becomes active;
        if none remains, the chat is removed.

        Args:
            chat_id: Telegram chat ID.
            name: Session name to delete.

        Returns:
            True if deleted, False if not found.
        """
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM sessions WHERE chat_id = ? AND name = ?", (chat_id, name)
            )
            if cursor.rowcount == 0:
                return False
            first = conn.execute(
                "SELECT name FROM sessions WHERE chat_id = ? ORDER BY id LIMIT 1", (chat_id,)
            ).fetchone()
            if first is None:
                conn.execute("DELETE FROM chats WHERE chat_id = ?", (chat_id,))
            else:
                conn.execute(
                    "UPDATE chats SET active_session = ? WHERE chat_id = ? AND active_session = ?",
                    (first["name"], chat_id, name),
                )
            return True

    def rename_session(self, chat_id: int, old_name: str, new_name: str) -> bool:
        """Rename a session; its sticky rules follow it.

        Args:
            chat_id: Telegram chat ID.
            old_name: Current session name.
            new_name: New session name.

        Returns:
            True if renamed, False if not found or name exists.
        """
        with self._db.transaction() as conn:
            taken = conn.execute(
                "SELECT 1 FROM sessions WHERE chat_id = ? AND name = ?", (chat_id, new_name)
            ).fetchone()
            if taken:
                return False
            cursor = conn.execute(
                "UPDATE sessions SET name = ? WHERE chat_id = ? AND name = ?",
                (new_name, chat_id, old_name),
            )
            if cursor.rowcount == 0:
                return False
            conn.execute(
                "UPDATE chats SET active_session = ? WHERE chat_id = ? AND active_session = ?",
                (new_name, chat_id, old_name),
            )
            return True

    def delete_chat(self, chat_id: int) -> bool:
        """Delete all sessions for a chat, and its project rules.

        Args:
            chat_id: Telegram chat ID.

        Returns:
            True if deleted, False if not found.
        """
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM sticky_rules WHERE chat_id = ?", (chat_id,))
            conn.execute("DELETE FROM sessions WHERE chat_id = ?", (chat_id,))
            return conn.execute("DELETE FROM chats WHERE chat_id = ?", (chat_id,)).rowcount > 0

    def list_sessions(self, chat_id: int) -> list[StoredSession]:
        """List all sessions for a chat, oldest first.

        Args:
            chat_id: Telegram chat ID.

        Returns:
            List of stored sessions.
        """
        rows = self._db.query(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE chat_id = ? ORDER BY id", (chat_id,)
        )
        return [_row_to_session(row) for row in rows]

    def list_all_chats(self) -> list[int]:
        """List all chat IDs with sessions.

        Returns:
            List of chat IDs.
        """
        rows = self._db.query("SELECT chat_id FROM chats ORDER BY rowid")
        return [row["chat_id"] for row in rows]

    def load_all(self) -> dict[int, ChatStoredState]:
        """Read every chat with its sessions in one pass (used at start-up).

        Returns:
            Mapping of chat ID to its stored state.
        """
        states = {
            row["chat_id"]: ChatStoredState(active_session=row["active_session"])
            for row in self._db.query("SELECT chat_id, active_session FROM chats ORDER BY rowid")
        }
        for row in self._db.query(f"SELECT {_SESSION_COLUMNS} FROM sessions ORDER BY id"):
            state = states.get(row["chat_id"])
            if state is not None:
                state.sessions[row["name"]] = _row_to_session(row)
        return states

    # -- per-session settings ------------------------------------------------

    def get_permission_mode(self, chat_id: int, name: str) -> str:
        """Return the session's stored permission mode (``default`` if unknown).

        Args:
            chat_id: Telegram chat ID.
            name: Session name.
        """
        rows = self._db.query(
            "SELECT permission_mode FROM sessions WHERE chat_id = ? AND name = ?", (chat_id, name)
        )
        return str(rows[0]["permission_mode"]) if rows else "default"

    def permission_modes(self) -> dict[tuple[int, str], str]:
        """Every session whose permission mode is not ``default``, keyed by (chat, name)."""
        rows = self._db.query(
            "SELECT chat_id, name, permission_mode FROM sessions WHERE permission_mode != 'default'"
        )
        return {(row["chat_id"], row["name"]): row["permission_mode"] for row in rows}

    def set_permission_mode(self, chat_id: int, name: str, mode: str) -> bool:
        """Store the session's permission mode.

        Args:
            chat_id: Telegram chat ID.
            name: Session name.
            mode: ``default``, ``acceptEdits`` or ``plan``.

        Returns:
            True if the session exists.
        """
        with self._db.transaction() as conn:
            return (
                conn.execute(
                    "UPDATE sessions SET permission_mode = ? WHERE chat_id = ? AND name = ?",
                    (mode, chat_id, name),
                ).rowcount
                > 0
            )

    # -- legacy compatibility methods ----------------------------------------

    def get(self, chat_id: int) -> StoredSession | None:
        """Get active session for a chat (legacy compatibility).

        Args:
            chat_id: Telegram chat ID.

        Returns:
            Active StoredSession or None if not found.
        """
        return self.get_active_session(chat_id)

    def save(self, session: StoredSession) -> None:
        """Save a session (legacy compatibility).

        Args:
            session: Session to save.
        """
        self.save_session(session)

    def delete(self, chat_id: int) -> None:
        """Delete all sessions for a chat (legacy compatibility).

        Args:
            chat_id: Telegram chat ID.
        """
        self.delete_chat(chat_id)

    def list_all(self) -> list[StoredSession]:
        """List all active sessions across all chats (legacy compatibility).

        Returns:
            List of active stored sessions.
        """
        rows = self._db.query(_ACTIVE_SESSIONS + "ORDER BY c.rowid")
        return [_row_to_session(row) for row in rows]


def _database_path(path: Path) -> Path:
    """The database for ``path``: itself, or ``<stem>.db`` beside a legacy JSON file."""
    if path.suffix != ".json":
        return path
    try:
        with path.open("rb") as handle:
            if handle.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC:
                return path
    except OSError:
        pass
    return path.with_suffix(".db")
