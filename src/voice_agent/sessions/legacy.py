"""One-time import of the reference project's ``sessions.json`` into the SQLite store.

Two historical formats exist, keyed by chat id:

* old, one session per chat: ``{"123": {"chat_id": 123, "cwd": ..., "created_at": ...,
  "message_count": ..., "claude_session_id": ...}}``
* new, named sessions: ``{"123": {"active_session": "main", "sessions": {"main": {...}}}}``

Sessions already in the database are never overwritten. After a clean import the file
is renamed ``<name>.imported``; if any part could not be read, the whole file is kept
as ``<name>.corrupt-<timestamp>`` and the readable chats are imported.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voice_agent.sessions.database import move_aside
from voice_agent.sessions.records import ChatStoredState, StoredSession

if TYPE_CHECKING:
    from voice_agent.sessions.storage import SessionStorage

logger = logging.getLogger(__name__)


def parse_chat(chat_id: int, data: Any) -> ChatStoredState:
    """Read one chat's entry in either historical format.

    Args:
        chat_id: The chat the entry belongs to.
        data: The entry's JSON value.

    Returns:
        The chat's sessions and active session.

    Raises:
        ValueError: The entry is in neither format.
    """
    if not isinstance(data, dict):
        raise ValueError(f"chat {chat_id}: expected an object")
    try:
        if "cwd" in data:
            session = StoredSession.from_dict({**data, "chat_id": chat_id, "name": "main"})
            return ChatStoredState(active_session="main", sessions={"main": session})
        state = ChatStoredState.from_dict(chat_id, data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"chat {chat_id}: {exc!r}") from exc
    if not state.sessions:
        raise ValueError(f"chat {chat_id}: no sessions")
    if state.active_session not in state.sessions:
        state.active_session = next(iter(state.sessions))
    return state


def _read(path: Path) -> tuple[dict[int, ChatStoredState], list[str]]:
    """Parse the file; returns the readable chats and a list of problems."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {}, [f"unreadable: {exc}"]
    if not isinstance(raw, dict):
        return {}, ["top level is not an object"]
    chats: dict[int, ChatStoredState] = {}
    problems: list[str] = []
    for key, data in raw.items():
        try:
            chat_id = int(key)
            chats[chat_id] = parse_chat(chat_id, data)
        except ValueError as exc:
            problems.append(str(exc))
    return chats, problems


def _imported_name(path: Path) -> Path:
    target = path.with_name(path.name + ".imported")
    counter = 2
    while target.exists():
        target = path.with_name(f"{path.name}.imported-{counter}")
        counter += 1
    return target


def import_json(storage: SessionStorage, path: Path) -> list[Path]:
    """Import ``path`` into ``storage`` once, then rename it out of the way.

    Args:
        storage: The open SQLite store.
        path: The legacy JSON file.

    Returns:
        The files moved aside as corrupt (empty after a clean import).
    """
    chats, problems = _read(path)
    for chat_id, state in chats.items():
        storage.import_chat(chat_id, state)
    if problems:
        logger.error(
            "imported %d chats from %s; could not read: %s", len(chats), path, "; ".join(problems)
        )
        return [move_aside(path, "; ".join(problems))]
    target = _imported_name(path)
    path.rename(target)
    logger.info("imported %d chats from %s into %s", len(chats), path, storage.db_path)
    return []
