"""A permission request waiting for a person, and its states."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Any

from voice_agent.policy.rules import StickyApproval
from voice_agent.sessions.describe import describe_call


class PermissionState(Enum):
    """State of a pending permission request."""

    PENDING = auto()
    APPROVED = auto()
    DENIED = auto()
    TIMEOUT = auto()


@dataclass
class PendingPermission:
    """A permission request waiting for user approval.

    Attributes:
        tool_name: Name of the tool requesting permission.
        input_data: Input parameters for the tool.
        event: Event to signal when user responds.
        state: Current state of the permission.
        deny_message: Optional message explaining denial.
        request_id: Unguessable id carried by buttons; unique across restarts.
        number: Short number shown to the user ("approve two").
        tool_use_id: The tool call's id from Claude, when known.
        decided_by: User id of whoever decided, when a person did.
        sticky: The sticky rule created by an "Always" decision.
        placed_diff: The change an Edit or Write makes, where it is in its file (real
            line numbers, context), made on the machine that has the file; None: the
            front end places it itself (or shows the plain hunk).
        updated_input: The input to run the tool with, when the decision changed it
            (the answers to an ``AskUserQuestion``).
    """

    tool_name: str
    input_data: dict[str, Any]
    event: asyncio.Event = field(default_factory=asyncio.Event)
    state: PermissionState = PermissionState.PENDING
    deny_message: str | None = None
    request_id: str = field(default_factory=lambda: secrets.token_urlsafe(9))
    number: int = 0
    tool_use_id: str | None = None
    decided_by: int | None = None
    sticky: StickyApproval | None = None
    updated_input: dict[str, Any] | None = None
    placed_diff: str | None = None

    @property
    def description(self) -> str:
        """One line saying what the call will do."""
        return describe_call(self.tool_name, self.input_data)
