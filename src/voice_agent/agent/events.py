"""The events of one turn, as front ends see them.

The SDK's messages are parsed once, here at the edge, into these dataclasses;
front ends never touch SDK types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TextDelta:
    """A piece of assistant text as it streams in.

    Attributes:
        text: The new characters.
    """

    text: str


@dataclass(frozen=True)
class TextBlockDone:
    """A complete assistant text block (the sum of its deltas).

    Attributes:
        text: The whole block.
    """

    text: str


@dataclass(frozen=True)
class ToolStarted:
    """Claude called a tool.

    Attributes:
        tool_use_id: The call's id.
        name: The tool's name.
        input: The tool's input.
        summary: One line saying what it does (``pytest -q``, a path, a URL).
    """

    tool_use_id: str
    name: str
    input: dict[str, Any]
    summary: str


@dataclass(frozen=True)
class ToolFinished:
    """A tool call finished (or was refused).

    Attributes:
        tool_use_id: The call's id.
        name: The tool's name, when known.
        is_error: Whether the tool failed or was denied.
        output: The start of its output, as text.
    """

    tool_use_id: str
    name: str
    is_error: bool
    output: str


@dataclass(frozen=True)
class TurnResult:
    """The turn ended.

    Attributes:
        session_id: Claude's session id (for resume).
        is_error: Whether the turn ended in an error.
        interrupted: Whether the turn was stopped by an interrupt.
        duration_ms: Wall time of the turn as measured by the CLI.
        num_turns: Model round trips in the turn.
        cost_usd: Cost reported by the CLI, when known.
        usage: Token usage reported by the CLI.
        result: The final result text, when any.
        errors: Error messages reported by the CLI.
        context_tokens: Tokens in the model's context at the turn's last request.
    """

    session_id: str
    is_error: bool = False
    interrupted: bool = False
    duration_ms: int = 0
    num_turns: int = 0
    cost_usd: float | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    result: str | None = None
    errors: list[str] = field(default_factory=list)
    context_tokens: int = 0

    @property
    def input_tokens(self) -> int:
        """Input tokens of the turn, cache reads and writes included."""
        keys = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
        return sum(int(self.usage.get(key) or 0) for key in keys)

    @property
    def output_tokens(self) -> int:
        """Output tokens of the turn."""
        return int(self.usage.get("output_tokens") or 0)


@dataclass(frozen=True)
class TurnError:
    """The turn failed outside the model (the CLI crashed, could not start…).

    Attributes:
        message: What went wrong, fit to show the user.
        kind: ``cli-exited``, ``cli-gone`` (the CLI had stopped before the prompt
            reached it: nothing was sent), ``cli-start``, ``cancelled``, ``closed``
            (the session was closed while the turn waited) or ``internal``.
    """

    message: str
    kind: str = "internal"


@dataclass(frozen=True)
class SessionStarted:
    """Claude Code named the conversation.

    Sent before any answer, so a turn that never finishes can still be resumed.

    Attributes:
        session_id: Claude's session id.
    """

    session_id: str


@dataclass(frozen=True)
class SlashCommand:
    """One of Claude Code's slash commands: its own, a skill, or a custom command.

    Attributes:
        name: The name without the slash, as Claude Code spells it (``code-review``,
            ``frontend:build``).
        description: What it does, as the CLI describes it ("" when unknown).
        builtin: Whether it ships with Claude Code (False: the project's or the
            user's own command or skill).
    """

    name: str
    description: str = ""
    builtin: bool = False


@dataclass(frozen=True)
class CommandsReported:
    """Claude Code listed the slash commands it has, as its turn began.

    Attributes:
        commands: Its own commands, skills and custom commands, in the CLI's order.
    """

    commands: tuple[SlashCommand, ...]


AgentEvent = (
    SessionStarted
    | CommandsReported
    | TextDelta
    | TextBlockDone
    | ToolStarted
    | ToolFinished
    | TurnResult
    | TurnError
)
