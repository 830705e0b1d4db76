"""Session management for Claude Code SDK."""

from voice_agent.sessions.image import ImageAttachment
from voice_agent.sessions.manager import SessionManager
from voice_agent.sessions.permissions import (
    PendingPermission,
    PermissionHandler,
    PermissionState,
    StickyApproval,
    is_safe_bash_command,
    is_safe_tool_call,
)
from voice_agent.sessions.session import Session, SessionBusy, SessionInfo
from voice_agent.sessions.storage import ChatStoredState, SessionStorage, StoredSession

__all__ = [
    "ChatStoredState",
    "ImageAttachment",
    "PendingPermission",
    "PermissionHandler",
    "PermissionState",
    "Session",
    "SessionBusy",
    "SessionInfo",
    "SessionManager",
    "SessionStorage",
    "StickyApproval",
    "StoredSession",
    "is_safe_bash_command",
    "is_safe_tool_call",
]
