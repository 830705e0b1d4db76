"""What the session manager keeps in memory and what the store says agree, also after a restart.

No Claude Code process is started here; the turn-time cases (close, clear, cwd
during a turn) are in ``tests/e2e/test_state_e2e.py``.
"""

from __future__ import annotations

from pathlib import Path

from voice_agent.agent.options import AgentSettings
from voice_agent.sessions import SessionManager, SessionStorage, StoredSession

CHAT = 42


def _manager(db: Path) -> SessionManager:
    return SessionManager(
        default_cwd="/code", storage=SessionStorage(db), agent=AgentSettings(idle_timeout=None)
    )


async def test_a_replaced_session_starts_in_the_default_mode_also_after_a_restart(
    tmp_path: Path,
) -> None:
    db = tmp_path / "sessions.db"
    manager = _manager(db)
    manager.get_or_create(CHAT)
    manager.set_permission_mode(CHAT, "acceptEdits")
    replaced = await manager.create_new_async(CHAT)  # "main" again: a new session
    assert replaced.permission_mode == "default"
    await manager.aclose()
    assert manager.storage is not None
    manager.storage.close()
    again = _manager(db)
    restored = again.get(CHAT)
    assert restored is not None
    assert restored.permission_mode == "default"  # the old acceptEdits did not come back
    assert restored.permission_handler.permission_mode == "default"


async def test_a_replaced_session_writes_nothing_for_the_old_one(tmp_path: Path) -> None:
    manager = _manager(tmp_path / "sessions.db")
    old = manager.get_or_create(CHAT)
    new = manager.create_new(CHAT)
    assert old.closed
    assert not new.closed
    manager.set_claude_session_id(CHAT, "new-conversation")
    old.claude_session_id = "old-conversation"
    manager._persist_session(old)  # what the old session's last turn would do
    assert manager.storage is not None
    stored = manager.storage.get_session(CHAT, "main")
    assert stored is not None
    assert stored.claude_session_id == "new-conversation"
    await manager.aclose()


async def test_rename_follows_the_store_and_reports_its_refusal(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    manager = _manager(db)
    manager.get_or_create(CHAT)
    assert manager.storage is not None
    # The store knows a session the manager does not (written by another process, say).
    manager.storage.save_session(StoredSession(CHAT, "taken", "/code", "2026-01-01", 0))
    assert manager.rename_session(CHAT, "main", "taken") is False
    assert [s.name for s in manager.list_sessions(CHAT)] == ["main"]  # memory unchanged
    assert manager.get(CHAT, "main") is not None
    assert manager.get_active_session_name(CHAT) == "main"
    assert manager.rename_session(CHAT, "main", "api") is True
    assert [s.name for s in manager.storage.list_sessions(CHAT)] == ["api", "taken"]
    await manager.aclose()
