"""Claude Code clients: one owner task per live client, a bounded pool, typed events."""

from voice_agent.agent.events import (
    AgentEvent,
    TextBlockDone,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnError,
    TurnResult,
)

__all__ = [
    "AgentEvent",
    "TextBlockDone",
    "TextDelta",
    "ToolFinished",
    "ToolStarted",
    "TurnError",
    "TurnResult",
]
