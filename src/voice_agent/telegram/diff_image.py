"""Diffs you can read on a phone: a syntax-highlighted picture of a long Edit or Write.

Rendered locally with Pygments' image formatter (Pillow, DejaVu Sans Mono). Short
changes stay text-only; a picture is added when the diff has more than
``MIN_LINES`` lines, cut at ``MAX_LINES``. Any rendering problem (no font, no
Pillow) just means no picture: the text prompt is always there.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from pygments import highlight
from pygments.lexers import DiffLexer, TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

from voice_agent.telegram.approval_view import edit_diff
from voice_agent.visible import reveal

logger = logging.getLogger(__name__)

MIN_LINES = 8
MAX_LINES = 80
MAX_WIDTH = 110


def _diff_text(tool_name: str, data: Mapping[str, Any], cwd: str | None) -> tuple[str, str] | None:
    """(text, file name for the lexer) to draw, or None."""
    path = str(data.get("file_path") or data.get("notebook_path") or "")
    shown = os.path.relpath(path, cwd) if cwd and os.path.isabs(path) else path
    if tool_name == "Edit":
        return edit_diff(
            shown, str(data.get("old_string", "")), str(data.get("new_string", ""))
        ), ""
    if tool_name == "MultiEdit":
        edits = [e for e in data.get("edits", []) if isinstance(e, Mapping)]
        diffs = [
            edit_diff(shown, str(e.get("old_string", "")), str(e.get("new_string", "")))
            for e in edits
        ]
        return "\n".join(diffs), ""
    if tool_name == "Write":
        return str(data.get("content", "")), path
    return None


def _clip(text: str) -> str:
    lines = [reveal(line).text[:MAX_WIDTH] for line in text.split("\n")]
    if len(lines) > MAX_LINES:
        lines = [*lines[:MAX_LINES], f"… {len(lines) - MAX_LINES} more lines"]
    return "\n".join(lines)


def diff_png(tool_name: str, data: Mapping[str, Any], cwd: str | None) -> bytes | None:
    """A PNG of the change an Edit, MultiEdit or Write would make, when it is long.

    Args:
        tool_name: The tool.
        data: Its input.
        cwd: The session's working directory (paths are shown relative to it).

    Returns:
        PNG bytes, or None for short changes, other tools, or when drawing fails.
    """
    found = _diff_text(tool_name, data, cwd)
    if found is None:
        return None
    text, filename = found
    if len(text.splitlines()) <= MIN_LINES:
        return None
    try:
        from pygments.formatters import ImageFormatter

        lexer = DiffLexer() if not filename else _lexer_for(filename)
        formatter = ImageFormatter(
            font_name="DejaVu Sans Mono",
            font_size=16,
            line_numbers=bool(filename),
            style="friendly",
        )
        image = highlight(_clip(text), lexer, formatter)
    except Exception as error:  # no Pillow, no font: the text prompt is enough
        logger.info("could not draw the diff: %s", error)
        return None
    return image if isinstance(image, bytes) else None


def _lexer_for(filename: str) -> Any:
    try:
        return get_lexer_for_filename(filename)
    except ClassNotFound:
        return TextLexer()
