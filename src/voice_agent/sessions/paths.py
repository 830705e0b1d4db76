"""Path confinement and secret detection for the auto-approval policy.

A read is only auto-approved when every path it touches resolves (symlinks and
``..`` included) inside the working directory or an extra root and nothing on
the way looks like a secret. This module holds those path checks, shared by the
Bash policy in `safety`, and the checks for Claude Code's own read tools
(``Read``, ``Glob``, ``Grep``, ``LS``, ``NotebookRead``).
"""

from __future__ import annotations

import glob
import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from voice_agent.sessions.bash_parse import Word

SCAN_LIMIT = 5000
SKIP_DIRS = frozenset({".git", "node_modules", ".venv", "__pycache__"})
_SECRET_DIRS = frozenset({".ssh", ".gnupg", ".aws", ".kube", ".docker", ".password-store"})
_SECRET_NAMES = frozenset(
    ".netrc .npmrc .pypirc .git-credentials .htpasswd shadow .bash_history .zsh_history "
    ".envrc .pgpass".split()
)
_ENV_OK = frozenset({".env.example", ".env.sample", ".env.template", ".env.dist"})
_SECRET_SUFFIXES = (".pem", ".key", ".p12", ".pfx", ".kdbx", ".keystore", ".jks")
_SECRET_PREFIXES = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "credentials")


def _secret_name(name: str) -> bool:
    if name in _SECRET_DIRS or name in _SECRET_NAMES or "secret" in name:
        return True
    if (name == ".env" or name.startswith(".env.")) and name not in _ENV_OK:
        return True
    return name.endswith(_SECRET_SUFFIXES) or name.startswith(_SECRET_PREFIXES)


def is_secret_path(path: str) -> bool:
    """Whether any component of `path` looks like it holds a secret.

    Args:
        path: A file system path, absolute or relative (not expanded).

    Returns:
        True for SSH/GPG/cloud credential directories, ``.env`` files, key and
        keystore files, credential and history files, and anything named
        ``*secret*`` (all case-insensitive).
    """
    parts = [p for p in path.replace("\\", "/").lower().split("/") if p]
    if any(a == ".config" and b == "gcloud" for a, b in itertools.pairwise(parts)):
        return True
    return any(_secret_name(part) for part in parts)


def _root_of(path: str, roots: Sequence[str]) -> str | None:
    real = os.path.realpath(path)
    for root in roots:
        real_root = os.path.realpath(root)
        if os.path.commonpath([real, real_root]) == real_root:
            return real_root
    return None


def is_secret_below(path: str, roots: Sequence[str]) -> bool:
    """Whether `path` looks secret, judging only the part below the root holding it.

    Args:
        path: The path to test.
        roots: Allowed directories.

    Returns:
        True when the path is outside every root or its part below the root looks secret.
    """
    root = _root_of(path, roots)
    if root is None:
        return True
    return is_secret_path(os.path.relpath(os.path.realpath(path), root))


def is_within(path: str, roots: Sequence[str]) -> bool:
    """Whether `path` resolves (symlinks and ``..`` included) inside one of `roots`.

    Args:
        path: The path to test; relative paths resolve against the process cwd.
        roots: Allowed directories.

    Returns:
        True when the real path equals or lies below a root's real path.
    """
    return _root_of(path, roots) is not None


def _link_escapes(link: str, real_root: str) -> bool:
    target = os.path.realpath(link)
    if os.path.commonpath([target, real_root]) != real_root:
        return True
    return is_secret_path(os.path.relpath(target, real_root))


def tree_has_secrets(root: str, limit: int = SCAN_LIMIT) -> bool:
    """Whether a recursive read of `root` could reach a secret.

    Walks `root` (skipping ``.git``, ``node_modules``, ``.venv`` and
    ``__pycache__``). Symlinks that point outside `root` or at a secret count as
    secrets, since ``grep -R`` or ``rg -L`` would follow them.

    Args:
        root: Directory (or file) to scan.
        limit: Maximum number of entries to inspect.

    Returns:
        True when a secret-looking entry is found or more than `limit` entries
        exist, False otherwise.
    """
    real_root = os.path.realpath(root)
    if not os.path.isdir(real_root):
        return is_secret_path(os.path.basename(real_root))
    count = 0
    for dirpath, dirnames, filenames in os.walk(real_root):
        for name in dirnames + filenames:
            count += 1
            full = os.path.join(dirpath, name)
            if count > limit or is_secret_path(os.path.relpath(full, real_root)):
                return True
            if os.path.islink(full) and _link_escapes(full, real_root):
                return True
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
    return False


@dataclass
class PathContext:
    """Where reads may go and where relative paths resolve.

    Attributes:
        roots: Real paths of the directories that may be read.
        cwds: Every directory the command may currently run in (a ``cd`` that
            may fail leaves more than one possibility).
    """

    roots: tuple[str, ...]
    cwds: frozenset[str]

    @classmethod
    def create(cls, cwd: str | None, extra_roots: Sequence[str]) -> PathContext:
        """A context rooted at `cwd` (default: the process cwd) plus `extra_roots`.

        Args:
            cwd: The working directory, also the first root.
            extra_roots: Further directories that may be read.

        Returns:
            The context, with `cwd` as its only current directory.
        """
        base = os.path.realpath(cwd if cwd is not None else os.getcwd())
        roots = (base, *(os.path.realpath(r) for r in extra_roots))
        return cls(roots, frozenset({base}))


def candidate_paths(
    value: str, pattern: str | None, ctx: PathContext
) -> list[tuple[str, str]] | None:
    """The (cwd, path) pairs a word may denote: the literal path plus any glob matches.

    Args:
        value: The word after quote removal.
        pattern: The word's glob pattern, or None when it is not globbed.
        ctx: The current path context.

    Returns:
        The pairs for every possible cwd, or None when the glob would reach
        outside the roots or match more than `SCAN_LIMIT` paths.
    """
    out: list[tuple[str, str]] = []
    for cwd in sorted(ctx.cwds):
        out.append((cwd, os.path.join(cwd, value)))
        if pattern is None:
            continue
        literal_dir = os.path.dirname(value.split("*")[0].split("?")[0])
        if ".." in value.split("/") or not is_within(os.path.join(cwd, literal_dir), ctx.roots):
            return None  # keep globbing inside the roots
        matches = glob.iglob(os.path.join(glob.escape(cwd), pattern), include_hidden=True)
        out.extend((cwd, m) for m in itertools.islice(matches, SCAN_LIMIT + 1))
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
        False when any candidate path looks secret, resolves outside the roots,
        is a hard-linked file, or a glob match would read as an option.
    """
    if value == "-":
        return True
    # Names are judged below the root (the checks in the loop): a project kept in,
    # say, ``/code/secrets-manager`` must not make every read ask.
    if not os.path.isabs(value) and is_secret_path(value):
        return False
    candidates = candidate_paths(value, pattern, ctx)
    if candidates is None:
        return False
    for cwd, path in candidates:
        lexical = os.path.relpath(os.path.normpath(path), cwd)
        if is_secret_path(lexical) or (pattern is not None and lexical.startswith("-")):
            return False
        root = _root_of(path, ctx.roots)
        if root is None or is_secret_path(os.path.relpath(os.path.realpath(path), root)):
            return False
        if os.path.isfile(path) and os.stat(path).st_nlink > 1:
            return False  # a hard link may alias a file outside the roots
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


def scan_ok(word: Word, ctx: PathContext) -> bool:
    """Whether a recursive read of every path `word` denotes stays secret-free.

    Args:
        word: The shell word naming the files or directories to scan.
        ctx: The current path context.

    Returns:
        False when the word's glob is unsafe or any directory it names may hold
        a secret (see `tree_has_secrets`).
    """
    candidates = candidate_paths(word.value, word.glob, ctx)
    if candidates is None:
        return False
    return not any(os.path.isdir(p) and tree_has_secrets(p) for _, p in candidates)


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
    return scan_ok(Word(path, path), ctx)


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

    Args:
        tool_name: ``Read``, ``Glob``, ``Grep``, ``LS`` or ``NotebookRead``
            (anything else is not safe).
        input_data: The tool input.
        cwd: The session working directory (default: the process cwd).
        extra_roots: Further directories that may be read.

    Returns:
        True when the call is confined to the roots and cannot read a secret.
    """
    checker = _READ_TOOLS.get(tool_name)
    if checker is None:
        return False
    try:
        return checker(input_data, PathContext.create(cwd, extra_roots))
    except (OSError, ValueError, TypeError):
        return False
