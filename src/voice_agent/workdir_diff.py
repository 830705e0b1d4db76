"""The working tree's uncommitted changes, asked of git itself, hardened: for ``/diff``.

:func:`working_tree_diff` is everything ``git diff HEAD`` would show (staged and
not staged changes together, against the last commit; against the empty tree
before the first one), which files are staged, which are not, and the new files
git does not track yet (``git ls-files --others --exclude-standard``), whose
content is added as new-file diffs (up to ``UNTRACKED_SHOWN`` files of at most
``UNTRACKED_MAX_BYTES`` each, text only, never through a link). :func:`file_diff`
is one file's diff, asked again when its button is pressed.

Secret-looking files (:func:`voice_agent.policy.secret_names.is_secret_path`:
``.env``, keys, credentials…) are left out, tracked or not: only their names are
reported. git runs outside the jail, so it runs the way the git policy runs it
(:func:`voice_agent.policy.git_history.run_git_capped`: no system or user config,
no pager, hooks, fsmonitor or lazy fetch, a time and output limit) plus
``--no-ext-diff --no-textconv``, no submodule recursion, and not at all in a
repository whose own config names a program git could run
(:func:`voice_agent.policy.git_repo.config_runs_programs`: a filter, a textconv,
an external diff, an include). The diff text is cut at ``DOCUMENT_LIMIT`` bytes
(:attr:`WorkdirDiff.cut` says so). Everything here blocks: call it off the event loop.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from voice_agent.policy.git_history import run_git_capped
from voice_agent.policy.git_repo import config_runs_programs, discover
from voice_agent.policy.paths import is_within
from voice_agent.policy.secret_names import is_secret_path

__all__ = [
    "DOCUMENT_LIMIT",
    "ChangedFile",
    "FileDiff",
    "WorkdirDiff",
    "file_diff",
    "in_work_tree",
    "working_tree_diff",
]

GIT_TIMEOUT = 10.0
"""Seconds each git command may take."""
DOCUMENT_LIMIT = 2 * 1024 * 1024
"""Most bytes of diff text kept (the rest is cut, and the result says so)."""
LIST_LIMIT = 8 * 1024 * 1024
"""Most bytes of a file listing read from git."""
UNTRACKED_SHOWN = 50
"""Untracked files whose content is added to the diff (the others are counted)."""
UNTRACKED_MAX_BYTES = 256 * 1024
"""Largest untracked file whose content is added."""
_PATHS_PER_CALL = 500
_DIFF_OPTIONS = [
    "--no-ext-diff",
    "--no-textconv",
    "--no-color",
    "--no-renames",
    "--no-relative",
    "--ignore-submodules=dirty",
]
_PATCH_OPTIONS = [*_DIFF_OPTIONS, "--patch", "-U3", "--src-prefix=a/", "--dst-prefix=b/"]
_STATUS = {"A": "added", "D": "deleted", "M": "modified", "T": "type changed", "U": "unmerged"}


@dataclass(frozen=True)
class ChangedFile:
    """One file with uncommitted changes.

    Attributes:
        path: Its path relative to the top of the working tree, as git names it.
        status: ``modified``, ``added``, ``deleted``, ``type changed``,
            ``unmerged`` or ``untracked``.
        staged: Some of its change is staged (in the index).
        unstaged: Some of its change is not staged.
        added: Lines added (None: binary, or an untracked file not shown).
        removed: Lines removed.
    """

    path: str
    status: str
    staged: bool = False
    unstaged: bool = False
    added: int | None = 0
    removed: int | None = 0

    @property
    def untracked(self) -> bool:
        """Whether git does not track it yet."""
        return self.status == "untracked"


@dataclass(frozen=True)
class WorkdirDiff:
    """The uncommitted changes of a working tree.

    Attributes:
        top: The working tree's top directory.
        files: The changed files (tracked ones first, then untracked), secrets left out.
        text: The unified diff of them all (untracked files as new files).
        cut: The text was cut at ``DOCUMENT_LIMIT`` bytes.
        untracked_shown: Untracked files whose content is in ``text``.
        not_shown: Untracked files whose content is not in ``text`` though there was
            room: too large, not a regular file or link, unreadable (a binary one
            is named in ``text``).
        left_out: Secret-looking changed or untracked files, left out entirely.
        listing_cut: git listed more untracked files than could be read.
    """

    top: str
    files: tuple[ChangedFile, ...]
    text: str
    cut: bool = False
    untracked_shown: int = 0
    not_shown: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()
    listing_cut: bool = False

    @property
    def untracked(self) -> int:
        """How many untracked files there are (secret-looking ones not counted)."""
        return sum(1 for f in self.files if f.untracked)


@dataclass(frozen=True)
class FileDiff:
    """One file's uncommitted change.

    Attributes:
        path: Its path relative to the top of the working tree.
        text: Its unified diff.
        cut: The text was cut at ``DOCUMENT_LIMIT`` bytes.
    """

    path: str
    text: str
    cut: bool = False


@dataclass(frozen=True)
class _Repo:
    git_dir: str
    top: str

    def git(self, args: list[str], limit: int = LIST_LIMIT) -> tuple[bytes, bool] | None:
        return run_git_capped(self.git_dir, args, limit, GIT_TIMEOUT, work_tree=self.top)


def _repository(cwd: str) -> _Repo | str:
    """The repository of ``cwd``, or why ``/diff`` cannot look at it."""
    real = os.path.realpath(cwd)
    if not os.path.isdir(real):
        return f"{cwd} is not a directory"
    found = discover(real)
    if found.kind == "none":
        return f"{cwd} is not in a git repository"
    if found.kind == "gitdir":
        return f"{cwd} is inside a git directory, not a working tree"
    if found.kind == "unknown":
        return f"the .git of {cwd} cannot be read"
    if config_runs_programs(found.git_dir):
        return (
            "this repository's git config names a program git would run (a filter, "
            "textconv, external diff, fsmonitor or include), and /diff runs none"
        )
    return _Repo(found.git_dir, found.top)


def _base(repo: _Repo) -> str | None:
    """The commit to diff against (``HEAD``), or the empty tree before the first commit."""
    head = repo.git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], 4096)
    if head is not None and head[0].strip():
        return head[0].decode("ascii", "replace").strip()
    empty = repo.git(["hash-object", "-t", "tree", "--stdin"], 4096)
    return empty[0].decode("ascii", "replace").strip() if empty is not None else None


def _names(data: bytes) -> list[str]:
    return [n.decode("utf-8", "surrogateescape") for n in data.split(b"\0") if n]


def _listing(repo: _Repo, args: list[str]) -> list[str] | None:
    found = repo.git(args)
    return None if found is None or found[1] else _names(found[0])


def _numstat(data: bytes) -> dict[str, tuple[int | None, int | None]]:
    counts: dict[str, tuple[int | None, int | None]] = {}
    for record in data.split(b"\0"):
        added, _, rest = record.partition(b"\t")
        removed, _, path = rest.partition(b"\t")
        if path:
            name = path.decode("utf-8", "surrogateescape")
            binary = added == b"-"
            counts[name] = (None, None) if binary else (int(added or 0), int(removed or 0))
    return counts


def _status(data: bytes) -> list[tuple[str, str]]:
    fields = _names(data)
    return [
        (_STATUS.get(fields[i][:1], "modified"), fields[i + 1])
        for i in range(0, len(fields) - 1, 2)
    ]


def _tracked(repo: _Repo, base: str) -> list[ChangedFile] | None:
    statuses = repo.git(["diff", base, "--name-status", "-z", *_DIFF_OPTIONS])
    counts = repo.git(["diff", base, "--numstat", "-z", *_DIFF_OPTIONS])
    staged = _listing(repo, ["diff", "--cached", base, "--name-only", "-z", *_DIFF_OPTIONS])
    unstaged = _listing(repo, ["diff", "--name-only", "-z", *_DIFF_OPTIONS])
    if statuses is None or statuses[1] or counts is None or counts[1]:
        return None
    numbers = _numstat(counts[0])
    in_index, in_tree = set(staged or ()), set(unstaged or ())
    files = []
    for status, path in _status(statuses[0]):
        added, removed = numbers.get(path, (None, None))
        files.append(
            ChangedFile(
                path,
                status,
                staged=path in in_index,
                unstaged=path in in_tree,
                added=added,
                removed=removed,
            )
        )
    return files


def _patch(repo: _Repo, base: str, paths: list[str] | None, limit: int) -> tuple[str, bool] | None:
    """The diff of ``paths`` (None: every change) against ``base``, cut at ``limit`` bytes."""
    batches = (
        [None]
        if paths is None
        else [paths[i : i + _PATHS_PER_CALL] for i in range(0, len(paths), _PATHS_PER_CALL)]
    )
    out: list[bytes] = []
    size = 0
    for batch in batches:
        spec = [] if batch is None else ["--", *batch]
        found = repo.git(["diff", base, *_PATCH_OPTIONS, *spec], limit - size)
        if found is None:
            return None
        out.append(found[0])
        size += len(found[0])
        if found[1]:
            return b"".join(out).decode("utf-8", "replace"), True
    return b"".join(out).decode("utf-8", "replace"), False


def _new_file(top: str, path: str) -> tuple[str, int | None] | None:
    """A new-file diff of the untracked ``path`` and its line count (None: binary).

    None when it cannot be shown: gone, not a regular file or link, outside the
    tree, larger than ``UNTRACKED_MAX_BYTES``, unreadable.
    """
    full = os.path.join(top, path)
    if not is_within(os.path.dirname(full) or top, [top]):
        return None
    try:
        info = os.lstat(full)
        if stat.S_ISLNK(info.st_mode):
            data, mode = os.fsencode(os.readlink(full)), "120000"
        elif stat.S_ISREG(info.st_mode) and info.st_size <= UNTRACKED_MAX_BYTES:
            fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as handle:
                data = handle.read(UNTRACKED_MAX_BYTES + 1)
            mode = "100755" if info.st_mode & 0o111 else "100644"
        else:
            return None
    except OSError:
        return None
    if len(data) > UNTRACKED_MAX_BYTES:
        return None
    header = f"diff --git a/{path} b/{path}\nnew file mode {mode}\n"
    if b"\0" in data[:8000]:
        return f"{header}Binary files /dev/null and b/{path} differ\n", None
    if not data:
        return header, 0
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    ending = "" if text.endswith("\n") else "\n\\ No newline at end of file"
    if not ending:
        lines.pop()
    count = len(lines)
    where = "1" if count == 1 else f"1,{count}"
    body = "\n".join("+" + line for line in lines)
    return f"{header}--- /dev/null\n+++ b/{path}\n@@ -0,0 +{where} @@\n{body}{ending}\n", count


def in_work_tree(cwd: str) -> bool:
    """Whether ``cwd`` is inside a git working tree (judged from the disk, git not run)."""
    real = os.path.realpath(cwd)
    return os.path.isdir(real) and discover(real).kind == "worktree"


def working_tree_diff(cwd: str) -> WorkdirDiff | str:
    """The uncommitted changes of the working tree holding ``cwd`` (see the module).

    Args:
        cwd: The session's working directory (anywhere inside the working tree).

    Returns:
        The changes (``files`` empty when there are none), or why they cannot be
        shown: not a git repository, a repository whose config names programs,
        git missing, failing or too slow.
    """
    repo = _repository(cwd)
    if isinstance(repo, str):
        return repo
    base = _base(repo)
    tracked = _tracked(repo, base) if base is not None else None
    if base is None or tracked is None:
        return "git could not list the changes (it failed, took too long, or listed too many)"
    others = repo.git(["ls-files", "--others", "--exclude-standard", "-z"])
    if others is None:
        return "git could not list the untracked files"
    untracked_names = _names(others[0])
    if others[1]:
        untracked_names.pop()  # the last name may be cut
    left_out = [f.path for f in tracked if is_secret_path(f.path)]
    left_out += [p for p in untracked_names if is_secret_path(p)]
    shown = [f for f in tracked if not is_secret_path(f.path)]
    found = _patch(repo, base, [f.path for f in shown] if left_out else None, DOCUMENT_LIMIT)
    if found is None:
        return "git could not show the changes"
    text, cut = found
    files = list(shown)
    not_shown: list[str] = []
    size = len(text.encode())
    for path in (p for p in untracked_names if not is_secret_path(p)):
        diff = None
        if len(files) - len(shown) < UNTRACKED_SHOWN and not cut:
            diff = _new_file(repo.top, path)
            if diff is None:
                not_shown.append(path)
            elif size + len(diff[0].encode()) > DOCUMENT_LIMIT:
                cut, diff = True, None
        if diff is None:
            files.append(ChangedFile(path, "untracked", added=None, removed=None))
            continue
        text += diff[0]
        size += len(diff[0].encode())
        files.append(ChangedFile(path, "untracked", added=diff[1], removed=0))
    return WorkdirDiff(
        repo.top,
        tuple(files),
        text,
        cut,
        sum(1 for f in files if f.untracked and f.added is not None),
        tuple(not_shown),
        tuple(left_out),
        others[1],
    )


def file_diff(cwd: str, path: str) -> FileDiff | str:
    """One file's uncommitted change, asked of git now (an untracked file as a new file).

    Args:
        cwd: The session's working directory.
        path: The file's path relative to the top of the working tree (as
            :func:`working_tree_diff` named it).

    Returns:
        Its diff, or why it cannot be shown (a secret-looking name, no change
        any more, not a repository…).
    """
    if is_secret_path(path):
        return f"{path} looks like a secret; its diff is not shown"
    repo = _repository(cwd)
    if isinstance(repo, str):
        return repo
    base = _base(repo)
    found = _patch(repo, base, [path], DOCUMENT_LIMIT) if base is not None else None
    if found is None:
        return "git could not show the change"
    if found[0]:
        return FileDiff(path, *found)
    others = _listing(repo, ["ls-files", "--others", "--exclude-standard", "-z", "--", path])
    new = _new_file(repo.top, path) if others == [path] else None
    if new is not None:
        return FileDiff(path, new[0])
    if others == [path]:
        return f"{path} is new, but too large or not a text file to show"
    return f"{path} has no uncommitted changes now"
