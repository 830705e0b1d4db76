"""What an Edit will change, shown where it is in the file: unified diffs with real line numbers.

An ``Edit`` call carries only ``old_string`` and ``new_string``; a diff of those
two alone numbers its lines from 1 (an edit of lines 3-10 says ``@@ -1,8 +1,8 @@``)
and shows no context. :func:`planned_diff` applies the call to the file's current
text and diffs that, so the hunk carries the file's own line numbers and
``CONTEXT`` lines around the change (``MultiEdit``: every edit in order, one diff
of the whole change; ``Write``: the new content against the old file, or all added
for a new file). When the text is unknown or an ``old_string`` is not in it, the
diff of the snippets alone is the fallback (:func:`snippet_diff`).

:func:`read_target` reads the file for it, safely: only inside the session's
working directory, never a secret-looking file, never through a link that leaves
it, at most ``MAX_FILE_BYTES``, text only. It blocks: call it off the event loop.
Both front ends (the Telegram prompt and its picture, the terminal's approval
text) use these functions.
"""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from voice_agent.policy.paths import is_secret_below, is_within

__all__ = [
    "CONTEXT",
    "MAX_FILE_BYTES",
    "MAX_PLACED_BYTES",
    "hunks",
    "placed_preview",
    "planned_diff",
    "read_target",
    "snippet_diff",
    "split_lines",
    "target_path",
]

CONTEXT = 3
"""Unchanged lines shown around each change."""
MAX_FILE_BYTES = 2 * 1024 * 1024
"""Largest file read to place an edit in it; a bigger one gets the snippet diff."""
MAX_PLACED_BYTES = 256 * 1024
"""Largest placed diff another machine sends with its permission request."""
EXACT_LINES = 400
"""Longest changed region (lines, either side) compared exactly; longer ones quickly."""
FILE_TOOLS = frozenset({"Edit", "MultiEdit", "Write"})


def split_lines(text: str) -> list[str]:
    """The lines of ``text``, split at line feeds only (a carriage return is shown, not obeyed)."""
    return text.removesuffix("\n").split("\n") if text else []


def target_path(tool_name: str, input_data: Mapping[str, Any]) -> str | None:
    """The file an Edit, MultiEdit or Write call changes, or None for other calls."""
    path = input_data.get("file_path")
    return path if tool_name in FILE_TOOLS and isinstance(path, str) and path else None


def read_target(tool_name: str, input_data: Mapping[str, Any], cwd: str | None) -> str | None:
    """The current text of the file a call will change, read safely (blocking).

    Args:
        tool_name: The tool (only ``Edit``, ``MultiEdit`` and ``Write`` read anything).
        input_data: Its input (``file_path``, absolute or relative to ``cwd``).
        cwd: The session's working directory; nothing outside it is read.

    Returns:
        The file's text, or None when the call changes no file, the file is outside
        ``cwd`` (by its path or through a link), looks secret, is not a regular
        file, is larger than ``MAX_FILE_BYTES``, is not UTF-8 text, or cannot be read.
    """
    path = target_path(tool_name, input_data)
    if path is None or not cwd:
        return None
    full = os.path.join(cwd, path)
    if not is_within(full, [cwd]) or is_secret_below(full, [cwd]):
        return None
    try:
        fd = os.open(os.path.realpath(full), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES or b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _range(start: int, stop: int) -> str:
    """A hunk range as unified diffs write it (``start`` 0-based, ``stop`` exclusive)."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start if length == 0 else start + 1},{length}"


def hunks(before: Sequence[str], after: Sequence[str], context: int = CONTEXT) -> Iterator[str]:
    """The hunks of a unified diff of two line lists (no file header), line by line.

    Lines both sides share at the start and the end are set aside before the
    sequences are compared, so a one-line edit of a large file costs little;
    the line numbers are the files' own.

    Args:
        before: The old lines.
        after: The new lines.
        context: Unchanged lines around each change.
    """
    head = 0
    limit = min(len(before), len(after))
    while head < limit and before[head] == after[head]:
        head += 1
    tail = 0
    while tail < limit - head and before[len(before) - 1 - tail] == after[len(after) - 1 - tail]:
        tail += 1
    skip = max(head - context, 0)
    keep = max(tail - context, 0)
    old = before[skip : len(before) - keep]
    new = after[skip : len(after) - keep]
    # Exact matching costs cubic time on code's many repeated lines ("", "}"): past
    # EXACT_LINES, difflib's heuristic (frequent lines do not anchor) keeps it linear.
    exact = max(len(old), len(new)) <= EXACT_LINES
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=not exact)
    for group in matcher.get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        old_range = _range(skip + first[1], skip + last[2])
        new_range = _range(skip + first[3], skip + last[4])
        yield f"@@ -{old_range} +{new_range} @@"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (" " + line for line in old[i1:i2])
                continue
            yield from ("-" + line for line in old[i1:i2])
            yield from ("+" + line for line in new[j1:j2])


def _unified(shown: str, before: Sequence[str], after: Sequence[str], context: int) -> str:
    body = list(hunks(before, after, context))
    if not body:
        return ""
    return "\n".join([f"--- a/{shown}", f"+++ b/{shown}", *body])


def snippet_diff(shown: str, old: str, new: str) -> str:
    """A unified diff of one replacement alone (line numbers count from the snippet).

    Args:
        shown: The file's name as the diff header shows it.
        old: The text replaced.
        new: The text put in its place.
    """
    return _unified(shown, split_lines(old), split_lines(new), CONTEXT)


def _edits(tool_name: str, input_data: Mapping[str, Any]) -> list[tuple[str, str, bool]] | None:
    if tool_name == "Edit":
        raw: list[Any] = [input_data]
    elif tool_name == "MultiEdit" and isinstance(input_data.get("edits"), list):
        raw = [e for e in input_data["edits"] if isinstance(e, Mapping)]
    else:
        return None
    edits = []
    for edit in raw:
        old, new = edit.get("old_string"), edit.get("new_string")
        if not isinstance(old, str) or not isinstance(new, str):
            return None
        edits.append((old, new, bool(edit.get("replace_all"))))
    return edits


def planned_diff(
    tool_name: str, input_data: Mapping[str, Any], shown: str, file_text: str | None
) -> str | None:
    """The unified diff a call will make to its file, with the file's own line numbers.

    Args:
        tool_name: ``Edit``, ``MultiEdit`` or ``Write`` (others give None).
        input_data: The call's input.
        shown: The file's name as the diff header shows it (``a/<shown>``).
        file_text: The file's current text (:func:`read_target`); None when unknown.

    Returns:
        The diff with ``CONTEXT`` lines of context; None when it cannot be placed:
        the text is unknown (for a ``Write``: the whole content is new), an
        ``old_string`` is empty or not in the text (each edit applies to the
        text the ones before it left), or nothing would change.
    """
    if tool_name == "Write":
        content = input_data.get("content")
        if not isinstance(content, str):
            return None
        before = split_lines(file_text) if file_text is not None else []
        return _unified(shown, before, split_lines(content), CONTEXT) or None
    edits = _edits(tool_name, input_data)
    if edits is None or file_text is None:
        return None
    after = file_text
    for old, new, every in edits:
        if not old or old not in after:
            return None
        after = after.replace(old, new) if every else after.replace(old, new, 1)
    return _unified(shown, split_lines(file_text), split_lines(after), CONTEXT) or None


def shown_name(path: str, cwd: str | None) -> str:
    """``path`` as a diff header shows it: relative to ``cwd`` when inside it."""
    if cwd and os.path.isabs(path):
        relative = os.path.relpath(path, cwd)
        if not relative.startswith(".."):
            return relative
    return path


def placed_preview(tool_name: str, input_data: Mapping[str, Any], cwd: str | None) -> str | None:
    """The change a call makes, placed in its file as it is here (blocking).

    For a permission request asked on another machine's front end: the file is
    read here, where it is (:func:`read_target`'s rules), and only the placed diff
    travels, at most ``MAX_PLACED_BYTES``.

    Returns:
        :func:`planned_diff` of the call against the file's text here, or None
        when the call changes no file, the file cannot be read safely, the change
        cannot be placed, or the diff is too long.
    """
    path = target_path(tool_name, input_data)
    text = read_target(tool_name, input_data, cwd)
    if path is None or text is None:
        return None
    placed = planned_diff(tool_name, input_data, shown_name(path, cwd), text)
    if placed is None or len(placed.encode()) > MAX_PLACED_BYTES:
        return None
    return placed
