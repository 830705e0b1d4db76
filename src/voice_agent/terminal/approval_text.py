"""What a tool call will do, as text a person can judge before approving it.

Pure functions: no file system access, no I/O (the text of the file an Edit
changes is passed in, read off the event loop by
:func:`voice_agent.edit_preview.read_target`). The terminal prints the result of
:func:`describe_request`. Everything shown goes through
:func:`voice_agent.visible.reveal` (the same as Telegram's prompts): control, bidi
and zero-width characters are written out as escapes, and a prompt whose call
holds any says so.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Mapping
from typing import Any

from voice_agent.edit_preview import planned_diff, snippet_diff
from voice_agent.sessions.describe import describe_call
from voice_agent.visible import HIDDEN_NOTE, has_hidden, printable, reveal

__all__ = ["describe_request", "printable"]

PREVIEW_LINES = 8
"""Lines of a written file's content shown before ``… N more lines``."""
DIFF_LINES = 40
"""Lines of an edit's unified diff shown before ``… N more lines``."""
LINE_WIDTH = 160
"""Longest line shown; longer ones end with ``…``."""
INDENT = "  "

Details = Callable[[Mapping[str, Any], str | None, str | None], list[str]]


def _flat(text: str) -> str:
    """``text`` on one line, every hidden character written out."""
    return reveal(text, keep_newlines=False).text


def describe_request(
    tool_name: str,
    input_data: Mapping[str, Any],
    cwd: str | None,
    file_text: str | None = None,
    placed: str | None = None,
) -> str:
    r"""Describe a tool call for an approval prompt, over several lines.

    The first line says what the call will do (the request's one-line description,
    e.g. ``Write file: /code/api/notes.txt``); the indented lines below show what
    matters to decide:

    * ``Bash``: the whole command (every line), where it runs, and Claude's own
      description of it;
    * ``Write``: the size and the first lines of the content;
    * ``Edit`` / ``MultiEdit``: a unified diff of the change where it is in the
      file (its line numbers, 3 lines of context) when ``file_text`` is given and
      holds every ``old_string``; else of each ``old_string`` → ``new_string``;
    * ``NotebookEdit``: the first lines of the new cell source;
    * ``WebFetch``: the URL and what Claude will ask about the page;
    * any other tool: its input as JSON.

    File paths outside ``cwd`` are flagged. Control, bidi and zero-width characters
    are written out as escapes, with a line saying the call holds hidden characters.
    A command is shown whole (long lines wrapped); other long lines are cut and long
    previews end with ``… N more lines``.

    Args:
        tool_name: The tool Claude wants to use.
        input_data: The tool's input.
        cwd: The session's working directory, if known.
        file_text: The current text of the file an Edit or MultiEdit changes
            (:func:`voice_agent.edit_preview.read_target`), if known.
        placed: For an Edit or MultiEdit: its diff already placed in the file where
            the file is (another machine); shown instead of placing it here.

    Returns:
        Plain text, lines separated by ``\n``, no trailing newline.
    """
    details = _DETAILS.get(tool_name, _generic)
    headline = _cut(_flat(describe_call(tool_name, input_data)))
    if tool_name == "Bash" and isinstance(input_data.get("command"), str):
        headline = f"Run command in {_flat(cwd)}:" if cwd else "Run command:"
    note = [INDENT + HIDDEN_NOTE] if has_hidden(input_data) else []
    if placed is not None and tool_name in ("Edit", "MultiEdit"):
        shown = [*_outside(input_data.get("file_path"), cwd), *_cut_lines(placed, DIFF_LINES)]
    else:
        shown = details(input_data, cwd, file_text)
    lines = [headline, *note, *(INDENT + line for line in shown)]
    return "\n".join(line.rstrip() for line in lines)


# -- per tool -------------------------------------------------------------------


def _bash(
    input_data: Mapping[str, Any], cwd: str | None, file_text: str | None = None
) -> list[str]:
    command = input_data.get("command")
    if not isinstance(command, str):
        return _generic(input_data, cwd, file_text)
    # Whole, wrapped and never cut: the end of a command is where a surprise would hide.
    # Split at line feeds only: a carriage return is shown, not taken as a line break.
    shown = "\n".join(_wrap(_flat(line)) for line in command.split("\n")).split("\n")
    lines = [("$ " if number == 0 else "  ") + line for number, line in enumerate(shown)]
    reason = input_data.get("description")
    if isinstance(reason, str) and reason.strip():
        lines.append(f"# {_cut(_flat(reason))}")
    if input_data.get("run_in_background"):
        lines.append("(runs in the background)")
    return lines


def _write(
    input_data: Mapping[str, Any], cwd: str | None, file_text: str | None = None
) -> list[str]:
    content = input_data.get("content")
    lines = _outside(input_data.get("file_path"), cwd)
    if not isinstance(content, str):
        return [*lines, "(no content given)"]
    if not content:
        return [*lines, "(empty file)"]
    count = len(_lines(content))
    size = _size(len(content.encode("utf-8", errors="replace")))
    lines.append(f"{size}, {count} line{'s' if count != 1 else ''}:")
    return lines + _preview(content)


def _edit(
    input_data: Mapping[str, Any], cwd: str | None, file_text: str | None = None
) -> list[str]:
    path = str(input_data.get("file_path", "file"))
    lines = _outside(path, cwd)
    if input_data.get("replace_all"):
        lines.append("(every occurrence)")
    placed = planned_diff("Edit", input_data, _name(path), file_text)
    if placed is not None:
        return lines + _cut_lines(placed, DIFF_LINES)
    return lines + _diff(path, input_data.get("old_string"), input_data.get("new_string"))


def _multi_edit(
    input_data: Mapping[str, Any], cwd: str | None, file_text: str | None = None
) -> list[str]:
    path = str(input_data.get("file_path", "file"))
    edits = input_data.get("edits")
    if not isinstance(edits, list):
        return _generic(input_data, cwd, file_text)
    lines = _outside(path, cwd)
    placed = planned_diff("MultiEdit", input_data, _name(path), file_text)
    if placed is not None:
        count = sum(1 for e in edits if isinstance(e, Mapping) and e.get("replace_all"))
        note = f" ({count} of every occurrence)" if count else ""
        return [*lines, f"{len(edits)} edits{note}:", *_cut_lines(placed, DIFF_LINES)]
    for number, edit in enumerate(edits, 1):
        if not isinstance(edit, Mapping):
            continue
        every = " (every occurrence)" if edit.get("replace_all") else ""
        lines.append(f"edit {number} of {len(edits)}{every}:")
        lines.extend(_diff(path, edit.get("old_string"), edit.get("new_string")))
    return lines


def _notebook_edit(
    input_data: Mapping[str, Any], cwd: str | None, file_text: str | None = None
) -> list[str]:
    lines = _outside(input_data.get("notebook_path"), cwd)
    mode = input_data.get("edit_mode") or "replace"
    cell = input_data.get("cell_id")
    lines.append(f"{mode} cell{f' {cell}' if cell else ''}:")
    source = input_data.get("new_source")
    return lines + _preview(source) if isinstance(source, str) else lines


def _read(
    input_data: Mapping[str, Any], cwd: str | None, file_text: str | None = None
) -> list[str]:
    return _outside(input_data.get("file_path"), cwd)


def _web_fetch(
    input_data: Mapping[str, Any], cwd: str | None, file_text: str | None = None
) -> list[str]:
    lines: list[str] = []
    prompt = input_data.get("prompt")
    if isinstance(prompt, str) and prompt.strip():
        lines.append(f"asking: {_cut(_flat(prompt))}")
    return lines


def _no_details(
    input_data: Mapping[str, Any], cwd: str | None, file_text: str | None = None
) -> list[str]:
    return []


def _generic(
    input_data: Mapping[str, Any], cwd: str | None, file_text: str | None = None
) -> list[str]:
    try:
        text = json.dumps(dict(input_data), indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(input_data)
    return _cut_lines(text, PREVIEW_LINES * 2)


_DETAILS: dict[str, Details] = {
    "Bash": _bash,
    "Write": _write,
    "Edit": _edit,
    "MultiEdit": _multi_edit,
    "NotebookEdit": _notebook_edit,
    "Read": _read,
    "WebFetch": _web_fetch,
    "WebSearch": _no_details,
}


# -- helpers ----------------------------------------------------------------------


def _name(path: str) -> str:
    return posixpath.basename(path) or path


def _diff(path: str, old: object, new: object) -> list[str]:
    """A unified diff of one replacement (line numbers count from the snippet)."""
    if not isinstance(old, str) or not isinstance(new, str):
        return ["(no old_string/new_string given)"]
    if old == new:
        return ["(no change)"]
    return _cut_lines(snippet_diff(_name(path), old, new), DIFF_LINES)


def _outside(path: object, cwd: str | None) -> list[str]:
    """A warning line when an absolute ``path`` lies outside ``cwd`` (lexically)."""
    if not isinstance(path, str) or not cwd or not posixpath.isabs(path):
        return []
    target = posixpath.normpath(path)
    root = posixpath.normpath(cwd)
    if target == root or target.startswith(root.rstrip("/") + "/"):
        return []
    return [f"⚠ outside the working directory {_flat(root)}"]


def _preview(content: str) -> list[str]:
    """The first lines of a file's content, each after a bar."""
    lines = _cut_lines(content, PREVIEW_LINES)
    more = lines.pop() if len(lines) > PREVIEW_LINES else None
    return [f"│ {line}" for line in lines] + ([more] if more else [])


def _cut_lines(text: str, limit: int) -> list[str]:
    """The first ``limit`` lines of ``text``, each cut, hidden characters written out."""
    lines = _lines(text) or [""]
    shown = [_cut(_flat(line)) for line in lines[:limit]]
    if len(lines) > limit:
        more = len(lines) - limit
        shown.append(f"… {more} more line{'s' if more != 1 else ''}")
    return shown


def _lines(text: str) -> list[str]:
    """The lines of ``text``, split at line feeds only (a carriage return is shown, not obeyed)."""
    return text.removesuffix("\n").split("\n") if text else []


def _wrap(line: str, width: int = LINE_WIDTH) -> str:
    """``line`` broken into pieces of at most ``width`` characters, one per line."""
    return "\n".join(line[start : start + width] for start in range(0, len(line), width))


def _cut(line: str, width: int = LINE_WIDTH) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} byte{'s' if count != 1 else ''}"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count / (1024 * 1024):.1f} MiB"
