"""A turn's typed events as JSON objects, and back.

``{"type": "TextDelta", "text": "..."}``: the type is the event class's name, the
other keys its fields. An event of a type this version does not know is skipped
by :func:`decode_event` (returns None), so a newer worker does not break an
older hub; a known type with wrong fields is a :class:`ProtocolError`.

``CommandsReported`` nests its commands: ``{"type": "CommandsReported",
"commands": [{"name": "code-review", "description": "…", "builtin": false}, …]}``,
decoded back into :class:`~voice_agent.agent.events.SlashCommand` objects.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from voice_agent.agent.events import (
    AgentEvent,
    CommandsReported,
    SessionStarted,
    SlashCommand,
    TextBlockDone,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnError,
    TurnResult,
)
from voice_agent.machines.protocol import ProtocolError

_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        SessionStarted,
        CommandsReported,
        TextDelta,
        TextBlockDone,
        ToolStarted,
        ToolFinished,
        TurnResult,
        TurnError,
    )
}


def encode_event(event: AgentEvent) -> dict[str, Any]:
    """The event as a JSON-ready object."""
    return {"type": type(event).__name__, **dataclasses.asdict(event)}


def decode_event(raw: dict[str, Any]) -> AgentEvent | None:
    """The event an object encodes; None for a type this version does not know.

    Raises:
        ProtocolError: A known type whose fields do not fit.
    """
    fields = dict(raw)
    cls = _TYPES.get(str(fields.pop("type", "")))
    if cls is None:
        return None
    if cls is CommandsReported:
        return _commands(fields)
    try:
        event: AgentEvent = cls(**fields)
    except TypeError as error:
        raise ProtocolError(f"a {cls.__name__} event does not fit: {error}") from None
    return event


def _commands(fields: dict[str, Any]) -> CommandsReported:
    """A ``CommandsReported`` from its fields, each command checked."""
    raw = fields.pop("commands", None)
    if fields or not isinstance(raw, list):
        raise ProtocolError("a CommandsReported event needs exactly a list of commands")
    commands = []
    for item in raw:
        if not isinstance(item, dict) or set(item) - {"name", "description", "builtin"}:
            raise ProtocolError(f"a slash command does not fit: {item!r:.80}")
        name, description = item.get("name"), item.get("description", "")
        builtin = item.get("builtin", False)
        if not isinstance(name, str) or not name or not isinstance(description, str):
            raise ProtocolError(f"a slash command does not fit: {item!r:.80}")
        if not isinstance(builtin, bool):
            raise ProtocolError(f"a slash command does not fit: {item!r:.80}")
        commands.append(SlashCommand(name, description, builtin))
    return CommandsReported(tuple(commands))


def is_final(event: AgentEvent) -> bool:
    """Whether the event ends its turn (a result or an error)."""
    return isinstance(event, TurnResult | TurnError)
