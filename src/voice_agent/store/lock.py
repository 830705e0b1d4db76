"""Who has the store open to serve sessions: a lock file beside the database.

A process that serves sessions (the bot, the terminal chat) keeps what it knows
in memory and writes it back on every change, so a change made to the store
behind its back (``voice-agent sessions delete``) would be undone by its next
save. Such a process holds a shared lock on ``<database>.lock`` for as long as
its store is open, and writes its pid and what it is into the file; a change
made from outside takes the lock exclusively, without waiting, and is refused
while anyone holds it. The kernel drops a lock when its process ends, so a
crashed bot leaves nothing stale behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from voice_agent.store.database import StorageError

logger = logging.getLogger(__name__)


class StoreInUse(StorageError):
    """A running voice-agent serves sessions from this store; stop it first.

    Attributes:
        holders: ``(pid, what)`` of each process known to hold the store.
    """

    def __init__(self, holders: list[tuple[int, str]]) -> None:
        """Describe the processes holding the store.

        Args:
            holders: ``(pid, what)`` of each, as they wrote it in the lock file.
        """
        self.holders = holders
        if not holders:
            text = "voice-agent is running with this store open; stop it first"
        else:
            pid, what = holders[0]
            also = f" (and {len(holders) - 1} more)" if len(holders) > 1 else ""
            text = f"{what} is running (pid {pid}){also}; stop it first"
        super().__init__(text)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def _read_holders(fd: int) -> list[tuple[int, str]]:
    size = os.fstat(fd).st_size
    text = os.pread(fd, size, 0).decode(errors="replace") if size else ""
    holders = []
    for line in text.splitlines():
        pid, _, what = line.partition(" ")
        if pid.isdigit() and _alive(int(pid)):
            holders.append((int(pid), what.strip() or "voice-agent"))
    return holders


class StoreLock:
    """The lock file of one database.

    Attributes:
        path: The lock file (``<database>.lock``).
    """

    def __init__(self, database: Path) -> None:
        """Prepare the lock of ``database``; nothing is locked yet.

        Args:
            database: The SQLite database file.
        """
        self.path = database.with_name(database.name + ".lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the shared lock."""
        return self._fd is not None

    def hold(self, what: str = "voice-agent") -> None:
        """Hold the shared lock until :meth:`release` (waits out a change in progress).

        Holding it again changes nothing. A lock file that cannot be made (a
        read-only directory) is logged and leaves the store unguarded.

        Args:
            what: What this process is, for the refusal message ("the bot").
        """
        if self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            logger.warning("cannot create the store lock %s (%s); not guarding it", self.path, exc)
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            holders = [h for h in _read_holders(fd) if h[0] != os.getpid()]
            lines = "".join(f"{pid} {name}\n" for pid, name in [*holders, (os.getpid(), what)])
            os.ftruncate(fd, 0)
            os.pwrite(fd, lines.encode(), 0)
        except OSError:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        """Let go of the shared lock (closing the file drops it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @contextlib.contextmanager
    def exclusively(self) -> Iterator[None]:
        """Hold the lock alone for the block; refuse at once if someone holds it.

        Raises:
            StoreInUse: A process holds the store (its pid is in the message).
            StorageError: The lock file cannot be opened.
        """
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StorageError(f"cannot open the store lock {self.path}: {exc}") from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreInUse(_read_holders(fd)) from None
            os.ftruncate(fd, 0)  # nobody holds it: whatever it says is stale
            yield
        finally:
            os.close(fd)
