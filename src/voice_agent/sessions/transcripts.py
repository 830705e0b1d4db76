"""Claude Code's own conversations on this machine, read from their transcripts.

Claude Code keeps every conversation as ``<config dir>/projects/<folder>/<id>.jsonl``
(the config dir is ``CLAUDE_CONFIG_DIR``, else ``~/.claude``). The folder's name
is the conversation's directory with every character but letters and digits
turned into ``-``, which cannot be undone (``/code/my-app`` and ``/code/my/app``
share ``-code-my-app``); the real directory is the ``cwd`` field of the records
inside. This module finds the most recent transcripts of every directory and reads
only the head of each (the id, the directory, the first prompt), so that a front
end can offer them (``/resume all``) and continue one where it was started.

Everything here is blocking file I/O, bounded: at most :data:`MAX_FILES` names
are looked at, at most ``scan`` files are opened, of each record only the first
:data:`HEAD_BYTES` are read (a longer one, such as a pasted log as the first
prompt, is skipped past; a user record cut there still gives the start of its
prompt), and at most :data:`SCAN_BYTES` of a file are gone through. Front ends
call it in a thread.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "HEAD_BYTES",
    "MAX_FILES",
    "SCAN_BYTES",
    "Transcript",
    "modified_at",
    "project_folder",
    "projects_dir",
    "read_transcript",
    "recent_transcripts",
    "resumable_here",
]

HEAD_BYTES = 64 * 1024
"""How much of each record is read (the directory, a prompt's start: its first kilobytes)."""

SCAN_BYTES = 4 * 1024 * 1024
"""The most bytes of one transcript gone through (long records are skipped, not kept)."""

MAX_FILES = 5000
"""The most transcript names looked at (stat'ed) across all directories."""

_FOLDER_CHARS = re.compile(r"[^a-zA-Z0-9]")
_FOLDER_LIMIT = 200
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
# User records Claude Code writes itself: slash-command echoes, hook output, interrupts.
_NOT_A_PROMPT = re.compile(
    r"^(?:<command-name>|<command-message>|<local-command-stdout>|<local-command-caveat>|"
    r"<session-start-hook>|<system-reminder>|<tick>|<goal>|<ide_opened_file>|<ide_selection>|"
    r"\[Request interrupted by user)"
)


@dataclass(frozen=True)
class Transcript:
    """One Claude Code conversation on disk.

    Attributes:
        session_id: The Claude session id (``claude --resume <id>``).
        cwd: The directory it was started in (the ``cwd`` of its records).
        first_prompt: Its first prompt, whitespace collapsed ("" when none was
            found in the head).
        modified: When the transcript last changed (seconds since the epoch).
        path: The transcript file.
    """

    session_id: str
    cwd: str
    first_prompt: str
    modified: float
    path: Path


def projects_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where Claude Code keeps its transcripts, for a CLI started with ``env``.

    ``CLAUDE_CONFIG_DIR`` (of ``env``, then of this process) wins; else the
    ``.claude`` of ``HOME`` (of ``env``, then this user's home).

    Args:
        env: The extra environment Claude Code is started with, if any.
    """
    env = env or {}
    config = env.get("CLAUDE_CONFIG_DIR") or os.environ.get("CLAUDE_CONFIG_DIR")
    if config:
        return Path(config) / "projects"
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".claude" / "projects"


def project_folder(cwd: str) -> str:
    """The folder name Claude Code keeps the conversations of directory ``cwd`` in.

    Every character but ASCII letters and digits becomes ``-``; a name longer than
    200 characters is cut there and given a hash suffix (not reproduced here:
    :func:`resumable_here` matches such names by their prefix).

    Args:
        cwd: A directory, as the CLI sees it (resolved).
    """
    return _FOLDER_CHARS.sub("-", cwd)


def resumable_here(transcript: Transcript) -> bool:
    """Whether Claude Code started in ``transcript.cwd`` finds this conversation.

    ``claude --resume <id>`` looks for ``<id>.jsonl`` in the folder of its working
    directory only, so the transcript must lie in the folder of its own ``cwd``.

    Args:
        transcript: A transcript read by :func:`read_transcript`.
    """
    wanted = project_folder(os.path.realpath(transcript.cwd))
    folder = transcript.path.parent.name
    if len(wanted) <= _FOLDER_LIMIT:
        return folder == wanted
    return folder.startswith(wanted[:_FOLDER_LIMIT] + "-")


def modified_at(path: Path) -> float | None:
    """When ``path`` last changed (seconds since the epoch), or None when it is gone.

    Args:
        path: A transcript file.
    """
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _candidates(root: Path) -> Iterator[tuple[float, Path]]:
    """``(mtime, path)`` of each ``<folder>/<uuid>.jsonl`` under ``root``, at most MAX_FILES."""
    seen = 0
    try:
        folders = list(os.scandir(root))
    except OSError:
        return
    for folder in folders:
        try:
            if not folder.is_dir(follow_symlinks=False):
                continue
            entries = list(os.scandir(folder.path))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if not name.endswith(".jsonl") or not _UUID.match(name[: -len(".jsonl")]):
                continue
            seen += 1
            if seen > MAX_FILES:
                return
            try:
                if entry.is_file(follow_symlinks=False):
                    yield entry.stat(follow_symlinks=False).st_mtime, Path(entry.path)
            except OSError:
                continue


def recent_transcripts(root: Path, *, limit: int = 40, scan: int = 200) -> list[Transcript]:
    """The most recently changed conversations of every directory, newest first.

    Args:
        root: The projects directory (:func:`projects_dir`).
        limit: The most conversations returned.
        scan: The most transcript files opened (the newest ones); files without
            a directory or a prompt in their head (sub-agents, empty ones) are
            skipped.

    Returns:
        Up to ``limit`` transcripts, one per session id, newest first.
    """
    newest = sorted(_candidates(root), key=lambda found: found[0], reverse=True)[:scan]
    found: dict[str, Transcript] = {}
    for _, path in newest:
        transcript = read_transcript(path)
        if transcript is not None and transcript.session_id not in found:
            found[transcript.session_id] = transcript
            if len(found) >= limit:
                break
    return list(found.values())


def read_transcript(path: Path) -> Transcript | None:
    """The id, directory and first prompt of one transcript, from its head.

    Args:
        path: A ``<uuid>.jsonl`` transcript.

    Returns:
        None when it cannot be read, is a sub-agent's (sidechain), or names no
        directory or prompt in its first :data:`HEAD_BYTES`.
    """
    session_id = path.name.removesuffix(".jsonl")
    if not _UUID.match(session_id):
        return None
    cwd: str | None = None
    prompt = ""
    try:
        with path.open("rb") as file:
            modified = os.fstat(file.fileno()).st_mtime
            for record in _records(file):
                if record.get("isSidechain") is True:
                    return None
                if cwd is None and isinstance(record.get("cwd"), str) and record["cwd"]:
                    cwd = record["cwd"]
                if not prompt:
                    prompt = _prompt_of(record)
                if cwd is not None and prompt:
                    break
    except OSError:
        return None
    if cwd is None or not prompt:
        return None
    return Transcript(session_id, cwd, prompt, modified, path)


def _records(file: BinaryIO) -> Iterator[dict[str, Any]]:
    """The JSON records of a transcript, in order, each read up to ``HEAD_BYTES``.

    A longer record is skipped past; a user record cut so is given as one whose
    prompt is the start of its text (:func:`_cut_user_record`). At most
    ``SCAN_BYTES`` of the file are gone through.
    """
    budget = SCAN_BYTES
    while budget > 0:
        size = min(HEAD_BYTES, budget)
        line = file.readline(size)
        if not line:
            return
        budget -= len(line)
        if line.endswith(b"\n") or len(line) < size:
            record = _parse(line)
        else:  # cut: go on past the rest of this record
            record = _cut_user_record(line)
            budget = _skip_line(file, budget)
        if record is not None:
            yield record


def _skip_line(file: BinaryIO, budget: int) -> int:
    """Read past the rest of the line being read; returns the budget left."""
    while budget > 0:
        rest = file.readline(min(_SKIP_CHUNK, budget))
        budget -= len(rest)
        if not rest or rest.endswith(b"\n"):
            break
    return budget


def _parse(line: bytes) -> dict[str, Any] | None:
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


# How Claude Code begins a user record: {…,"type":"user","message":{"role":"user","content":
_CUT_USER = re.compile(
    rb'"type"\s*:\s*"user"\s*,\s*"message"\s*:\s*\{\s*"role"\s*:\s*"user"\s*,\s*"content"\s*:\s*'
    rb'(?:"|\[\s*\{\s*"type"\s*:\s*"text"\s*,\s*"text"\s*:\s*")'
)
_CUT_ESCAPE = re.compile(r"(\\+)(u[0-9a-fA-F]{0,3})?$")
_STRING_BODY = re.compile(r'(?:[^"\\]|\\.)*', re.DOTALL)  # up to the string's closing quote
_SKIP_CHUNK = 1024 * 1024


def _uncut(text: str) -> str:
    r"""``text`` without an escape sequence cut at its end (``\``, ``\u00``)."""
    found = _CUT_ESCAPE.search(text)
    if found is None or len(found.group(1)) % 2 == 0:
        return text  # nothing cut: no escape at the end, or whole ``\\\\`` pairs then text
    return text[: found.end(1) - 1]


def _cut_user_record(head: bytes) -> dict[str, Any] | None:
    """A user record cut after its first bytes, as a record holding its prompt's start."""
    found = _CUT_USER.search(head)
    if found is None or b'"isSidechain":true' in head[: found.start()]:
        return None
    text = head[found.end() :].decode("utf-8", "ignore")
    found_text = _STRING_BODY.match(_uncut(text))
    assert found_text is not None  # it matches the empty string
    try:
        prompt = json.loads(f'"{found_text.group()}"', strict=False)
    except ValueError:
        return None
    return {"type": "user", "message": {"role": "user", "content": prompt}}


def _prompt_of(record: dict[str, Any]) -> str:
    """The text a user typed, if ``record`` is such a message; else ""."""
    if record.get("type") != "user" or record.get("isMeta") or record.get("isCompactSummary"):
        return ""
    message = record.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        texts = [content]
    elif isinstance(content, list):
        if any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
            return ""
        texts = [
            b["text"]
            for b in content
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        ]
    else:
        return ""
    for text in texts:
        flat = " ".join(text.split())
        if flat and not _NOT_A_PROMPT.match(flat):
            return flat
    return ""
