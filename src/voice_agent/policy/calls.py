"""The automatic part of permission decisions: what passes without asking anyone.

Safe calls are provably read-only (see :mod:`voice_agent.policy.bash`); in
``acceptEdits`` mode, edits of ordinary files inside the working directory pass too (never
secret-looking files nor files that make programs run later, see `edit_guard`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from voice_agent.policy.bash import (
    is_safe_bash_command,
    is_safe_read_call,
    is_within,
)
from voice_agent.policy.edit_guard import auto_edit_refused, edit_targets
from voice_agent.policy.rules import EDIT_TOOLS, TOOL_FIELD_NAMES

# Tools that touch nothing outside Claude's own bookkeeping.
SAFE_TOOLS = frozenset({"TodoWrite", "TodoRead", "BashOutput", "TaskOutput"})
READ_TOOLS = frozenset({"Read", "Glob", "Grep", "LS", "NotebookRead"})


def is_safe_tool_call(
    tool_name: str,
    input_data: Mapping[str, Any],
    cwd: str | None = None,
    extra_roots: Sequence[str] = (),
) -> bool:
    """Check if a tool call is safe to auto-approve.

    Safe means provably read-only: bookkeeping tools, reads inside the working
    directory (or ``extra_roots``) of files that do not look secret, and Bash
    commands that :func:`is_safe_bash_command` proves read-only. ``WebFetch``,
    ``WebSearch`` and everything else ask.

    Args:
        tool_name: Name of the tool.
        input_data: Input parameters for the tool.
        cwd: The session's working directory (default: the process's).
        extra_roots: Further directories whose files may be read.

    Returns:
        True if the tool call is safe.
    """
    if tool_name in SAFE_TOOLS:
        return True
    if tool_name in READ_TOOLS:
        return is_safe_read_call(tool_name, input_data, cwd, extra_roots)
    if tool_name == "Bash":
        command = input_data.get("command", "")
        return isinstance(command, str) and is_safe_bash_command(command, cwd, extra_roots)
    return False


def is_edit_inside_cwd(tool_name: str, input_data: Mapping[str, Any], cwd: str | None) -> bool:
    """Whether ``acceptEdits`` lets this call through: an edit of an ordinary file inside ``cwd``.

    The path must lie inside the working directory both as written (normalised by
    text, as Claude Code does) and as the file system resolves it (symlinks), must
    not look secret, and must not be a file that makes programs run later (hooks,
    git config, ``.claude/``, ``.mcp.json``…: see
    :func:`voice_agent.policy.edit_guard.runs_code_later`).

    Args:
        tool_name: The tool.
        input_data: Its input.
        cwd: The session's working directory.
    """
    if tool_name not in EDIT_TOOLS or cwd is None:
        return False
    path = input_data.get(TOOL_FIELD_NAMES[tool_name])
    if not isinstance(path, str) or not path:
        return False
    lexical, reals = edit_targets(path, cwd)
    inside = all(is_within(p, [cwd]) for p in (lexical, *reals))
    return inside and not auto_edit_refused(path, cwd)
