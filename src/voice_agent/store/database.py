"""The SQLite connection behind the store: opening, moving a bad file aside, transactions."""

from __future__ import annotations

import logging
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
    """The store cannot be opened or written; the message says why and what to do."""


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

    A file that is not a usable database is moved aside (with its ``-wal`` and
    ``-shm`` companions) and a fresh one is created; the moved files are listed
    in ``moved_aside``. A file another process has locked is waited for, and one
    written by a newer voice-agent, or that cannot be read (permissions, disk), is
    an error: neither is ever moved aside.

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
                f"cannot create the store directory {self.path.parent}: {exc}"
            ) from exc
        try:
            return self._connect_patiently()
        except (schema.SchemaTooNew, sqlite3.OperationalError) as exc:
            # Newer, busy, locked, unreadable, a disk error: not corrupt, so kept as it is.
            raise StorageError(f"cannot open the store {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            if not self.path.exists():
                raise StorageError(f"cannot create the store {self.path}: {exc}") from exc
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
                f"aside ({exc}); move it away by hand"
            ) from exc

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
        """
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Run a read query and return all rows."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()
