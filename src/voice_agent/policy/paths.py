"""Path confinement and secret detection for the auto-approval policy.

A read is only auto-approved when every path it touches stays inside the
working directory or an extra root, and nothing on the way looks like a secret,
**judged both ways a path can be resolved**:

- *by text*: bash keeps ``$PWD`` logically (``cd l/..`` goes back to where it
  was, even when ``l`` is a symlink), and Claude Code resolves its tools' paths
  textually; so the lexical ``normpath`` of the path against the logical
  working directory must stay inside the roots and not look secret;
- *physically*: the kernel follows symlinks and applies ``..`` to the real
  directory; so the ``realpath`` against the physical working directory (and
  the ``realpath`` of the lexical form) must too.

The command's working directory is therefore tracked as a set of `Place`
pairs (logical ``$PWD``, physical directory), one per way a ``cd`` may have
gone. Recursive reads scan the whole tree (no directory is skipped) for
secret-looking names, git-directory configs, hard links and symlinks that
lead out, within a work budget: too much to scan means "ask".

This module holds those checks, shared by the Bash policy in `safety`, and the
checks for Claude Code's own read tools (``Read``, ``Glob``, ``Grep``, ``LS``,
``NotebookRead``).
"""

from __future__ import annotations

import dataclasses
import glob
import itertools
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from voice_agent.policy import rg_ignore
from voice_agent.policy.bash_parse import Word
from voice_agent.policy.git_repo import is_git_dir
from voice_agent.policy.secret_names import GIT_DIR_SECRETS, is_secret_path

__all__ = [
    "GREP_TOOL",
    "SCAN_LIMIT",
    "VCS_DIRS",
    "WORK_LIMIT",
    "PathContext",
    "Place",
    "ScanReader",
    "WorkLimitExceeded",
    "change_dir",
    "exists",
    "is_safe_read_call",
    "is_secret_below",
    "is_secret_path",
    "is_within",
    "path_ok",
    "scan_ok",
    "tree_has_secrets",
    "word_ok",
]

#: Most entries one tree scan inspects; a bigger tree counts as unsafe.
SCAN_LIMIT = 5000
#: Most path resolutions plus scanned entries for one whole tool call.
WORK_LIMIT = 40_000
#: Directories Claude Code's ``Grep`` tool excludes with ``--glob '!NAME'``
#: (as the bundled CLI does; ``tests/unit/test_safety_holes.py`` checks it).
VCS_DIRS = frozenset({".git", ".svn", ".hg", ".bzr", ".jj", ".sl"})


_GIT_DIR_MARKS = frozenset({"objects", "refs", "commondir"})


class WorkLimitExceeded(Exception):
    """Raised when checking one call would take more than `WORK_LIMIT` steps."""


def _below(path: str, roots: Sequence[str]) -> str | None:
    """The part of the absolute, normalised `path` below the first root holding it."""
    for root in roots:
        if os.path.commonpath([path, root]) == root:
            return os.path.relpath(path, root)
    return None


def _lexical_roots(roots: Sequence[str]) -> tuple[str, ...]:
    forms = (f(r) for r in roots for f in (os.path.abspath, os.path.realpath))
    return tuple(dict.fromkeys(forms))


def is_git_config(real: str) -> bool:
    """Whether the real path `real` is the ``config`` of a (possibly bare) git directory.

    Args:
        real: A real (symlink-free) path.

    Returns:
        True for ``config`` or ``config.worktree`` next to ``HEAD`` and ``objects``/``refs``.
    """
    return os.path.basename(real) in GIT_DIR_SECRETS and is_git_dir(os.path.dirname(real))


def _secret_both_ways(path: str, roots: Sequence[str]) -> bool:
    lexical = _below(os.path.abspath(path), _lexical_roots(roots))
    real_path = os.path.realpath(path)
    real = _below(real_path, [os.path.realpath(r) for r in roots])
    if lexical is None or real is None:
        return True
    return is_secret_path(lexical) or is_secret_path(real) or is_git_config(real_path)


def is_secret_below(path: str, roots: Sequence[str]) -> bool:
    """Whether `path` looks secret, judging only the part below the root holding it.

    The path is judged by text (normalised) and physically (symlinks resolved):
    either one outside every root, or looking secret below its root, counts.

    Args:
        path: The path to test.
        roots: Allowed directories.

    Returns:
        True when the path is outside every root or its part below the root looks
        secret (or is a git directory's ``config``).
    """
    return _secret_both_ways(path, roots)


def is_within(path: str, roots: Sequence[str]) -> bool:
    """Whether `path` lies inside one of `roots` both by text and physically.

    Args:
        path: The path to test; relative paths resolve against the process cwd.
        roots: Allowed directories.

    Returns:
        True when the normalised path and the real path (symlinks and ``..``
        resolved) each equal or lie below a root (as given or resolved).
    """
    lexical = _below(os.path.abspath(path), _lexical_roots(roots))
    real = _below(os.path.realpath(path), [os.path.realpath(r) for r in roots])
    return lexical is not None and real is not None


def _link_escapes(link: str, real_root: str) -> bool:
    target = os.path.realpath(link)
    if os.path.commonpath([target, real_root]) != real_root:
        return True
    return is_secret_path(os.path.relpath(target, real_root)) or is_git_config(target)


def _entry_unsafe(entry: os.DirEntry[str], real_root: str, in_git_dir: bool) -> bool:
    if is_secret_path(os.path.relpath(entry.path, real_root)):
        return True
    if in_git_dir and entry.name.lower() in GIT_DIR_SECRETS:
        return True
    if entry.is_symlink():
        return _link_escapes(entry.path, real_root)
    return entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_nlink > 1


@dataclass(frozen=True)
class ScanReader:
    """What a recursive reader provably leaves out, for its tree scan.

    Attributes:
        skip: Entry names it never opens, at any depth.
        rg_ignores: It is ripgrep honouring ignore files (see `rg_ignore`).
        only_suffixes: ripgrep was given whitelist globs ``*.ext``: it opens no
            other file, and an entry whose name ends so is whitelisted (never
            left out). None: no such globs.
    """

    skip: frozenset[str] = frozenset()
    rg_ignores: bool = False
    only_suffixes: tuple[str, ...] | None = None

    def leaves_out(self, name: str, is_dir: bool, ignored: rg_ignore.Skip) -> bool:
        """Whether the reader never opens the entry `name` (see the attributes).

        Args:
            name: The entry's name.
            is_dir: Whether it is a directory (not a symlink to one).
            ignored: What the ignore files leave out in its directory.

        Returns:
            True when the entry, and all below it, can be left out of the scan.
        """
        if self.only_suffixes is not None:
            if name.endswith(self.only_suffixes):
                return False  # whitelisted: overrides beat ignore files
            if not is_dir:
                return True  # with whitelist globs, unmatched files are ignored
        return name in self.skip or ignored.covers(name, is_dir)


_READS_ALL = ScanReader()
#: Claude Code's ``Grep`` tool without a ``glob``: ripgrep with ignore files,
#: never entering a VCS directory.
GREP_TOOL = ScanReader(VCS_DIRS, rg_ignores=True)


def _scan(real_root: str, limit: int, reader: ScanReader = _READS_ALL) -> tuple[bool, int]:
    """(unsafe, entries inspected) for a recursive read of the directory `real_root`.

    Only what `reader` provably never opens is left out, with everything below it.
    """
    count = 0
    start = rg_ignore.above(real_root) if reader.rg_ignores else None
    stack: list[tuple[str, rg_ignore.Ignores | None]] = [(real_root, start)]
    while stack:
        directory, ignores = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(itertools.islice(it, limit - count + 1))
        except OSError:
            return True, count  # an unreadable directory cannot be proven clean
        names = {e.name for e in entries}
        in_git_dir = "HEAD" in names and not names.isdisjoint(_GIT_DIR_MARKS)
        has_git = ".git" in names and rg_ignore.has_git(directory)
        left_out, below = rg_ignore.enter(directory, has_git, ignores)
        for entry in entries:
            is_dir = entry.is_dir(follow_symlinks=False)
            if reader.leaves_out(entry.name, is_dir, left_out):
                continue
            count += 1
            if count > limit or _entry_unsafe(entry, real_root, in_git_dir):
                return True, count
            if is_dir:
                stack.append((entry.path, below))
    return False, count


def tree_has_secrets(root: str, limit: int = SCAN_LIMIT) -> bool:
    """Whether a recursive read of `root` could reach a secret.

    Walks all of `root`, skipping no directory (``.git``, ``node_modules``
    and ``.venv`` included: ``grep -r`` reads them too). Counts as a secret: a
    secret-looking name, the ``config`` of any git directory, a hard-linked
    file (it may alias a file elsewhere) and a symlink that points outside
    `root` or at a secret (``grep -R`` and ``rg -L`` follow them).

    Args:
        root: Directory (or file) to scan.
        limit: Maximum number of entries to inspect.

    Returns:
        True when something secret is found, a directory cannot be read, or
        more than `limit` entries exist; False otherwise.
    """
    real_root = os.path.realpath(root)
    if not os.path.isdir(real_root):
        return is_secret_path(os.path.basename(real_root)) or is_git_config(real_root)
    return _scan(real_root, limit)[0]


@dataclass(frozen=True, order=True)
class Place:
    """One place a command may be running in.

    Attributes:
        logical: ``$PWD`` as bash keeps it (by text, symlinks not resolved).
        physical: The real directory the process is in.
    """

    logical: str
    physical: str


def _work_limit() -> int:
    return WORK_LIMIT


@dataclass
class _Budget:
    left: int = field(default_factory=_work_limit)
    scanned: dict[tuple[str, ScanReader], bool] = field(default_factory=dict)

    def spend(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            raise WorkLimitExceeded


@dataclass
class PathContext:
    """Where reads may go and where relative paths resolve.

    Attributes:
        roots: Real paths of the directories that may be read.
        places: Every place the command may currently run in (a ``cd`` that
            may fail, or may resolve by text or physically, leaves several).
        lexical_roots: The roots as given (normalised) and as real paths: where
            a path judged by text may lie.
        budget: The work left for this call, shared by derived contexts.
    """

    roots: tuple[str, ...]
    places: frozenset[Place]
    lexical_roots: tuple[str, ...]
    budget: _Budget = field(default_factory=_Budget)

    @classmethod
    def create(cls, cwd: str | None, extra_roots: Sequence[str]) -> PathContext:
        """A context rooted at `cwd` (default: the process cwd) plus `extra_roots`.

        Args:
            cwd: The working directory, also the first root.
            extra_roots: Further directories that may be read.

        Returns:
            The context, running in `cwd` (by its given and its real name).
        """
        given = os.path.abspath(cwd if cwd is not None else os.getcwd())
        base = os.path.realpath(given)
        roots = (base, *(os.path.realpath(r) for r in extra_roots))
        places = frozenset({Place(given, base), Place(base, base)})
        return cls(roots, places=places, lexical_roots=_lexical_roots([given, *extra_roots]))

    @property
    def base(self) -> str:
        """The real path of the session's working directory."""
        return self.roots[0]

    def at(self, places: frozenset[Place]) -> PathContext:
        """The same roots and budget, running in `places`.

        Args:
            places: The places of the new context.

        Returns:
            A context sharing this one's budget.
        """
        return dataclasses.replace(self, places=places)

    def resolve(self, value: str, place: Place) -> tuple[str, str, str]:
        """The (lexical, physical, real-lexical) absolute paths `value` names in `place`.

        Args:
            value: The path as a program receives it.
            place: Where it is resolved.

        Returns:
            ``normpath`` against the logical cwd, ``realpath`` against the
            physical cwd, and the ``realpath`` of the lexical path.
        """
        self.budget.spend(1)
        lexical = os.path.normpath(os.path.join(place.logical, value))
        physical = os.path.realpath(os.path.join(place.physical, value))
        return lexical, physical, os.path.realpath(lexical)


def _place_ok(value: str, place: Place, ctx: PathContext) -> bool:
    """Whether `value` read in `place` stays inside the roots, secret-free, both ways."""
    lexical, physical, lexical_real = ctx.resolve(value, place)
    below = _below(lexical, ctx.lexical_roots)
    if below is None or is_secret_path(below):
        return False
    for real in {physical, lexical_real}:
        below = _below(real, ctx.roots)
        if below is None or is_secret_path(below) or is_git_config(real):
            return False
        if os.path.isfile(real) and os.stat(real).st_nlink > 1:
            return False  # a hard link may alias a file outside the roots
    return True


def _expand(value: str, pattern: str | None, ctx: PathContext) -> list[tuple[Place, str]] | None:
    """The (place, path) pairs a word may denote: the literal path plus any glob matches.

    Returns None when the glob would reach outside the roots or match more than
    `SCAN_LIMIT` paths. Matches are given as bash passes them (relative to the
    place when the pattern is relative).
    """
    out: list[tuple[Place, str]] = []
    for place in sorted(ctx.places):
        out.append((place, value))
        if pattern is None:
            continue
        literal_dir = os.path.dirname(value.split("*")[0].split("?")[0])
        if ".." in value.split("/") or not _place_ok(literal_dir or ".", place, ctx):
            return None  # keep globbing inside the roots
        matches = glob.iglob(pattern, root_dir=place.physical, include_hidden=True)
        found = list(itertools.islice(matches, SCAN_LIMIT + 1))
        ctx.budget.spend(len(found))
        out.extend((place, m) for m in found)
        if len(out) > SCAN_LIMIT:
            return None
    return out


def path_ok(value: str, ctx: PathContext, pattern: str | None = None) -> bool:
    """Whether reading `value` (and its glob matches) stays inside the roots, secret-free.

    Args:
        value: The path as the program receives it (``-`` means stdin).
        ctx: The current path context.
        pattern: The word's glob pattern, or None when it is not globbed.

    Returns:
        False when any candidate path, judged by text or physically from any
        place, looks secret, lies outside the roots, is a git directory's
        config or a hard-linked file, or when a glob match would read as an
        option.
    """
    if value == "-":
        return True
    # Names are judged below the root (the checks in `_place_ok`): a project kept
    # in, say, ``/code/secrets-manager`` must not make every read ask.
    if not os.path.isabs(value) and is_secret_path(value):
        return False
    candidates = _expand(value, pattern, ctx)
    if candidates is None:
        return False
    for place, path in candidates:
        if pattern is not None and path.startswith("-"):
            return False
        if not _place_ok(path, place, ctx):
            return False
    return True


def word_ok(word: Word, ctx: PathContext) -> bool:
    """Whether the shell word `word` names only safe paths (see `path_ok`).

    Args:
        word: The shell word.
        ctx: The current path context.

    Returns:
        The verdict of `path_ok` for the word's value and glob pattern.
    """
    return path_ok(word.value, ctx, word.glob)


def exists(word: Word, ctx: PathContext) -> bool:
    """Whether some path the word may denote exists (as a file, directory or link).

    Args:
        word: The shell word.
        ctx: The current path context.

    Returns:
        True when any candidate exists, judged by text or physically.
    """
    for place, path in _expand(word.value, word.glob, ctx) or []:
        if any(os.path.lexists(p) for p in ctx.resolve(path, place)):
            return True
    return False


def _scanned_clean(directory: str, ctx: PathContext, reader: ScanReader) -> bool:
    cache = ctx.budget.scanned
    key = (directory, reader)
    if key not in cache:
        limit = min(SCAN_LIMIT, max(ctx.budget.left, 0))
        unsafe, count = _scan(directory, limit, reader)
        ctx.budget.spend(count)
        cache[key] = not unsafe
    return cache[key]


def scan_ok(word: Word, ctx: PathContext, reader: ScanReader = _READS_ALL) -> bool:
    """Whether a recursive read of every path `word` denotes stays secret-free.

    Every directory the word may name, by text or physically, is scanned in full
    (see `tree_has_secrets`).

    Args:
        word: The shell word naming the files or directories to scan.
        ctx: The current path context.
        reader: What the reader provably never opens (only Claude Code's
            ``Grep`` tool leaves anything out: `GREP_TOOL`).

    Returns:
        False when the word's glob is unsafe or any directory it names may hold
        a secret.
    """
    candidates = _expand(word.value, word.glob, ctx)
    if candidates is None:
        return False
    for place, path in candidates:
        _, physical, lexical_real = ctx.resolve(path, place)
        for directory in {physical, lexical_real}:
            if os.path.isdir(directory) and not _scanned_clean(directory, ctx, reader):
                return False
    return True


def change_dir(word: Word, ctx: PathContext, physical: bool = False) -> frozenset[Place] | None:
    """The places ``cd word`` (``cd -P word`` when `physical`) may land in from any place.

    Bash's logical ``cd`` applies the target to ``$PWD`` by text and enters the
    normalised path; when that fails it falls back to the target as the kernel
    resolves it (``$PWD`` then becomes the real path). ``cd -P`` and
    ``git -C`` only do the latter. Every landing place must be safe by text and
    physically (see `path_ok`).

    Args:
        word: The ``cd`` target.
        ctx: The current path context.
        physical: Resolve like ``cd -P`` (or ``git -C``).

    Returns:
        The new places, or None when the target is unsafe, globbed, an option,
        subject to ``CDPATH``, or not a directory from every place.
    """
    target = word.value
    if word.glob is not None or not target or target.startswith("-"):
        return None
    relative = not target.startswith(("/", "./", "../")) and target not in (".", "..")
    if relative and os.environ.get("CDPATH"):
        return None
    if not path_ok(target, ctx):
        return None
    new: set[Place] = set()
    for place in ctx.places:
        _, direct, _ = ctx.resolve(target, place)
        if physical:
            primary = Place(direct, direct)
        else:
            canonical = os.path.normpath(os.path.join(place.logical, target))
            primary = Place(canonical, os.path.realpath(canonical))
            if os.path.isdir(direct):
                new.add(Place(direct, direct))
        if not os.path.isdir(primary.physical):
            return None
        new.add(primary)
    return frozenset(new)


def _tool_path_ok(value: Any, ctx: PathContext, default: str = ".") -> bool:
    if value is None:
        value = default
    if not isinstance(value, str) or not value or value.startswith("~"):
        return False
    return path_ok(value, ctx)


def _glob_pattern_ok(pattern: Any, ctx: PathContext) -> bool:
    if not isinstance(pattern, str) or not pattern or pattern.startswith("~"):
        return False
    if ".." in pattern or any(s in pattern for s in ("{/", ",/", "{~", ",~")):
        return False
    if os.path.isabs(pattern):
        literal = os.path.dirname(pattern.split("*")[0].split("?")[0].split("[")[0])
        return path_ok(literal or "/", ctx)
    return True


def _read_ok(data: Mapping[str, Any], ctx: PathContext) -> bool:
    return _tool_path_ok(data.get("file_path"), ctx, default="")


def _notebook_ok(data: Mapping[str, Any], ctx: PathContext) -> bool:
    return _tool_path_ok(data.get("notebook_path"), ctx, default="")


def _ls_ok(data: Mapping[str, Any], ctx: PathContext) -> bool:
    return _tool_path_ok(data.get("path"), ctx)


def _glob_ok(data: Mapping[str, Any], ctx: PathContext) -> bool:
    return _tool_path_ok(data.get("path"), ctx) and _glob_pattern_ok(data.get("pattern"), ctx)


def _grep_ok(data: Mapping[str, Any], ctx: PathContext) -> bool:
    path = data.get("path") or "."
    if not isinstance(data.get("pattern"), str) or not _tool_path_ok(path, ctx):
        return False
    file_glob = data.get("glob")
    if file_glob is not None and not _glob_pattern_ok(file_glob, ctx):
        return False
    return scan_ok(Word(path, path), ctx, _grep_tool_reader(file_glob))


_SUFFIX_GLOB = re.compile(r"(?:\*\*/)?\*\.(?:([\w+-]+)|\{([\w+-]+(?:,[\w+-]+)*)\})")


def _grep_tool_reader(file_glob: str | None) -> ScanReader:
    """What the Grep tool's ripgrep leaves out, given the call's ``glob``.

    The tool runs ``rg --hidden --no-follow --glob '!.git' …`` (one glob per VCS
    directory), honours ignore files, and adds the call's globs (split at blanks
    and, outside braces, commas) after those, as override globs: the last
    matching glob decides. Plain ``*.ext`` / ``*.{a,b}`` globs only whitelist
    names with those endings (and, being whitelists, make ripgrep ignore every
    other file); any other glob may bring anything back, so nothing is left out.
    """
    if file_glob is None:
        return GREP_TOOL
    globs: list[str] = []
    for token in file_glob.split():
        globs += [token] if "{" in token and "}" in token else [g for g in token.split(",") if g]
    suffixes: list[str] = []
    for one in globs:
        match = _SUFFIX_GLOB.fullmatch(one)
        if match is None:
            return _READS_ALL
        suffixes += [f".{e}" for e in (match.group(1) or match.group(2)).split(",")]
    if not suffixes:
        return GREP_TOOL
    return dataclasses.replace(GREP_TOOL, only_suffixes=tuple(suffixes))


_READ_TOOLS: dict[str, Callable[[Mapping[str, Any], PathContext], bool]] = {
    "Read": _read_ok,
    "NotebookRead": _notebook_ok,
    "LS": _ls_ok,
    "Glob": _glob_ok,
    "Grep": _grep_ok,
}


def is_safe_read_call(
    tool_name: str,
    input_data: Mapping[str, Any],
    cwd: str | None,
    extra_roots: Sequence[str] = (),
) -> bool:
    """Whether a Claude Code read tool call only touches non-secret files in the roots.

    Paths are judged by text (Claude Code normalises them) and physically (the
    kernel follows symlinks); both must stay inside the roots and not look secret.

    Args:
        tool_name: ``Read``, ``Glob``, ``Grep``, ``LS`` or ``NotebookRead``
            (anything else is not safe).
        input_data: The tool input.
        cwd: The session working directory (default: the process cwd).
        extra_roots: Further directories that may be read.

    Returns:
        True when the call is confined to the roots and cannot read a secret;
        False too when checking fails in any way.
    """
    checker = _READ_TOOLS.get(tool_name)
    if checker is None:
        return False
    try:
        return checker(input_data, PathContext.create(cwd, extra_roots))
    except Exception:  # any failure of the checker means "ask"
        return False
