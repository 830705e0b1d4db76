"""Plain records the store reads and writes; no behaviour beyond (de)serialising."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class StoredSession:
    """Serializable session data for persistence.

    Attributes:
        chat_id: Telegram chat ID.
        name: Session name within the chat.
        cwd: Working directory.
        created_at: ISO format timestamp.
        message_count: Number of messages exchanged.
        claude_session_id: Claude CLI session ID for resume.
    """

    chat_id: int
    name: str
    cwd: str
    created_at: str
    message_count: int
    claude_session_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Convert to dictionary for JSON serialization."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredSession:
        """Create from dictionary."""
        return cls(
            chat_id=int(data["chat_id"]),
            name=str(data.get("name", "main")),
            cwd=str(data["cwd"]),
            created_at=str(data["created_at"]),
            message_count=int(data["message_count"]),
            claude_session_id=data.get("claude_session_id"),
        )


@dataclass
class ChatStoredState:
    """Stored state for all sessions in a chat.

    Attributes:
        active_session: Name of the currently active session.
        sessions: Mapping of session names to stored sessions.
    """

    active_session: str
    sessions: dict[str, StoredSession] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Convert to dictionary for JSON serialization."""
        return {
            "active_session": self.active_session,
            "sessions": {name: s.to_dict() for name, s in self.sessions.items()},
        }

    @classmethod
    def from_dict(cls, chat_id: int, data: dict[str, Any]) -> ChatStoredState:
        """Create from dictionary.

        Args:
            chat_id: Telegram chat ID (needed for session creation).
            data: Raw dictionary data.
        """
        sessions = {
            name: StoredSession.from_dict({**s_data, "chat_id": chat_id, "name": name})
            for name, s_data in data.get("sessions", {}).items()
        }
        return cls(active_session=str(data.get("active_session", "main")), sessions=sessions)


@dataclass(frozen=True)
class StoredStickyRule:
    """A sticky approval rule as stored for one session.

    Attributes:
        id: The rule's id in the store (used to revoke it).
        tool_name: Tool the rule approves.
        pattern: Anchored regular expression, or None for every call of the tool.
        field_name: Input field the pattern is matched against.
        label: Human description shown in listings.
        created_at: ISO timestamp of the approval that created it.
        expires_at: Unix time after which it no longer applies (None: until revoked).
        project: The project directory it covers, for a rule of the whole project.
    """

    id: int
    tool_name: str
    pattern: str | None
    field_name: str | None
    label: str | None
    created_at: str
    expires_at: float | None = None
    project: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One permission decision in the audit log.

    Attributes:
        tool_name: The tool Claude asked to use.
        input_summary: A one-line summary of its input (command, path, URL).
        decision: ``auto``, ``sticky``, ``mode``, ``approved``, ``always``,
            ``denied``, ``timeout``, ``policy-deny``, or ``refused`` (a decision
            attempted by someone who may not approve).
        chat_id: Chat the session belongs to.
        user_id: Who decided, when a person did.
        session_name: Session name within the chat.
        rule: The rule or reason behind the decision.
        ts: ISO timestamp; filled in when logged if empty.
    """

    tool_name: str
    input_summary: str
    decision: str
    chat_id: int | None = None
    user_id: int | None = None
    session_name: str | None = None
    rule: str | None = None
    ts: str = ""
