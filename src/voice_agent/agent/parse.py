"""Turn the SDK's messages into :mod:`voice_agent.agent.events`, in one place."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from claude_agent_sdk import (
    AssistantMessage,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
)

from voice_agent.agent.describe import summarize_input
from voice_agent.agent.events import (
    AgentEvent,
    CommandsReported,
    SessionStarted,
    SlashCommand,
    TextBlockDone,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnResult,
)

logger = logging.getLogger(__name__)

_OUTPUT_LIMIT = 2000
_INTERRUPTED = frozenset({"aborted_streaming", "aborted_tools", "interrupted"})


def _result_text(content: str | list[dict[str, Any]] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content[:_OUTPUT_LIMIT]
    parts = [str(item.get("text", "")) for item in content if item.get("type") == "text"]
    return "\n".join(parts)[:_OUTPUT_LIMIT]


def described_commands(server_info: Mapping[str, Any] | None) -> dict[str, SlashCommand]:
    """The slash commands of the CLI's ``initialize`` answer, by name.

    Args:
        server_info: What ``ClaudeSDKClient.get_server_info()`` returned (None: nothing).

    Returns:
        Each command with its description and whether it is built in.
    """
    found: dict[str, SlashCommand] = {}
    listed = (server_info or {}).get("commands")
    for item in listed if isinstance(listed, list) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]:
            description = item.get("description")
            found[item["name"]] = SlashCommand(
                item["name"],
                description if isinstance(description, str) else "",
                bool(item.get("builtin")),
            )
    return found


class MessageParser:
    """Parses one client's messages; remembers tool names to label their results."""

    def __init__(self, described: Mapping[str, SlashCommand] | None = None) -> None:
        """A parser for one turn.

        Args:
            described: The CLI's slash commands with their descriptions (from its
                ``initialize`` answer), to describe the names its ``init`` message lists.
        """
        self._tool_names: dict[str, str] = {}
        self._context = 0
        self._described = dict(described or {})

    def parse(self, message: object) -> Iterator[AgentEvent]:
        """Yield the events one SDK message carries (none for unknown kinds).

        Args:
            message: Anything ``ClaudeSDKClient.receive_messages`` yields.
        """
        if isinstance(message, StreamEvent):
            yield from self._stream_event(message)
        elif isinstance(message, AssistantMessage):
            if message.parent_tool_use_id is None:
                self._note_context(message.usage)
                yield from self._assistant(message)
        elif isinstance(message, UserMessage):
            yield from self._user(message)
        elif isinstance(message, ResultMessage):
            yield self._result(message)
        elif isinstance(message, SystemMessage) and message.subtype == "init":
            session_id = message.data.get("session_id")
            if isinstance(session_id, str) and session_id:
                yield SessionStarted(session_id)
            names = message.data.get("slash_commands")
            if isinstance(names, list):
                yield CommandsReported(
                    tuple(
                        self._described.get(name) or SlashCommand(name)
                        for name in names
                        if isinstance(name, str) and name
                    )
                )
        else:
            logger.debug("skipping %s", type(message).__name__)

    @staticmethod
    def _stream_event(message: StreamEvent) -> Iterator[AgentEvent]:
        if message.parent_tool_use_id is not None:
            return
        event = message.event
        if event.get("type") != "content_block_delta":
            return
        delta = event.get("delta") or {}
        if delta.get("type") == "text_delta" and delta.get("text"):
            yield TextDelta(str(delta["text"]))

    def _assistant(self, message: AssistantMessage) -> Iterator[AgentEvent]:
        for block in message.content:
            if isinstance(block, TextBlock):
                yield TextBlockDone(block.text)
            elif isinstance(block, ToolUseBlock):
                self._tool_names[block.id] = block.name
                yield ToolStarted(
                    tool_use_id=block.id,
                    name=block.name,
                    input=dict(block.input),
                    summary=summarize_input(block.name, block.input),
                )

    def _user(self, message: UserMessage) -> Iterator[AgentEvent]:
        if isinstance(message.content, str):
            return
        for block in message.content:
            if isinstance(block, ToolResultBlock):
                yield ToolFinished(
                    tool_use_id=block.tool_use_id,
                    name=self._tool_names.pop(block.tool_use_id, ""),
                    is_error=bool(block.is_error),
                    output=_result_text(block.content),
                )

    def _note_context(self, usage: dict[str, Any] | None) -> None:
        keys = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
        size = sum(int((usage or {}).get(key) or 0) for key in keys)
        if size:
            self._context = size

    def _result(self, message: ResultMessage) -> TurnResult:
        return TurnResult(
            session_id=message.session_id,
            is_error=message.is_error,
            interrupted=message.terminal_reason in _INTERRUPTED,
            duration_ms=message.duration_ms,
            num_turns=message.num_turns,
            cost_usd=message.total_cost_usd,
            usage=dict(message.usage or {}),
            result=message.result,
            errors=list(message.errors or []),
            context_tokens=self._context,
        )
