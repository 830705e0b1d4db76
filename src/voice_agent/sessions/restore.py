"""Sessions to and from the store: the stored record of a session, and start-up restore."""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import datetime

from voice_agent.sessions.session import Session
from voice_agent.sessions.storage import SessionStorage
from voice_agent.store.records import StoredSession

# (chat_id, name, cwd, created_at, message_count, claude_session_id, permission_mode)
SessionBuilder = Callable[[int, str, str, datetime, int, str | None, str], Session]


def to_stored(session: Session) -> StoredSession:
    """The record the store keeps for a session.

    Args:
        session: A live session.
    """
    return StoredSession(
        chat_id=session.chat_id,
        name=session.name,
        cwd=session.cwd,
        created_at=session.created_at.isoformat(),
        message_count=session.message_count,
        claude_session_id=session.claude_session_id,
    )


def _created_at(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return datetime.now()


def restore(
    storage: SessionStorage, build: SessionBuilder
) -> tuple[dict[int, dict[str, Session]], dict[int, str]]:
    """Rebuild every stored session, in creation order.

    Args:
        storage: The store to read.
        build: Makes a live session from its stored fields.

    Returns:
        Sessions by chat and name, and the active session name of each chat.
    """
    # Building many long-lived objects at once triggers repeated full collections
    # (about 2/3 of the time at 100,000 sessions); none of them is garbage.
    collecting = gc.isenabled()
    gc.disable()
    try:
        modes = storage.permission_modes()
        sessions: dict[int, dict[str, Session]] = {}
        active: dict[int, str] = {}
        for chat_id, state in storage.load_all().items():
            active[chat_id] = state.active_session
            sessions[chat_id] = {
                s.name: build(
                    chat_id,
                    s.name,
                    s.cwd,
                    _created_at(s.created_at),
                    s.message_count,
                    s.claude_session_id,
                    modes.get((chat_id, s.name), "default"),
                )
                for s in state.sessions.values()
            }
        return sessions, active
    finally:
        if collecting:
            gc.enable()


def persist(storage: SessionStorage | None, session: Session) -> None:
    """Save a session's record, unless there is no store or the session was closed or replaced.

    Args:
        storage: The store, if any.
        session: The session.
    """
    if storage is not None and not session.closed:
        storage.save_session(to_stored(session))
