"""What a repository's history holds, asked of git itself: for the git policy.

A secret committed once and deleted later (a ``.env`` in an old commit, in a
stash, in a commit only the reflog still reaches) is still printed by
``git log -p``, ``git show <commit>`` or ``git diff <old> <new>``, and the jail
does not hide it (it is in ``.git/objects``). So the policy needs to know every
path that ever existed in any commit git can reach by a name: `history` lists
them with one ``git log`` over all refs, every reflog (stashes included) and
every worktree's ``HEAD``, diffing each commit against its first parent (a root
commit against the empty tree). By induction every path of every such commit
is listed: it is either in the first parent's tree or in the diff against it.

git runs here *outside* the jail, so it is hardened: no system or user config,
no pager, fsmonitor, hooks, signatures, replace objects, lazy fetches or any
transport; an explicit ``--git-dir``; a time limit and an output limit. The
repository's own config is read by git, but the policy has already refused a
repository whose config names a program (`git_repo.config_runs_programs`).

Results are cached per git directory, keyed by what can change them: the
``HEAD`` files, ``packed-refs``, every file under ``refs/``, ``logs/`` and
``reftable/`` (of the repository and of its linked worktrees), ``shallow``,
the config and the alternates. Objects never change under their id, so they
are not part of the key. Failures (a timeout included) are cached the same way.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

from voice_agent.policy.git_repo import common_dir
from voice_agent.policy.secret_names import is_secret_path
from voice_agent.policy.signed_cache import SignedCache

__all__ = [
    "HISTORY_MAX_BYTES",
    "HISTORY_TIMEOUT",
    "STATE_MAX_FILES",
    "History",
    "history",
    "objects_named",
    "run_git",
    "run_git_capped",
]

#: Seconds the history listing may take; longer means "unknown" (every history read asks).
HISTORY_TIMEOUT = 4.0
#: Most bytes of output the history listing may print.
HISTORY_MAX_BYTES = 64 * 1024 * 1024
#: Seconds and bytes for looking up which objects an abbreviated id names.
LOOKUP_TIMEOUT = 2.0
LOOKUP_MAX_BYTES = 1024 * 1024
#: Most ref and reflog files to key the cache by; more means "unknown".
STATE_MAX_FILES = 20_000
_CACHE_SIZE = 16
_HEX_ID = re.compile(rb"[0-9a-f]{40}|[0-9a-f]{64}")
_HEX_PREFIX = re.compile(r"[0-9a-f]{4,64}")
_READ_CHUNK = 1 << 16


@dataclass(frozen=True)
class History:
    """What the commits git can reach by a name hold.

    Attributes:
        secrets: The secret-looking paths (lower-cased) that existed in any of
            them (see `secret_names.is_secret_path`).
        commits: Their ids (full, lower-case hex).
    """

    secrets: tuple[str, ...]
    commits: frozenset[str]


def _env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": "/nonexistent",
        "XDG_CONFIG_HOME": "/nonexistent",
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_NO_LAZY_FETCH": "1",
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_PAGER": "cat",
        "PAGER": "cat",
        "GIT_ALLOW_PROTOCOL": "",
    }


def _git_argv(git_dir: str, args: list[str]) -> list[str] | None:
    program = shutil.which("git")
    if program is None:
        return None
    settings = (
        "core.fsmonitor=false",
        "core.hooksPath=/dev/null",
        "core.pager=cat",
        "core.useReplaceRefs=false",
        "safe.bareRepository=explicit",
        "protocol.allow=never",
        "log.showSignature=false",
        "gc.auto=0",
        "maintenance.auto=false",
    )
    configs = [part for setting in settings for part in ("-c", setting)]
    return [
        program,
        "--no-pager",
        "--no-replace-objects",
        "--literal-pathspecs",
        f"--git-dir={git_dir}",
        *configs,
        *args,
    ]


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: git and anything it started


def run_git(git_dir: str, args: list[str], limit: int, timeout: float) -> bytes | None:
    """Run a read-only git command on `git_dir`, hardened, bounded in time and output.

    Args:
        git_dir: The git directory (given to git explicitly).
        args: The subcommand and its arguments.
        limit: Most bytes of standard output.
        timeout: Most seconds.

    Returns:
        Its standard output, or None when git is missing, fails, prints more
        than `limit` bytes or takes longer than `timeout`.
    """
    found = run_git_capped(git_dir, args, limit, timeout)
    return None if found is None or found[1] else found[0]


def run_git_capped(
    git_dir: str, args: list[str], limit: int, timeout: float, work_tree: str | None = None
) -> tuple[bytes, bool] | None:
    """Run a read-only git command hardened (see `run_git`), keeping at most `limit` bytes.

    Args:
        git_dir: The git directory (given to git explicitly).
        args: The subcommand and its arguments.
        limit: Most bytes of standard output kept; git is stopped once it prints more.
        timeout: Most seconds.
        work_tree: The working tree (given to git explicitly, and git's working
            directory); None: run in `git_dir` with no working tree.

    Returns:
        (its standard output, whether it was cut at `limit`), or None when git is
        missing, fails or takes longer than `timeout`.
    """
    tree = [f"--work-tree={work_tree}"] if work_tree is not None else []
    argv = _git_argv(git_dir, [*tree, *args])
    if argv is None:
        return None
    deadline = time.monotonic() + timeout
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=work_tree if work_tree is not None else git_dir,
            env=_env(),
            start_new_session=True,
        )
    except OSError:
        return None
    assert proc.stdout is not None
    chunks: list[bytes] = []
    size = 0
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    return None
                chunk = os.read(proc.stdout.fileno(), _READ_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                chunks.append(chunk)
                if size > limit:
                    return b"".join(chunks)[:limit], True
        code = proc.wait(max(deadline - time.monotonic(), 0.001))
    except subprocess.TimeoutExpired:
        return None
    finally:
        if proc.poll() is None:
            _kill(proc)
        proc.wait()
        proc.stdout.close()
    return (b"".join(chunks), False) if code == 0 else None


_LIST_ARGS = [
    "log",
    "--all",
    "--reflog",
    "--format=%x00%H",
    "-z",
    "--name-only",
    "--no-renames",
    "--diff-merges=first-parent",
    "--root",
    "--no-relative",
    "--ignore-submodules=none",
    "--no-ext-diff",
    "--no-textconv",
    "--no-color",
    "--no-notes",
    "--no-show-signature",
    "--no-mailmap",
]


def parse_listing(data: bytes) -> tuple[set[str], set[bytes]] | None:
    """(commit ids, paths) of the output of the history listing, or None if malformed.

    The listing is, per commit, ``NUL id NUL`` then, when it changed anything,
    a newline and each path followed by a NUL. Paths are never empty, so an
    empty field always starts a commit.

    Args:
        data: What ``git log --format=%x00%H -z --name-only`` printed.

    Returns:
        The commit ids and the paths, or None when the output does not parse.
    """
    if not data:
        return set(), set()
    fields = data.split(b"\0")
    if fields[-1] != b"":
        return None
    fields.pop()
    commits: set[str] = set()
    paths: set[bytes] = set()
    i, count = 0, len(fields)
    while i < count:
        if fields[i] != b"" or i + 1 >= count or not _HEX_ID.fullmatch(fields[i + 1]):
            return None
        commits.add(fields[i + 1].decode("ascii"))
        i += 2
        if i < count and fields[i] != b"":
            if not fields[i].startswith(b"\n"):
                return None
            fields[i] = fields[i][1:]
            while i < count and fields[i] != b"":
                paths.add(fields[i])
                i += 1
    return commits, paths


def _refs_are_commits(git_dir: str) -> bool:
    """Whether every ref names a commit, directly or through one tag.

    A tag of a blob or a tree (``git show v1`` prints the blob) names content
    that no commit's paths tell of: the history is then unknown.
    """
    out = run_git(
        git_dir,
        ["for-each-ref", "--format=%(objecttype) %(*objecttype)"],
        HISTORY_MAX_BYTES,
        HISTORY_TIMEOUT,
    )
    if out is None:
        return False
    return all(line in (b"commit ", b"tag commit") for line in out.splitlines())


def _list(git_dir: str) -> History | None:
    common = common_dir(git_dir)
    if common is None or os.path.lexists(os.path.join(common, "info", "grafts")):
        return None  # grafts give commits parents the listing may not see
    if not _refs_are_commits(git_dir):
        return None
    out = run_git(git_dir, _LIST_ARGS, HISTORY_MAX_BYTES, HISTORY_TIMEOUT)
    parsed = None if out is None else parse_listing(out)
    if parsed is None:
        return None
    commits, paths = parsed
    names = (p.decode("utf-8", "surrogateescape") for p in paths)
    secrets = sorted(n.lower() for n in names if is_secret_path(n))
    return History(tuple(secrets), frozenset(commits))


_KEY_FILES = ("HEAD", "packed-refs", "shallow", "config", "config.worktree", "commondir")
_KEY_TREES = ("refs", "logs", "reftable")


def _stat(path: str) -> tuple[int, int, int] | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


def state_key(git_dir: str) -> tuple[object, ...] | None:
    """What the history listing of `git_dir` depends on, as a comparable value.

    Args:
        git_dir: The git directory.

    Returns:
        The (path, mtime, size, inode) of every file and directory that can
        change which commits git reaches by a name, or None when there are more
        than `STATE_MAX_FILES` of them or the common directory is unknown.
    """
    common = common_dir(git_dir)
    if common is None:
        return None
    dirs = [git_dir, common]
    worktrees = os.path.join(common, "worktrees")
    with contextlib.suppress(OSError):
        dirs += sorted(e.path for e in os.scandir(worktrees) if e.is_dir(follow_symlinks=False))
    key: list[object] = []
    files = [os.path.join(common, "objects", "info", "alternates")]
    for directory in dict.fromkeys(dirs):
        files += [os.path.join(directory, name) for name in _KEY_FILES]
        for tree in _KEY_TREES:
            for root, subdirs, names in os.walk(os.path.join(directory, tree)):
                subdirs.sort()
                key.append((root, _stat(root)))
                files += [os.path.join(root, n) for n in sorted(names)]
                if len(files) > STATE_MAX_FILES:
                    return None
    key += [(path, _stat(path)) for path in files]
    return tuple(key)


_cache: SignedCache[History | None] = SignedCache(_CACHE_SIZE)
_repo_locks_lock = threading.Lock()
_repo_locks: dict[str, threading.Lock] = {}


def history(git_dir: str) -> History | None:
    """What the history of the repository `git_dir` holds (cached while it is unchanged).

    Args:
        git_dir: The real path of the git directory.

    Returns:
        The history, or None when it cannot be known: git is missing, fails
        (an unsafe or unknown repository, missing objects) or takes too long,
        its output is too long, a ref names a blob or tree, the repository has
        grafts, or too many ref files to key the cache.
    """
    key = state_key(git_dir)
    if key is None:
        return None
    with _repo_locks_lock:
        lock = _repo_locks.setdefault(git_dir, threading.Lock())
    with lock:  # one listing per repository at a time; the others wait for it
        if (cached := _cache.lookup(git_dir, key)) is not None:
            return cached[0]
        found = _list(git_dir)
        _cache.store(git_dir, key, found)
        return found


def clear_cache() -> None:
    """Forget every cached history (for tests and benchmarks)."""
    _cache.clear()


def objects_named(git_dir: str, prefix: str) -> tuple[str, ...] | None:
    """Every object (of any type, reachable or not) whose id starts with `prefix`.

    Not cached: a new object can make an abbreviation name something else.

    Args:
        git_dir: The git directory.
        prefix: 4 to 64 lower-case hex digits.

    Returns:
        Their full ids, or None when `prefix` is no such abbreviation or git fails.
    """
    if not _HEX_PREFIX.fullmatch(prefix):
        return None
    out = run_git(
        git_dir, ["rev-parse", f"--disambiguate={prefix}"], LOOKUP_MAX_BYTES, LOOKUP_TIMEOUT
    )
    if out is None:
        return None
    ids = tuple(out.decode("ascii", "replace").split())
    return ids if all(_HEX_ID.fullmatch(i.encode()) for i in ids) else None
