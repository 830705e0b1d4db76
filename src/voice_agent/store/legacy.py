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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voice_agent.store.database import move_aside
from voice_agent.store.records import ChatStoredState, StoredSession

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


@dataclass
class LegacyFile:
    """What a legacy ``sessions.json`` held.

    Attributes:
        path: The file.
        chats: The readable chats, by chat id.
        problems: What could not be read (empty for a clean file).
    """

    path: Path
    chats: dict[int, ChatStoredState] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def read_json(path: Path) -> LegacyFile:
    """Parse a legacy file; nothing is changed on disk.

    Args:
        path: The legacy JSON file.

    Returns:
        Its readable chats and the problems found.
    """
    chats, problems = _read(path)
    return LegacyFile(path, chats, problems)


def finish_import(legacy: LegacyFile, db_path: Path) -> list[Path]:
    """After its chats were stored: rename the file out of the way, or keep it aside.

    Args:
        legacy: The file that was imported.
        db_path: The database it went into (for the log).

    Returns:
        The files moved aside as corrupt (empty after a clean import).
    """
    path, problems = legacy.path, legacy.problems
    if problems:
        logger.error(
            "imported %d chats from %s; could not read: %s",
            len(legacy.chats),
            path,
            "; ".join(problems),
        )
        return [move_aside(path, "; ".join(problems))]
    target = _imported_name(path)
    path.rename(target)
    logger.info("imported %d chats from %s into %s", len(legacy.chats), path, db_path)
    return []
