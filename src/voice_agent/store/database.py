"""The SQLite connection behind the store: opening, moving a bad file aside, transactions.

Opening checks every page of the file (``PRAGMA quick_check``: about 3 ms for a
store of 1,000 sessions and 10,000 audit rows), so a file damaged past its
header is moved aside at once, like one that is no database at all, instead of
failing in the middle of a command.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voice_agent.store import schema

logger = logging.getLogger(__name__)

_BUSY_PATIENCE = 15.0  # seconds to wait for another process that holds the store's lock


class StorageError(Exception):
    """The store cannot be opened or written; the message says why and what to do.

    Attributes:
        reason: What is wrong, naming the file or folder.
        fix: What to do about it; empty when the reason says it all.
    """

    def __init__(self, reason: str, fix: str = "") -> None:
        """Describe the failure.

        Args:
            reason: What is wrong, naming the file or folder.
            fix: What to do about it.
        """
        super().__init__(f"{reason}; {fix}" if fix else reason)
        self.reason = reason
        self.fix = fix


class StoreDamaged(StorageError, sqlite3.DatabaseError):
    """SQLite found the store damaged after it was opened; the file is left as it is.

    Also an ``sqlite3.DatabaseError``, so code that keeps going after a failed
    write (``except sqlite3.Error``) still does.
    """


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Whether SQLite says the file itself is damaged (not busy, full or read-only)."""
    name = getattr(exc, "sqlite_errorname", "")
    return name.startswith("SQLITE_CORRUPT") or name == "SQLITE_NOTADB"


def _check_pages(conn: sqlite3.Connection) -> None:
    """Read every page of the database, so damage past the header is found now.

    Raises:
        sqlite3.DatabaseError: A page is damaged (SQLite's own error, or what
            ``quick_check`` reports).
    """
    found = [str(row[0]) for row in conn.execute("PRAGMA quick_check(1)").fetchall()]
    if found != ["ok"]:
        lines = [line.strip() for row in found for line in row.splitlines()]
        first = next((line for line in lines if line and not line.startswith("***")), "?")
        raise sqlite3.DatabaseError(f"database disk image is malformed ({first})")


def _cannot_open(path: Path, exc: Exception) -> StorageError:
    """Why ``path`` cannot be opened, in words that match the cause, with what to do.

    Args:
        path: The database file.
        exc: What SQLite (or the schema check) said.
    """
    folder = path.parent
    if path.is_dir():
        return StorageError(
            f"the store {path} is a directory, not a file",
            "move it away, or set VOICE_AGENT_DATA_DIR to another folder",
        )
    if isinstance(exc, schema.SchemaTooNew):
        return StorageError(f"cannot open the store {path}: {exc}", "upgrade voice-agent")
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StorageError(
            f"cannot open the store {path}: {text} (another process is using it)",
            "retry when it is done",
        )
    if not _writable(folder):
        return StorageError(
            f"the data folder {folder} is not writable, and the store {path.name} needs "
            "its journal files beside it",
            "fix the folder's permissions, or set VOICE_AGENT_DATA_DIR to a writable folder",
        )
    if path.exists() and not _writable(path):
        return StorageError(
            f"the store {path} is read-only for this user",
            f"give this user write access to it (chmod u+w {path}, or chown)",
        )
    return StorageError(f"cannot open the store {path}: {text}")


def _writable(path: Path) -> bool:
    """Whether this process may write ``path`` (a read-only mount counts as not, even for root)."""
    return os.access(path, os.W_OK)


def utc_now() -> str:
    """Return the current UTC time as an ISO 8601 string with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def move_aside(path: Path, reason: str) -> Path:
    """Rename ``path`` to ``<path>.corrupt-<timestamp>`` and log why.

    Args:
        path: The unusable file.
        reason: What was wrong with it, for the log.

    Returns:
        The new path of the file.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    path.rename(target)
    logger.error("store file %s is unusable (%s); moved it aside to %s", path, reason, target)
    return target


class Database:
    """One SQLite database file in WAL mode, migrated to the current schema.

    A file that is not a usable database, or whose pages ``PRAGMA quick_check``
    finds damaged, is moved aside (with its ``-wal`` and ``-shm`` companions) and
    a fresh one is created; the moved files are listed in ``moved_aside``. A file
    another process has locked is waited for, and one written by a newer
    voice-agent, or that cannot be read (permissions, a read-only folder, a
    directory in its place, disk), is an error that says which: none of these is
    ever moved aside. Damage SQLite meets only later, in a query or a
    transaction, is a :class:`StoreDamaged` naming the file; the file is left as
    it is.

    Attributes:
        path: The database file.
        moved_aside: Files moved aside while opening.
    """

    def __init__(self, path: Path) -> None:
        """Open or create the database at ``path``.

        Args:
            path: The database file.

        Raises:
            StorageError: The file can neither be opened nor moved aside.
        """
        self.path = path
        self.moved_aside: list[Path] = []
        self._lock = threading.RLock()
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create the data folder {self.path.parent}: {exc.strerror or exc}"
                + (f" ({exc.filename})" if exc.filename else ""),
                "fix the permissions of the folder above it, or set VOICE_AGENT_DATA_DIR "
                "to a writable folder",
            ) from exc
        try:
            return self._connect_patiently()
        except (schema.SchemaTooNew, sqlite3.OperationalError) as exc:
            # Newer, busy, locked, unreadable, a disk error: not corrupt, so kept as it is.
            raise _cannot_open(self.path, exc) from exc
        except sqlite3.DatabaseError as exc:
            if not self.path.is_file():
                raise _cannot_open(self.path, exc) from exc
            self._move_aside(str(exc))
            try:
                return self._connect()
            except sqlite3.DatabaseError as again:
                raise StorageError(f"cannot open the store {self.path}: {again}") from again

    def _connect_patiently(self) -> sqlite3.Connection:
        """:meth:`_connect`, tried again while another process holds the file's lock.

        SQLite does not always wait for a lock on its own (switching to WAL, for
        one), and a busy file is in use, not broken: it is never moved aside.
        """
        deadline = time.monotonic() + _BUSY_PATIENCE
        pause = 0.02
        while True:
            try:
                return self._connect()
            except sqlite3.OperationalError as exc:
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)  # another process holds the lock: let it finish
            pause = min(pause * 2, 0.5)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=5.0
        )
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            _check_pages(conn)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            schema.migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _move_aside(self, reason: str) -> None:
        try:
            self.moved_aside.append(move_aside(self.path, reason))
            for suffix in ("-wal", "-shm"):
                companion = self.path.with_name(self.path.name + suffix)
                if companion.exists():
                    self.moved_aside.append(move_aside(companion, reason))
        except OSError as exc:
            raise StorageError(
                f"the store {self.path} is unusable ({reason}) and could not be moved "
                f"aside ({exc})",
                "move it away by hand and retry",
            ) from exc

    def _damaged(self, exc: sqlite3.DatabaseError) -> StoreDamaged:
        logger.error("store file %s is damaged (%s); left as it is", self.path, exc)
        return StoreDamaged(
            f"the store {self.path} is damaged ({exc}); it was left as it is",
            f"stop voice-agent, move the file away by hand (`sqlite3 {self.path} .recover` "
            "salvages what is readable) and start again with a fresh store",
        )

    @contextmanager
    def _damage_reported(self) -> Iterator[None]:
        """Turn SQLite's "malformed" errors into a :class:`StoreDamaged` naming the file."""
        try:
            yield
        except StoreDamaged:
            raise
        except sqlite3.DatabaseError as exc:
            if not _is_damage(exc):
                raise
            raise self._damaged(exc) from exc

    @property
    def schema_version(self) -> int:
        """The number of schema migrations applied."""
        with self._lock:
            return schema.schema_version(self._conn)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block as one write transaction, rolled back on error.

        Yields:
            The connection to run statements on.

        Raises:
            StoreDamaged: SQLite found the file damaged; nothing was changed.
        """
        with self._lock, self._damage_reported():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Run a read query and return all rows.

        Raises:
            StoreDamaged: SQLite found the file damaged.
        """
        with self._lock, self._damage_reported():
            return self._conn.execute(sql, params).fetchall()
