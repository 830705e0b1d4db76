"""The SQLite session store: documented API, legacy import, corruption handling, schema."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest

from voice_agent.sessions import ChatStoredState, SessionStorage, StoredSession
from voice_agent.store.records import AuditEntry


def _session(chat_id: int, name: str, cwd: str = "/code", count: int = 0) -> StoredSession:
    return StoredSession(chat_id, name, cwd, "2026-01-01T10:00:00", count, None)


@pytest.fixture
def store(tmp_path: Path) -> SessionStorage:
    return SessionStorage(tmp_path / "sessions.db")


def test_first_saved_session_becomes_active(store: SessionStorage) -> None:
    store.save_session(_session(1, "main"))
    store.save_session(_session(1, "other"))
    assert store.get_active_session(1) == _session(1, "main")
    assert [s.name for s in store.list_sessions(1)] == ["main", "other"]
    assert store.list_all_chats() == [1]


def test_save_updates_in_place(store: SessionStorage) -> None:
    store.save_session(_session(1, "main", count=1))
    store.save_session(StoredSession(1, "main", "/elsewhere", "2026-01-01T10:00:00", 7, "abc"))
    assert store.get_session(1, "main") == StoredSession(
        1, "main", "/elsewhere", "2026-01-01T10:00:00", 7, "abc"
    )
    assert len(store.list_sessions(1)) == 1


def test_set_active_session_requires_existing_session(store: SessionStorage) -> None:
    store.save_session(_session(1, "main"))
    store.save_session(_session(1, "b"))
    assert store.set_active_session(1, "b") is True
    assert store.get(1) == _session(1, "b")
    assert store.set_active_session(1, "missing") is False
    assert store.set_active_session(2, "main") is False
    assert store.get_chat_state(1) == ChatStoredState(
        "b", {"main": _session(1, "main"), "b": _session(1, "b")}
    )


def test_deleting_active_session_activates_first_remaining(store: SessionStorage) -> None:
    for name in ("a", "b", "c"):
        store.save_session(_session(1, name))
    store.set_active_session(1, "b")
    assert store.delete_session(1, "b") is True
    assert store.get_chat_state(1) is not None
    assert store.get_chat_state(1).active_session == "a"  # type: ignore[union-attr]
    assert store.delete_session(1, "b") is False


def test_deleting_last_session_removes_chat(store: SessionStorage) -> None:
    store.save_session(_session(1, "main"))
    assert store.delete_session(1, "main") is True
    assert store.get_chat_state(1) is None
    assert store.list_all_chats() == []


def test_rename(store: SessionStorage) -> None:
    store.save_session(_session(1, "main"))
    store.save_session(_session(1, "b"))
    assert store.rename_session(1, "main", "b") is False
    assert store.rename_session(1, "nope", "x") is False
    assert store.rename_session(1, "main", "api") is True
    state = store.get_chat_state(1)
    assert state is not None
    assert state.active_session == "api"
    assert list(state.sessions) == ["api", "b"]


def test_legacy_methods(store: SessionStorage) -> None:
    store.save(_session(1, "main"))
    store.save(_session(2, "main"))
    store.save(_session(2, "x"))
    assert store.get(2) == _session(2, "main")
    assert store.list_all() == [_session(1, "main"), _session(2, "main")]
    store.delete(2)
    assert store.get(2) is None
    assert store.delete_chat(2) is False
    assert store.delete_chat(1) is True


def test_reopen_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    first = SessionStorage(path)
    first.save_session(_session(5, "main", count=3))
    first.close()
    again = SessionStorage(path)
    assert again.get_session(5, "main") == _session(5, "main", count=3)
    assert again.moved_aside == []


def test_uses_wal_and_current_schema(store: SessionStorage) -> None:
    conn = sqlite3.connect(store.db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.schema_version == 10


def test_migrating_empty_database_gives_exact_schema(tmp_path: Path) -> None:
    store = SessionStorage(tmp_path / "s.db")
    conn = sqlite3.connect(store.db_path)
    tables = {
        name: [row[1] for row in conn.execute(f"PRAGMA table_info({name})")]
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    assert tables == {
        "chats": ["chat_id", "active_session"],
        "sessions": [
            "id",
            "chat_id",
            "name",
            "cwd",
            "created_at",
            "message_count",
            "claude_session_id",
            "permission_mode",
        ],
        "sticky_rules": [
            "id",
            "session_id",
            "tool_name",
            "pattern",
            "field_name",
            "label",
            "created_at",
            "expires_at",
            "project",
            "chat_id",
        ],
        "audit_log": [
            "id",
            "ts",
            "chat_id",
            "user_id",
            "session_name",
            "tool_name",
            "input_summary",
            "decision",
            "rule",
        ],
        "owners": ["user_id", "chat_id", "paired_at"],
        "chat_settings": ["chat_id", "key", "value"],
        "usage": [
            "id",
            "ts",
            "chat_id",
            "session_name",
            "cost_usd",
            "input_tokens",
            "output_tokens",
            "duration_ms",
        ],
        "open_prompts": ["request_id", "chat_id", "message_id", "text", "created_at"],
        "topics": ["chat_id", "thread_id", "session_id", "title"],
        "schedules": [
            "id",
            "chat_id",
            "thread_id",
            "user_id",
            "session_id",
            "session_name",
            "prompt",
            "spec",
            "next_run",
            "created_at",
        ],
        "session_machines": ["session_id", "machine"],
        "remote_turns": ["turn_id", "machine", "chat_id", "session_name", "started_at"],
    }


OLD_FORMAT = {
    "100": {
        "chat_id": 100,
        "cwd": "/code/old",
        "created_at": "2025-01-01T09:00:00",
        "message_count": 4,
        "claude_session_id": "sess-old",
    }
}

NEW_FORMAT = {
    "200": {
        "active_session": "api",
        "sessions": {
            "main": {
                "chat_id": 200,
                "name": "main",
                "cwd": "/code",
                "created_at": "2025-02-01T09:00:00",
                "message_count": 1,
                "claude_session_id": None,
            },
            "api": {
                "chat_id": 200,
                "name": "api",
                "cwd": "/code/api",
                "created_at": "2025-02-02T09:00:00",
                "message_count": 9,
                "claude_session_id": "sess-api",
            },
        },
    }
}


@pytest.mark.parametrize("content", [OLD_FORMAT, NEW_FORMAT, {**OLD_FORMAT, **NEW_FORMAT}])
def test_legacy_json_is_imported_once(tmp_path: Path, content: dict[str, object]) -> None:
    legacy = tmp_path / "sessions.json"
    legacy.write_text(json.dumps(content))
    store = SessionStorage(legacy)
    assert store.db_path == tmp_path / "sessions.db"
    assert not legacy.exists()
    assert (tmp_path / "sessions.json.imported").exists()
    if "100" in content:
        assert store.get_chat_state(100) == ChatStoredState(
            "main",
            {"main": StoredSession(100, "main", "/code/old", "2025-01-01T09:00:00", 4, "sess-old")},
        )
    if "200" in content:
        state = store.get_chat_state(200)
        assert state is not None
        assert state.active_session == "api"
        assert state.sessions["api"].claude_session_id == "sess-api"
        assert list(state.sessions) == ["main", "api"]
    store.save_session(_session(100, "later"))
    store.close()
    # Opening the same path again opens the database; nothing is imported twice.
    again = SessionStorage(legacy)
    assert again.db_path == tmp_path / "sessions.db"
    assert again.get_session(100, "later") is not None or "100" not in content


def test_import_never_overwrites_database_rows(tmp_path: Path) -> None:
    store = SessionStorage(tmp_path / "sessions.db")
    store.save_session(StoredSession(100, "main", "/newer", "2026-01-01T00:00:00", 50, "sess-new"))
    store.close()
    (tmp_path / "sessions.json").write_text(json.dumps(OLD_FORMAT))
    again = SessionStorage(tmp_path / "sessions.json")
    session = again.get_session(100, "main")
    assert session is not None
    assert session.message_count == 50


def test_defect6_corrupt_json_is_moved_aside_not_discarded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    legacy = tmp_path / "sessions.json"
    legacy.write_text('{"100": {"cwd": "/code", "created_at": "x", ')
    with caplog.at_level(logging.ERROR):
        store = SessionStorage(legacy)
    moved = list(tmp_path.glob("sessions.json.corrupt-*"))
    assert len(moved) == 1
    assert moved[0].read_text().startswith('{"100"')
    assert store.moved_aside == moved
    assert "moved it aside" in caplog.text
    assert store.list_all_chats() == []


def test_defect6_partly_bad_json_imports_good_chats_and_keeps_file(tmp_path: Path) -> None:
    legacy = tmp_path / "sessions.json"
    legacy.write_text(json.dumps({**NEW_FORMAT, "300": {"sessions": "nonsense"}, "x": {}}))
    store = SessionStorage(legacy)
    assert store.get_chat_state(200) is not None
    assert len(list(tmp_path.glob("sessions.json.corrupt-*"))) == 1
    assert not (tmp_path / "sessions.json.imported").exists()


def test_defect6_corrupt_database_is_moved_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "sessions.db"
    path.write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.ERROR):
        store = SessionStorage(path)
    moved = list(tmp_path.glob("sessions.db.corrupt-*"))
    assert len(moved) == 1
    assert moved[0].read_bytes().startswith(b"this is not a database")
    assert store.moved_aside == moved
    store.save_session(_session(1, "main"))
    assert store.get(1) is not None
    assert "unusable" in caplog.text


def test_sqlite_file_named_json_is_opened_as_database(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    first = SessionStorage(tmp_path / "real.db")
    first.save_session(_session(1, "main"))
    first.close()
    (tmp_path / "real.db").rename(path)
    store = SessionStorage(path)
    assert store.db_path == path
    assert store.get(1) == _session(1, "main")


def test_sticky_rules_follow_rename_and_go_with_delete(store: SessionStorage) -> None:
    store.save_session(_session(1, "main"))
    rule_id = store.sticky.add(1, "main", "Bash", "npm test(?: .*)?", "command", "Bash: npm test …")
    assert rule_id is not None
    assert store.sticky.add(1, "ghost", "Bash", None, None) is None
    store.rename_session(1, "main", "api")
    rules = store.sticky.list(1, "api")
    assert [(r.id, r.tool_name, r.pattern) for r in rules] == [
        (rule_id, "Bash", "npm test(?: .*)?")
    ]
    store.delete_session(1, "api")
    store.save_session(_session(1, "api"))
    assert store.sticky.list(1, "api") == []


def test_sticky_remove_and_clear(store: SessionStorage) -> None:
    store.save_session(_session(1, "main"))
    first = store.sticky.add(1, "main", "Write", "/code/.*", "file_path")
    store.sticky.add(1, "main", "WebFetch", None, None)
    assert first is not None
    assert store.sticky.remove(first) is True
    assert store.sticky.remove(first) is False
    assert store.sticky.clear(1, "main") == 1
    assert store.sticky.list(1, "main") == []


def test_audit_log_filters(store: SessionStorage) -> None:
    store.audit.record(AuditEntry("Bash", "ls", "auto", chat_id=1, ts="2026-01-01T00:00:00"))
    store.audit.record(
        AuditEntry("Write", "a.txt", "approved", chat_id=2, user_id=9, ts="2026-01-02T00:00:00")
    )
    store.audit.record(AuditEntry("Bash", "rm x", "denied", chat_id=1))
    assert [e.input_summary for e in store.audit.entries(chat_id=1)] == ["ls", "rm x"]
    assert [e.decision for e in store.audit.entries(since="2026-01-01T12:00:00")] == [
        "approved",
        "denied",
    ]
    assert [e.decision for e in store.audit.entries(until="2026-01-02T00:00:00")] == ["auto"]
    assert store.audit.entries(limit=1)[0].input_summary == "rm x"


def test_permission_mode_is_stored(store: SessionStorage) -> None:
    store.save_session(_session(1, "main"))
    assert store.get_permission_mode(1, "main") == "default"
    assert store.set_permission_mode(1, "main", "acceptEdits") is True
    assert store.set_permission_mode(1, "nope", "plan") is False
    assert store.permission_modes() == {(1, "main"): "acceptEdits"}


def test_project_rules_outlive_the_session_that_made_them(store: SessionStorage) -> None:
    store.save_session(_session(1, "api", "/code/api"))
    store.save_session(_session(1, "other", "/code/api"))
    store.sticky.add(1, "api", "Bash", r"^make\b", "command", "make")
    store.sticky.add(1, "api", "Bash", r"^npm test\b", "command", "npm test", project="/code/api")
    assert store.delete_session(1, "api")
    assert store.sticky.list(1, "api") == []
    (kept,) = store.sticky.project_rules(1)
    assert (kept.label, kept.project) == ("npm test", "/code/api")
    assert store.sticky.project_rules(2) == []
    assert store.delete_chat(1)
    assert store.sticky.project_rules(1) == []


def test_upgrade_from_version_7_gives_project_rules_to_the_chat(tmp_path: Path) -> None:
    from voice_agent.store.schema import MIGRATIONS

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for number, step in enumerate(MIGRATIONS[:7], start=1):
        step(conn)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.execute(
        "INSERT INTO sessions (id, chat_id, name, cwd, created_at) "
        "VALUES (4, 9, 'api', '/code/api', '2026-01-01')"
    )
    conn.executemany(
        "INSERT INTO sticky_rules (session_id, tool_name, pattern, field_name, label, "
        "created_at, project) VALUES (4, 'Bash', ?, 'command', ?, '2026-01-01', ?)",
        [(r"^make\b", "make", None), (r"^npm\b", "npm", "/code/api")],
    )
    conn.close()
    store = SessionStorage(path)
    assert store.schema_version == 10
    assert [r.label for r in store.sticky.list(9, "api")] == ["make"]
    assert [r.label for r in store.sticky.project_rules(9)] == ["npm"]
    assert store.delete_session(9, "api")
    assert [r.label for r in store.sticky.project_rules(9)] == ["npm"]


# -- a store served by a running process ------------------------------------------

_HOLDER = """
import sys
from voice_agent.sessions import SessionStorage
storage = SessionStorage(sys.argv[1])
storage.hold("the bot")
print("holding", flush=True)
sys.stdin.readline()
storage.close()
print("let go", flush=True)
"""


def test_a_change_from_outside_is_refused_while_another_process_holds_the_store(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    from voice_agent.store.lock import StoreInUse

    db = tmp_path / "sessions.db"
    SessionStorage(db).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdin is not None
        assert holder.stdout.readline() == "holding\n"
        store = SessionStorage(db)
        refused = rf"the bot is running \(pid {holder.pid}\); stop it first"
        with pytest.raises(StoreInUse, match=refused), store.exclusively():
            pytest.fail("ran although another process holds the store")
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline() == "let go\n"
        with store.exclusively():  # nobody holds it now
            store.save_session(_session(1, "main"))
        store.close()
    finally:
        holder.kill()
        holder.wait()


def test_holding_the_store_twice_is_one_hold_and_close_lets_go(tmp_path: Path) -> None:
    from voice_agent.store.lock import StoreInUse

    holder = SessionStorage(tmp_path / "sessions.db")
    holder.hold()
    holder.hold()
    outside = SessionStorage(tmp_path / "sessions.db")
    with pytest.raises(StoreInUse, match="voice-agent is running"), outside.exclusively():
        pytest.fail("ran although this process holds the store elsewhere")
    holder.close()
    assert holder.closed
    with outside.exclusively():
        pass
    outside.close()


def test_replace_session_starts_the_row_afresh_in_the_default_mode(store: SessionStorage) -> None:
    store.save_session(_session(1, "other"))
    store.save_session(_session(1, "main", count=5))
    store.set_permission_mode(1, "main", "acceptEdits")
    store.replace_session(_session(1, "main", "/new"))
    assert store.get_session(1, "main") == _session(1, "main", "/new")
    assert store.get_permission_mode(1, "main") == "default"
    assert [s.name for s in store.list_sessions(1)] == ["other", "main"]  # keeps its place
