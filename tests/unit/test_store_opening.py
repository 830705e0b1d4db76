"""Opening the store: a busy or newer file is never moved aside; concurrent openers migrate once.

A file damaged past its header is moved aside when opened; damage met later is an
error naming the file, and the file is left as it is.
"""

from __future__ import annotations

import logging
import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from voice_agent.store import database, schema
from voice_agent.store.database import Database, StorageError, StoreDamaged
from voice_agent.store.records import AuditEntry


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


def _damage_the_middle(path: Path) -> bytes:
    """Overwrite eight pages a third of the way into ``path``; return its new bytes."""
    data = bytearray(path.read_bytes())
    for page in range(8):
        at = len(data) // 3 + page * 4096 + 100
        data[at : at + 2000] = b"\xaa" * 2000
    path.write_bytes(bytes(data))
    return bytes(data)


def _full_store(path: Path) -> None:
    store = Database(path)
    with store.transaction() as conn:
        for i in range(600):
            conn.execute(
                "INSERT INTO audit_log (ts, tool_name, input_summary, decision) "
                "VALUES ('2026-11-01T10:00:00', 'Bash', ?, 'denied')",
                ("echo " + "y" * 300 + str(i),),
            )
    store.close()


def test_a_store_damaged_past_its_header_is_moved_aside_when_opened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "sessions.db"
    _full_store(path)
    damaged = _damage_the_middle(path)
    with caplog.at_level(logging.ERROR):
        store = Database(path)
    (kept,) = tmp_path.glob("sessions.db.corrupt-*")
    assert kept.read_bytes() == damaged
    assert store.moved_aside == [kept]
    assert "database disk image is malformed" in caplog.text
    assert store.query("SELECT count(*) AS n FROM audit_log")[0]["n"] == 0  # a fresh store
    store.close()


def test_damage_met_after_opening_names_the_file_and_leaves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sessions.db"
    _full_store(path)
    damaged = _damage_the_middle(path)
    monkeypatch.setattr(database, "_check_pages", lambda conn: None)  # as if it came later
    store = Database(path)
    with pytest.raises(StoreDamaged) as raised:
        store.query("SELECT count(*), max(input_summary) FROM audit_log")
    assert str(path) in raised.value.reason
    assert "database disk image is malformed" in raised.value.reason
    assert "move the file away by hand" in raised.value.fix
    assert isinstance(raised.value, sqlite3.Error)  # `except sqlite3.Error` still catches it
    with pytest.raises(StoreDamaged), store.transaction() as conn:
        conn.execute("DELETE FROM audit_log")
    store.close()
    assert path.read_bytes() == damaged
    assert list(tmp_path.glob("*.corrupt-*")) == []


@pytest.mark.parametrize(
    ("command", "runs"), [("sessions", "sessions_command"), ("audit", "audit_command")]
)
def test_a_command_meeting_damage_after_opening_says_so_without_a_traceback(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    runs: str,
) -> None:
    from voice_agent import cli
    from voice_agent.ops import admin

    def damaged(*_: object) -> int:
        raise StoreDamaged(f"the store {tmp_path}/data/sessions.db is damaged", "recover it")

    monkeypatch.setattr(admin, runs, damaged)  # damage a query met after the open check
    monkeypatch.setenv("VOICE_AGENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VOICE_AGENT_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.chdir(tmp_path)
    assert cli.main([command]) == 1
    err = capsys.readouterr().err
    assert err == f"voice-agent: the store {tmp_path}/data/sessions.db is damaged; recover it\n"


def test_doctor_reports_damage_met_after_opening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voice_agent.config import load_settings  # heavy imports: not in the spawned openers
    from voice_agent.ops.doctor import _store
    from voice_agent.sessions import SessionStorage, StoredSession

    path = tmp_path / "sessions.db"
    storage = SessionStorage(path)
    for i in range(300):
        storage.save_session(StoredSession(7, f"s{i}", "/code/" + "x" * 200, "2026-11-01", i))
        storage.audit.record(AuditEntry("Bash", "echo " + "y" * 300, "denied", chat_id=7))
    storage.close()
    damaged = _damage_the_middle(path)
    monkeypatch.setattr(database, "_check_pages", lambda conn: None)
    monkeypatch.setenv("VOICE_AGENT_CONFIG", str(tmp_path / "none.toml"))
    check, owners = _store(load_settings(session_storage_path=path))
    assert (check.status, owners) == ("fail", None)
    assert check.detail.startswith(f"the store {path} is damaged (database disk image")
    assert "move the file away by hand" in check.fix
    assert path.read_bytes() == damaged
