"""Short human descriptions of tool calls, for prompts, status lines and the audit log.

Part of the SDK seam (the events carry them) and so imports nothing above it;
``voice_agent.sessions.describe`` re-exports them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["describe_call", "summarize_input"]

_SUMMARY_LIMIT = 200

_FIELDS = {
    "Bash": "command",
    "Write": "file_path",
    "Edit": "file_path",
    "MultiEdit": "file_path",
    "NotebookEdit": "notebook_path",
    "Read": "file_path",
    "Glob": "pattern",
    "Grep": "pattern",
    "LS": "path",
    "WebFetch": "url",
    "WebSearch": "query",
    "Task": "description",
}

_VERBS = {
    "Bash": "Run command",
    "Write": "Write file",
    "Edit": "Edit file",
    "MultiEdit": "Edit file",
    "NotebookEdit": "Edit notebook",
    "Read": "Read file",
    "WebFetch": "Fetch URL",
    "WebSearch": "Search the web for",
}


def _one_line(text: str, limit: int = _SUMMARY_LIMIT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def summarize_input(tool_name: str, input_data: Mapping[str, Any]) -> str:
    """The one input that says what a call does (command, path, URL), on one line.

    Args:
        tool_name: The tool.
        input_data: Its input.

    Returns:
        At most 200 characters.
    """
    key = _FIELDS.get(tool_name)
    value = input_data.get(key) if key else None
    if isinstance(value, str) and value:
        return _one_line(value)
    try:
        return _one_line(json.dumps(dict(input_data), ensure_ascii=False, default=str))
    except (TypeError, ValueError):
        return _one_line(repr(input_data))


def describe_call(tool_name: str, input_data: Mapping[str, Any]) -> str:
    """Describe what a tool call will do, e.g. ``Run command: pytest -q``.

    Args:
        tool_name: The tool.
        input_data: Its input.
    """
    verb = _VERBS.get(tool_name)
    if verb is None:
        return f"Use tool: {tool_name}"
    key = _FIELDS[tool_name]
    return f"{verb}: {input_data.get(key, 'unknown')}"
