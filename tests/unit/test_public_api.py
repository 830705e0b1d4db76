"""The documented API of ``voice_agent.sessions`` (the seed's reference page) is all there.

Each documented callable must accept its documented parameters, in order, with the
documented defaults; new parameters may only follow, and only with defaults.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from typing import Any

import pytest

import voice_agent.sessions as sessions

_NO_DEFAULT = inspect.Parameter.empty

# (owner, callable name, [(parameter, default or _NO_DEFAULT), ...]); "self" is left out.
DOCUMENTED: list[tuple[Any, str, list[tuple[str, Any]]]] = [
    (
        sessions.SessionManager,
        "__init__",
        [("default_cwd", "/code"), ("permission_timeout", 300), ("storage", None)],
    ),
    (
        sessions.SessionManager,
        "set_notify_callback",
        [("chat_id", _NO_DEFAULT), ("callback", _NO_DEFAULT)],
    ),
    (
        sessions.SessionManager,
        "get_or_create",
        [("chat_id", _NO_DEFAULT), ("cwd", None), ("name", None)],
    ),
    (
        sessions.SessionManager,
        "create_new",
        [("chat_id", _NO_DEFAULT), ("cwd", None), ("name", None)],
    ),
    (
        sessions.SessionManager,
        "create_new_async",
        [("chat_id", _NO_DEFAULT), ("cwd", None), ("name", None)],
    ),
    (sessions.SessionManager, "get", [("chat_id", _NO_DEFAULT), ("name", None)]),
    (sessions.SessionManager, "list_sessions", [("chat_id", _NO_DEFAULT)]),
    (sessions.SessionManager, "get_active_session_name", [("chat_id", _NO_DEFAULT)]),
    (sessions.SessionManager, "switch_session", [("chat_id", _NO_DEFAULT), ("name", _NO_DEFAULT)]),
    (sessions.SessionManager, "generate_session_name", [("chat_id", _NO_DEFAULT)]),
    (
        sessions.SessionManager,
        "rename_session",
        [("chat_id", _NO_DEFAULT), ("old_name", _NO_DEFAULT), ("new_name", _NO_DEFAULT)],
    ),
    (sessions.SessionManager, "set_cwd", [("chat_id", _NO_DEFAULT), ("cwd", _NO_DEFAULT)]),
    (
        sessions.SessionManager,
        "send_prompt",
        [("chat_id", _NO_DEFAULT), ("prompt", _NO_DEFAULT), ("resume", True), ("images", None)],
    ),
    (sessions.SessionManager, "get_status", [("chat_id", _NO_DEFAULT)]),
    (sessions.SessionManager, "close_session", [("chat_id", _NO_DEFAULT), ("name", _NO_DEFAULT)]),
    (
        sessions.SessionManager,
        "close_session_async",
        [("chat_id", _NO_DEFAULT), ("name", _NO_DEFAULT)],
    ),
    (sessions.SessionManager, "delete_session", [("chat_id", _NO_DEFAULT)]),
    (sessions.SessionManager, "delete_session_async", [("chat_id", _NO_DEFAULT)]),
    (
        sessions.SessionManager,
        "set_claude_session_id",
        [("chat_id", _NO_DEFAULT), ("session_id", _NO_DEFAULT)],
    ),
    (sessions.SessionManager, "has_resumable_session", [("chat_id", _NO_DEFAULT)]),
    (sessions.SessionStorage, "__init__", [("path", "sessions.json")]),
    (sessions.SessionStorage, "get_chat_state", [("chat_id", _NO_DEFAULT)]),
    (sessions.SessionStorage, "get_session", [("chat_id", _NO_DEFAULT), ("name", _NO_DEFAULT)]),
    (sessions.SessionStorage, "get_active_session", [("chat_id", _NO_DEFAULT)]),
    (sessions.SessionStorage, "save_session", [("session", _NO_DEFAULT)]),
    (
        sessions.SessionStorage,
        "set_active_session",
        [("chat_id", _NO_DEFAULT), ("name", _NO_DEFAULT)],
    ),
    (sessions.SessionStorage, "delete_session", [("chat_id", _NO_DEFAULT), ("name", _NO_DEFAULT)]),
    (
        sessions.SessionStorage,
        "rename_session",
        [("chat_id", _NO_DEFAULT), ("old_name", _NO_DEFAULT), ("new_name", _NO_DEFAULT)],
    ),
    (sessions.SessionStorage, "delete_chat", [("chat_id", _NO_DEFAULT)]),
    (sessions.SessionStorage, "list_sessions", [("chat_id", _NO_DEFAULT)]),
    (sessions.SessionStorage, "list_all_chats", []),
    (sessions.SessionStorage, "get", [("chat_id", _NO_DEFAULT)]),
    (sessions.SessionStorage, "save", [("session", _NO_DEFAULT)]),
    (sessions.SessionStorage, "delete", [("chat_id", _NO_DEFAULT)]),
    (sessions.SessionStorage, "list_all", []),
    (sessions.PermissionHandler, "__init__", [("timeout", 300), ("notify_callback", None)]),
    (sessions.PermissionHandler, "has_pending", []),
    (sessions.PermissionHandler, "get_pending_description", []),
    (
        sessions.PermissionHandler,
        "request_permission",
        [("tool_name", _NO_DEFAULT), ("input_data", _NO_DEFAULT)],
    ),
    (sessions.PermissionHandler, "approve", []),
    (sessions.PermissionHandler, "deny", [("message", None)]),
    (sessions.PermissionHandler, "sticky_approve", []),
    (sessions.PermissionHandler, "get_sticky_approvals", []),
    (sessions.PermissionHandler, "clear_sticky_approvals", []),
    (sessions.PermissionHandler, "remove_sticky_approval", [("index", _NO_DEFAULT)]),
    (sessions.StickyApproval, "matches", [("tool_name", _NO_DEFAULT), ("input_data", _NO_DEFAULT)]),
    (sessions.StickyApproval, "describe", []),
    (sessions.Session, "get_status", []),
    (sessions.StoredSession, "to_dict", []),
    (sessions.ChatStoredState, "to_dict", []),
    (sessions, "is_safe_tool_call", [("tool_name", _NO_DEFAULT), ("input_data", _NO_DEFAULT)]),
    (sessions, "is_safe_bash_command", [("command", _NO_DEFAULT)]),
]

DATACLASS_FIELDS: list[tuple[type[Any], list[str]]] = [
    (
        sessions.Session,
        [
            "chat_id",
            "name",
            "cwd",
            "created_at",
            "message_count",
            "permission_handler",
            "sdk_client",
            "claude_session_id",
        ],
    ),
    (sessions.SessionInfo, ["name", "message_count", "cwd", "is_active"]),
    (
        sessions.StoredSession,
        ["chat_id", "name", "cwd", "created_at", "message_count", "claude_session_id"],
    ),
    (sessions.ChatStoredState, ["active_session", "sessions"]),
    (sessions.ImageAttachment, ["data", "media_type"]),
    (sessions.StickyApproval, ["tool_name", "pattern", "field_name"]),
    (sessions.PendingPermission, ["tool_name", "input_data", "event", "state", "deny_message"]),
]


@pytest.mark.parametrize(
    ("owner", "name", "params"), DOCUMENTED, ids=[f"{o.__name__}.{n}" for o, n, _ in DOCUMENTED]
)
def test_documented_signature(owner: Any, name: str, params: list[tuple[str, Any]]) -> None:
    signature = inspect.signature(getattr(owner, name))
    actual = [p for p in signature.parameters.values() if p.name != "self"]
    assert [(p.name, p.default) for p in actual[: len(params)]] == params
    for extra in actual[len(params) :]:
        assert extra.default is not _NO_DEFAULT or extra.kind is inspect.Parameter.VAR_KEYWORD


@pytest.mark.parametrize(
    ("cls", "fields"), DATACLASS_FIELDS, ids=lambda v: getattr(v, "__name__", "")
)
def test_documented_dataclass_fields_come_first_in_order(cls: type[Any], fields: list[str]) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    assert names[: len(fields)] == fields


def test_documented_modules_and_exports() -> None:
    for module in ("manager", "storage", "permissions", "image"):
        importlib.import_module(f"voice_agent.sessions.{module}")
    assert set(sessions.__all__) >= {
        "SessionManager",
        "Session",
        "SessionInfo",
        "SessionStorage",
        "StoredSession",
        "ChatStoredState",
        "PermissionHandler",
        "PendingPermission",
        "PermissionState",
        "StickyApproval",
        "ImageAttachment",
        "is_safe_tool_call",
        "is_safe_bash_command",
    }
    assert [s.name for s in sessions.PermissionState] == [
        "PENDING",
        "APPROVED",
        "DENIED",
        "TIMEOUT",
    ]


def test_documented_dict_formats() -> None:
    stored = sessions.StoredSession(1, "main", "/code", "2026-01-01T00:00:00", 3, "abc")
    assert stored.to_dict() == {
        "chat_id": 1,
        "name": "main",
        "cwd": "/code",
        "created_at": "2026-01-01T00:00:00",
        "message_count": 3,
        "claude_session_id": "abc",
    }
    assert sessions.StoredSession.from_dict(stored.to_dict()) == stored
    state = sessions.ChatStoredState("main", {"main": stored})
    assert state.to_dict() == {"active_session": "main", "sessions": {"main": stored.to_dict()}}
    assert sessions.ChatStoredState.from_dict(1, state.to_dict()) == state


def test_documented_manager_behaviour(tmp_path: Any) -> None:
    manager = sessions.SessionManager(storage=sessions.SessionStorage(tmp_path / "s.db"))
    assert manager.generate_session_name(5) == "session-2"
    main = manager.get_or_create(5)
    assert (main.name, main.cwd) == ("main", "/code")
    manager.create_new(5, name="session-2")
    assert manager.generate_session_name(5) == "session-3"
    assert manager.get_active_session_name(5) == "session-2"
    assert manager.rename_session(5, "main", "session-2") is False
    assert manager.rename_session(5, "main", "api") is True
    assert manager.switch_session(5, "missing") is None
    assert manager.close_session(5, "session-2") is True
    assert manager.get_active_session_name(5) == "api"
    assert manager.has_resumable_session(5) is False
    manager.set_claude_session_id(5, "claude-1")
    assert manager.has_resumable_session(5) is True
    status = manager.get_status(5)
    assert status is not None
    assert status.splitlines()[:3] == ["Session: api", "Working directory: /code", "Messages: 0"]
    assert manager.get_status(999) is None
    reopened = sessions.SessionManager(storage=sessions.SessionStorage(tmp_path / "s.db"))
    assert [(s.name, s.is_active) for s in reopened.list_sessions(5)] == [("api", True)]
    assert reopened.get(5).claude_session_id == "claude-1"  # type: ignore[union-attr]
