"""What git would find on disk: git directories, repository discovery, tracked paths.

Read-only inspection for the auto-approval policy, done without running git (a
repository's config can name programs that git runs). Everything here
over-approximates: a directory that might be a git directory counts as one, and
an index this module cannot read completely yields None ("unknown").
"""

from __future__ import annotations

import functools
import os
import re
import struct
from dataclasses import dataclass
from typing import Literal

from voice_agent.policy.lf_lines import lf_lines

#: Largest index (entries) and index file (bytes) this module reads.
INDEX_LIMIT = 100_000
INDEX_MAX_BYTES = 64 * 1024 * 1024
_HASH_LENGTHS = (20, 32)  # SHA-1 and SHA-256 repositories


def is_git_dir(path: str) -> bool:
    """Whether `path` may be a git directory (a ``.git`` or a bare repository).

    Git itself wants a valid ``HEAD`` plus ``objects/`` and ``refs/`` (or a
    ``commondir`` file); any ``HEAD`` next to one of those counts here.

    Args:
        path: A directory.

    Returns:
        True when git could take `path` for a git directory.
    """
    if not os.path.lexists(os.path.join(path, "HEAD")):
        return False
    return any(os.path.lexists(os.path.join(path, n)) for n in ("objects", "refs", "commondir"))


Kind = Literal["none", "worktree", "gitdir", "unknown"]


@dataclass(frozen=True)
class Discovery:
    """The repository git finds from a directory.

    Attributes:
        kind: ``worktree`` (found through a ``.git`` entry), ``gitdir`` (the
            directory or one above it is itself a git directory: a bare
            repository or the inside of a ``.git``), ``unknown`` (a ``.git``
            entry that cannot be read) or ``none``.
        git_dir: The real path of the git directory ("" for none/unknown).
        top: The directory holding the ``.git`` entry ("" unless worktree).
    """

    kind: Kind
    git_dir: str = ""
    top: str = ""


def _gitfile_target(dotgit: str) -> str | None:
    try:
        with open(dotgit, encoding="utf-8", newline="") as handle:  # as git reads it
            lines = lf_lines(handle.readline(4096))
    except (OSError, UnicodeDecodeError):
        return None
    if lines is None:  # a CR inside the path: git would use another directory
        return None
    line = lines[0].strip()
    if not line.startswith("gitdir:"):
        return None
    target = line[len("gitdir:") :].strip()
    return os.path.realpath(os.path.join(os.path.dirname(dotgit), target)) if target else None


def discover(start: str) -> Discovery:
    """Walk from `start` up to ``/`` the way git looks for its repository.

    In each directory git first tries a ``.git`` entry (directory or
    ``gitdir:`` file), then the directory itself as a git directory.

    Args:
        start: A real (symlink-free) directory path.

    Returns:
        What git would find first.
    """
    current = start
    while True:
        dotgit = os.path.join(current, ".git")
        if os.path.isdir(dotgit):
            return Discovery("worktree", os.path.realpath(dotgit), current)
        if os.path.lexists(dotgit):
            target = _gitfile_target(dotgit)
            if target is None:
                return Discovery("unknown")
            return Discovery("worktree", target, current)
        if is_git_dir(current):
            return Discovery("gitdir", current)
        parent = os.path.dirname(current)
        if parent == current:
            return Discovery("none")
        current = parent


#: Config keys (``section.key``, subsections dropped) whose value is a program git
#: may run in a read-only command, or a file of more config.
PROGRAM_KEYS = frozenset(
    "core.fsmonitor core.pager core.sshcommand core.gitproxy core.alternaterefscommand "
    "core.askpass core.worktree diff.external diff.textconv diff.command filter.clean "
    "filter.smudge filter.process gpg.program include.path includeif.path "
    "uploadpack.packobjectshook".split()
)
#: Config sections in which every key runs a program (``pager.log = …``).
PROGRAM_SECTIONS = frozenset({"pager"})
#: Values of those keys that run nothing of the repository's choosing: the
#: built-in fsmonitor daemon, and Git LFS's standard filter.
HARMLESS_VALUES = {
    "core.fsmonitor": frozenset("true false yes no on off 1 0".split()),
    "filter.clean": frozenset({"git-lfs clean -- %f"}),
    "filter.smudge": frozenset({"git-lfs smudge -- %f"}),
    "filter.process": frozenset({"git-lfs filter-process"}),
}
CONFIG_MAX_BYTES = 1024 * 1024
_SECTION = re.compile(r'\s*\[\s*([A-Za-z0-9.-]+)(?:\s+"(?:[^"\\]|\\.)*")?\s*\]\s*(.*)')
_ENTRY = re.compile(r"\s*([A-Za-z][A-Za-z0-9-]*)\s*(?:=(.*)|$)")


def _config_entries(text: str) -> list[tuple[str, str]] | None:
    """(``section.key``, raw value) pairs of a git config file (lower-case names).

    Lines end where git's end (:func:`voice_agent.policy.lf_lines.lf_lines`).
    Returns None when the file holds any other control character or line
    separator, or a line is neither a section header, a comment nor an entry (a
    continued value, for instance): unknown means unsafe.
    """
    lines = lf_lines(text)
    if lines is None:
        return None
    entries: list[tuple[str, str]] = []
    section = ""
    for raw in lines:
        line = raw
        header = _SECTION.match(line)
        if header:
            section = header.group(1).lower().split(".")[0]
            line = header.group(2)
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        entry = _ENTRY.match(line)
        if entry is None or (entry.group(2) or "").rstrip().endswith("\\"):
            return None
        entries.append((f"{section}.{entry.group(1).lower()}", (entry.group(2) or "").strip()))
    return entries


def _runs_program(key: str, value: str) -> bool:
    if key.split(".")[0] in PROGRAM_SECTIONS:
        return True
    if key not in PROGRAM_KEYS:
        return False
    return value.strip('"').lower() not in HARMLESS_VALUES.get(key, frozenset())


def common_dir(git_dir: str) -> str | None:
    """The common directory of `git_dir` (itself, but for a linked worktree's).

    Args:
        git_dir: The git directory.

    Returns:
        The directory named by its ``commondir`` file (or `git_dir` when there
        is none), or None when that file cannot be read.
    """
    path = os.path.join(git_dir, "commondir")
    if not os.path.lexists(path):
        return git_dir
    try:
        with open(path, encoding="utf-8") as handle:
            return os.path.join(git_dir, handle.readline(4096).strip())
    except (OSError, UnicodeDecodeError):
        return None


def config_entries(git_dir: str) -> list[tuple[str, str]] | None:
    """Every (``section.key``, raw value) of `git_dir`'s own config files.

    Reads ``config`` and ``config.worktree`` of `git_dir` and of its common
    directory (for a linked worktree); names are lower-case, subsections dropped.

    Args:
        git_dir: The git directory.

    Returns:
        The entries, or None when a config file cannot be read or parsed.
    """
    common = common_dir(git_dir)
    if common is None:
        return None
    entries: list[tuple[str, str]] = []
    for directory in dict.fromkeys([git_dir, common]):
        for name in ("config", "config.worktree"):
            path = os.path.join(directory, name)
            if not os.path.lexists(path):
                continue
            try:
                with open(path, encoding="utf-8", newline="") as handle:  # bytes as git reads
                    text = handle.read(CONFIG_MAX_BYTES + 1)
            except (OSError, UnicodeDecodeError):
                return None
            found = None if len(text) > CONFIG_MAX_BYTES else _config_entries(text)
            if found is None:
                return None
            entries += found
    return entries


def config_runs_programs(git_dir: str) -> bool:
    """Whether `git_dir`'s config may make a read-only git command run a program.

    Reads the repository's config files (see `config_entries`). Any key naming
    a pager, fsmonitor, external diff, textconv, filter, ssh or gpg program
    (but for `HARMLESS_VALUES`), any include, and any file this cannot parse
    counts.

    Args:
        git_dir: The git directory.

    Returns:
        True when such a key is set or a config file cannot be read.
    """
    entries = config_entries(git_dir)
    return entries is None or any(_runs_program(k, v) for k, v in entries)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """Git's offset varint (index v4 path prefix lengths)."""
    byte = data[pos]
    pos += 1
    value = byte & 0x7F
    while byte & 0x80:
        byte = data[pos]
        pos += 1
        value = ((value + 1) << 7) | (byte & 0x7F)
    return value, pos


def _entry_name(data: bytes, pos: int, end: int, version: int, prev: bytes) -> tuple[bytes, int]:
    if version == 4:
        strip, pos = _varint(data, pos)
        nul = data.find(b"\0", pos, end)
        if nul < 0 or strip > len(prev):
            raise ValueError("bad v4 entry")
        return prev[: len(prev) - strip] + data[pos:nul], nul + 1
    nul = data.find(b"\0", pos, end)
    if nul < 0:
        raise ValueError("unterminated entry")
    return data[pos:nul], nul + 1


def parse_index(data: bytes, hash_len: int) -> tuple[str, ...] | None:
    """The paths in a git index file (versions 2 to 4), or None if not fully readable.

    Args:
        data: The whole index file.
        hash_len: Object id length in bytes (20 for SHA-1, 32 for SHA-256).

    Returns:
        Every entry's path (relative to the worktree top), or None when the data
        is malformed, too large, a split index, or a sparse index with
        directory entries (whose files are not listed).
    """
    end = len(data) - hash_len
    if end < 12 or data[:4] != b"DIRC":
        return None
    version, count = struct.unpack(">II", data[4:12])
    if version not in (2, 3, 4) or count > INDEX_LIMIT:
        return None
    fixed = 40 + hash_len + 2  # stat data, object id, flags
    pos, prev, paths = 12, b"", []
    try:
        for _ in range(count):
            start = pos
            if pos + fixed > end:
                return None
            mode = int.from_bytes(data[pos + 24 : pos + 28], "big")
            flags = int.from_bytes(data[pos + fixed - 2 : pos + fixed], "big")
            pos += fixed + (2 if flags & 0x4000 else 0)
            name, pos = _entry_name(data, pos, end, version, prev)
            if version < 4:
                pos = start + ((pos - 1 - start) // 8 + 1) * 8  # NUL padding to 8 bytes
            if mode & 0o170000 == 0o040000:
                return None  # sparse directory entry: its files are not listed
            prev = name
            paths.append(name.decode("utf-8", "surrogateescape"))
        while pos + 8 <= end:  # extensions
            if data[pos : pos + 4] == b"link":
                return None  # split index: most entries live in another file
            pos += 8 + int.from_bytes(data[pos + 4 : pos + 8], "big")
    except (IndexError, ValueError):
        return None
    return tuple(paths) if pos == end else None


@functools.lru_cache(maxsize=16)
def _cached_index(path: str, _mtime_ns: int, _size: int, _ino: int) -> tuple[str, ...] | None:
    with open(path, "rb") as handle:
        data = handle.read(INDEX_MAX_BYTES + 1)
    if len(data) > INDEX_MAX_BYTES:
        return None
    for hash_len in _HASH_LENGTHS:
        paths = parse_index(data, hash_len)
        if paths is not None:
            return paths
    return None


def tracked_paths(git_dir: str) -> tuple[str, ...] | None:
    """The paths tracked in `git_dir`'s index (cached while the file is unchanged).

    Args:
        git_dir: The git directory.

    Returns:
        The tracked paths (empty when there is no index yet), or None when
        the index exists but cannot be read completely.
    """
    path = os.path.join(git_dir, "index")
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return ()
    except OSError:
        return None
    try:
        return _cached_index(path, info.st_mtime_ns, info.st_size, info.st_ino)
    except OSError:
        return None
