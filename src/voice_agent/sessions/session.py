"""One named Claude Code session of a chat, and its summary for listings."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from voice_agent.sessions.permissions import PermissionHandler

if TYPE_CHECKING:
    from claude_agent_sdk import ClaudeSDKClient


_keys = itertools.count(1)


class SessionBusy(Exception):
    """A session is running a turn, so this cannot be done now; the message says why."""


@dataclass
class Session:
    """A Claude Code session.

    Attributes:
        chat_id: Telegram chat ID this session belongs to.
        name: Session name within the chat.
        cwd: Working directory for the session.
        created_at: When the session was created.
        message_count: Number of messages exchanged.
        permission_handler: Handler for permission requests.
        sdk_client: Always None: live clients belong to the manager's pool, each
            owned by one task (kept for compatibility).
        claude_session_id: Claude CLI session ID for resume.
        key: Unique id of this session object (names can change; this does not).
        turn_lock: Held while a turn runs, so a session's prompts run one at a time.
        stop_requested: Set by an interrupt; the running turn stops as soon as it can.
        closed: Set once the session is closed or replaced: from then on nothing
            it reports (a late result of its last turn, say) is stored.
        conversation: Counts the fresh starts of the Claude conversation
            (``/clear``); a turn of an earlier one no longer records its
            Claude session id.
    """

    chat_id: int
    name: str
    cwd: str
    created_at: datetime = field(default_factory=datetime.now)
    message_count: int = 0
    permission_handler: PermissionHandler = field(default_factory=PermissionHandler)
    sdk_client: ClaudeSDKClient | None = None
    claude_session_id: str | None = None
    key: int = field(default_factory=lambda: next(_keys), compare=False)
    turn_lock: asyncio.Lock = field(default_factory=asyncio.Lock, compare=False, repr=False)
    stop_requested: bool = field(default=False, compare=False, repr=False)
    closed: bool = field(default=False, compare=False, repr=False)
    conversation: int = field(default=0, compare=False, repr=False)

    @property
    def permission_mode(self) -> str:
        """``default``, ``acceptEdits`` or ``plan``."""
        return self.permission_handler.permission_mode

    @property
    def busy(self) -> bool:
        """Whether a turn is running (or waiting to run) in this session."""
        return self.turn_lock.locked()

    def get_status(self) -> str:
        """Get a human-readable status of this session.

        Returns:
            Status string: name, working directory, messages, age, permission
            mode, each pending approval (with its number) and the sticky rules.
        """
        age = datetime.now() - self.created_at
        hours, remainder = divmod(int(age.total_seconds()), 3600)
        minutes, _ = divmod(remainder, 60)
        lines = [
            f"Session: {self.name}",
            f"Working directory: {self.cwd}",
            f"Messages: {self.message_count}",
            f"Age: {hours}h {minutes}m",
        ]
        if self.permission_mode != "default":
            lines.append(f"Permission mode: {self.permission_mode}")
        for request in self.permission_handler.pending_requests():
            lines.append(f"Pending approval #{request.number}: {request.description}")
        sticky = self.permission_handler.get_sticky_approvals()
        if sticky:
            lines.append(f"Sticky approvals ({len(sticky)}):")
            lines.extend(f"  - {approval.describe()}" for approval in sticky)
        return "\n".join(lines)


@dataclass
class SessionInfo:
    """Summary info for a session, used in listings.

    Attributes:
        name: Session name.
        message_count: Number of messages exchanged.
        cwd: Working directory.
        is_active: Whether this is the active session.
    """

    name: str
    message_count: int
    cwd: str
    is_active: bool
