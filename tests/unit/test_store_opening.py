"""Opening the store: a busy or newer file is never moved aside; concurrent openers migrate once."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from voice_agent.store import database, schema
from voice_agent.store.database import Database, StorageError


def _open_and_report(path: str, start: multiprocessing.synchronize.Event) -> None:
    start.wait()
    Database(Path(path)).close()


def test_processes_opening_a_new_store_at_once_all_succeed_and_migrate_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sessions.db"
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    openers = [context.Process(target=_open_and_report, args=(str(path), start)) for _ in range(12)]
    for opener in openers:
        opener.start()
    start.set()  # all at once
    for opener in openers:
        opener.join(60)
    assert [o.exitcode for o in openers] == [0] * 12
    assert list(tmp_path.glob("*.corrupt-*")) == []
    store = Database(path)
    assert store.schema_version == len(schema.MIGRATIONS)
    store.close()


def test_a_locked_store_is_an_error_and_is_never_moved_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sessions.db"
    Database(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")  # switching back to WAL needs the lock
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(database, "_BUSY_PATIENCE", 0.3)
    try:
        with pytest.raises(StorageError, match="locked"):
            Database(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert list(tmp_path.glob("*.corrupt-*")) == []
    Database(path).close()  # and it opens once the other process lets go


def test_a_store_of_a_newer_voice_agent_is_kept_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    Database(path).close()
    newer = sqlite3.connect(path)
    newer.execute(f"PRAGMA user_version = {len(schema.MIGRATIONS) + 5}")
    newer.commit()
    newer.close()
    with pytest.raises(StorageError, match="newer than this voice-agent"):
        Database(path)
    assert list(tmp_path.glob("*.corrupt-*")) == []
    kept = sqlite3.connect(path)
    assert kept.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS) + 5
    kept.close()
