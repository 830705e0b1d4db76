"""The jail: what a command that runs without asking can touch (the second wall).

The checker (:mod:`voice_agent.policy.bash`) decides which Bash commands may run
without asking; the jail bounds what such a command can do if the checker was wrong.
Every auto-approved Bash command is rewritten (through the ``PreToolUse`` hook's
updated input) to run under bubblewrap:

* the system directories (``/usr``, ``/etc``, the ``/lib`` and ``/bin`` links) are
  read-only, and the files in ``/etc`` that are not world-readable (``/etc/shadow``,
  ssh host keys, …) or look secret are masked (an empty file or directory);
* the working directory and the extra roots are read-only, with their
  secret-looking files masked (``.env``, keys, credentials, …);
* the home directory is an empty one, ``/tmp`` is an empty tmpfs, nothing else of
  the file system is there;
* its own user, PID, IPC, UTS, cgroup and network namespaces (no network at all),
  a new session (no terminal injection), and it dies with its parent;
* a clean environment (no tokens or keys of voice-agent or Claude Code), git told
  to refuse bare repositories and to run no fsmonitor, pager, hook or credential
  helper (git has no setting that unsets a repository's ``diff.external``: the
  checker refuses such repositories, and what it runs stays in the jail);
* a time limit and an output limit.

Commands the user approved run as the user, outside the jail. When bubblewrap
cannot start here, the jail is *unavailable*: nothing runs unasked except
commands that touch no file at all (``echo``, ``pwd``, …), unless the user chose
checker-only (``JAIL=checker-only``).
"""

from __future__ import annotations

import functools
import logging
import os
import shlex
import shutil
import stat
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from voice_agent.policy import bash_parse
from voice_agent.policy.paths import is_secret_path

__all__ = [
    "DEFAULT_OUTPUT_LIMIT",
    "DEFAULT_TIME_LIMIT",
    "Jail",
    "JailMode",
    "default_jail",
    "needs_no_files",
]

logger = logging.getLogger(__name__)

DEFAULT_TIME_LIMIT = 120.0
"""Seconds an auto-approved command may run."""
DEFAULT_OUTPUT_LIMIT = 4 * 1024 * 1024
"""Bytes of output (stdout and stderr together) an auto-approved command may print."""
MASK_SCAN_LIMIT = 100_000
"""Most entries of a working directory scanned for secrets to mask; beyond, ask."""

_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
_JAIL_HOME = "/tmp/home"
_GIT_CONFIG = (
    ("safe.bareRepository", "explicit"),
    ("core.fsmonitor", "false"),
    ("core.hooksPath", "/dev/null"),
    ("core.pager", "cat"),
    ("protocol.allow", "never"),
    ("credential.helper", ""),
)
_NO_FILE_PROGRAMS = frozenset(
    "echo printf true false pwd date uname whoami id basename dirname".split()
)


class JailMode(StrEnum):
    """How unasked commands are contained.

    Attributes:
        BWRAP: Under bubblewrap (the default).
        CHECKER_ONLY: As the user, trusting the checker alone (a knowing choice).
    """

    BWRAP = "bwrap"
    CHECKER_ONLY = "checker-only"


def needs_no_files(command: str) -> bool:
    """Whether a command touches no file at all (runs unasked even without a jail).

    Args:
        command: The Bash command.

    Returns:
        True when every simple command is one of ``echo``, ``printf``, ``true``,
        ``false``, ``pwd``, ``date``, ``uname``, ``whoami``, ``id``, ``basename``,
        ``dirname`` with no input redirection.
    """
    commands = bash_parse.parse_script(command)
    if not commands:
        return False
    return all(c.argv[0] in _NO_FILE_PROGRAMS and not c.inputs for c in commands)


@dataclass
class _Scan:
    """The secret entries found under one root, and the directories that were read."""

    masks: tuple[tuple[str, bool], ...]  # (path, is_dir)
    dirs: dict[str, int] = field(default_factory=dict)  # path -> st_mtime_ns


def _scan(root: str, limit: int) -> _Scan | None:
    """Walk `root` (never following links, skipping nothing); None if over `limit`."""
    masks: list[tuple[str, bool]] = []
    dirs: dict[str, int] = {}
    pending = [root]
    count = 0
    while pending:
        directory = pending.pop()
        try:
            dirs[directory] = os.stat(directory).st_mtime_ns
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            count += 1
            if count > limit:
                return None
            if entry.is_symlink():
                continue  # a link's target is judged where it lands (outside: not there)
            is_dir = entry.is_dir(follow_symlinks=False)
            if is_secret_path(entry.name) or is_secret_path(os.path.relpath(entry.path, root)):
                masks.append((entry.path, is_dir))
            elif is_dir:
                pending.append(entry.path)
    return _Scan(tuple(sorted(masks)), dirs)


def _still_valid(scan: _Scan) -> bool:
    try:
        return all(os.stat(d).st_mtime_ns == m for d, m in scan.dirs.items())
    except OSError:
        return False


def _etc_masks() -> list[tuple[str, bool]]:
    """Entries of ``/etc`` a jailed command must not read: not world-readable, or secret."""
    out: list[tuple[str, bool]] = []
    for dirpath, dirnames, filenames in os.walk("/etc"):
        for name in [*dirnames, *filenames]:
            path = os.path.join(dirpath, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISLNK(info.st_mode):
                continue
            is_dir = stat.S_ISDIR(info.st_mode)
            hidden = not info.st_mode & stat.S_IROTH
            if hidden or is_secret_path(name):
                out.append((path, is_dir))
        dirnames[:] = [d for d in dirnames if (os.path.join(dirpath, d), True) not in out]
    return out


class Jail:
    """Rewrites auto-approved Bash commands to run under bubblewrap.

    Attributes:
        mode: How unasked commands are contained.
        time_limit: Seconds a jailed command may run.
        output_limit: Bytes of output a jailed command may print.
    """

    def __init__(
        self,
        mode: JailMode = JailMode.BWRAP,
        *,
        bwrap: str | None = None,
        time_limit: float = DEFAULT_TIME_LIMIT,
        output_limit: int = DEFAULT_OUTPUT_LIMIT,
        scan_limit: int = MASK_SCAN_LIMIT,
    ) -> None:
        """Create a jail; bubblewrap is found on ``PATH`` unless `bwrap` names it.

        Args:
            mode: ``JailMode.BWRAP`` or ``JailMode.CHECKER_ONLY``.
            bwrap: The bubblewrap program (default: ``bwrap`` on ``PATH``).
            time_limit: Seconds a jailed command may run.
            output_limit: Bytes of output a jailed command may print.
            scan_limit: Most entries of a root scanned for secrets to mask.
        """
        self.mode = mode
        self.time_limit = time_limit
        self.output_limit = output_limit
        self._scan_limit = scan_limit
        self._bwrap = bwrap or shutil.which("bwrap")
        self._timeout = shutil.which("timeout")
        self._head = shutil.which("head")
        self._env = shutil.which("env") or "/usr/bin/env"
        self._bash = shutil.which("bash", path="/usr/bin:/bin") or "/bin/bash"
        self._lock = threading.Lock()
        self._scans: dict[str, _Scan] = {}
        self._etc: list[tuple[str, bool]] | None = None
        self._empty: tuple[str, str] | None = None
        self._problem: str | None = None
        self._checked = False

    # -- availability --------------------------------------------------------

    @property
    def problem(self) -> str | None:
        """Why the jail cannot run commands here (None when it can), with the fix."""
        self._check()
        return self._problem

    @property
    def works(self) -> bool:
        """Whether auto-approved commands run under bubblewrap."""
        return self.mode is JailMode.BWRAP and self.problem is None

    def _check(self) -> None:
        with self._lock:
            if self._checked:
                return
            self._checked = True
            self._problem = self._probe()
        if self._problem is not None and self.mode is JailMode.BWRAP:
            logger.warning("the jail cannot run here: %s", self._problem)

    def _probe(self) -> str | None:
        if self._bwrap is None:
            return "bubblewrap is not installed (apt install bubblewrap)"
        if self._timeout is None or self._head is None:
            return "coreutils timeout and head are missing"
        args = [self._bwrap, *self._base_args(), "--", "/bin/true"]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"bubblewrap did not start: {exc}"
        if done.returncode != 0:
            detail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
            return (
                f"bubblewrap cannot create its namespaces: {detail[0]} (allow unprivileged "
                "user namespaces, e.g. sysctl kernel.unprivileged_userns_clone=1, or on "
                "Ubuntu an AppArmor profile for bwrap; or set JAIL=checker-only knowingly)"
            )
        return None

    # -- the rewrite ---------------------------------------------------------

    def wrap(self, command: str, cwd: str, roots: Sequence[str] = ()) -> str | None:
        """The command to run instead of `command`, inside the jail.

        Args:
            command: The Bash command the checker approved.
            cwd: The session's working directory (where the checker assumed it runs).
            roots: Further directories the command may read.

        Returns:
            The jailed command line for Claude Code's shell, or None when the jail
            cannot contain it (bubblewrap missing, or a root too large to scan).
        """
        if not self.works or self._bwrap is None:
            return None
        real_cwd = os.path.realpath(cwd)
        real_roots = list(dict.fromkeys([real_cwd, *(os.path.realpath(r) for r in roots)]))
        args = [*self._base_args(), *self._etc_args()]
        for root in real_roots:
            masks = self._masks(root)
            if masks is None:
                return None
            args += ["--ro-bind", root, root, *self._mask_args(masks)]
        args += ["--chdir", real_cwd, "--", self._bash, "--noprofile", "--norc", "-c", command]
        # bwrap itself stays in the jail's PID namespace as its init: it gets no
        # environment either, or /proc/1/environ would show the bot's.
        jailed = shlex.join(
            [self._env, "-i", str(self._timeout), "-k", "2", f"{self.time_limit:g}", self._bwrap]
        )
        limit = shlex.join([str(self._head), "-c", str(self.output_limit)])
        return f"( set -o pipefail; {jailed} {shlex.join(args)} 2>&1 | {limit} )"

    def _base_args(self) -> list[str]:
        args: list[str] = []
        for path in _SYSTEM_DIRS:
            if path == "/etc":
                continue
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
        if os.path.isdir("/etc"):
            args += ["--ro-bind", "/etc", "/etc"]
        args += [
            "--proc", "/proc",
            "--dev", "/dev",
            "--tmpfs", "/tmp",
            "--dir", _JAIL_HOME,
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
        ]  # fmt: skip
        return args + self._env_args()

    def _env_args(self) -> list[str]:
        env = {
            "PATH": _jail_path(),
            "HOME": _JAIL_HOME,
            "TMPDIR": "/tmp",
            "TERM": "dumb",
            "LANG": os.environ.get("LANG") or "C.UTF-8",
            "PAGER": "cat",
            "GIT_PAGER": "cat",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_OPTIONAL_LOCKS": "0",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_COUNT": str(len(_GIT_CONFIG)),
        }
        for i, (key, value) in enumerate(_GIT_CONFIG):
            env[f"GIT_CONFIG_KEY_{i}"] = key
            env[f"GIT_CONFIG_VALUE_{i}"] = value
        return [a for name, value in env.items() for a in ("--setenv", name, value)]

    def _etc_args(self) -> list[str]:
        if self._etc is None:
            self._etc = _etc_masks()
        return self._mask_args(self._etc)

    def _masks(self, root: str) -> tuple[tuple[str, bool], ...] | None:
        with self._lock:
            cached = self._scans.get(root)
        if cached is not None and _still_valid(cached):
            return cached.masks
        scan = _scan(root, self._scan_limit)
        if scan is None:
            return None
        with self._lock:
            self._scans[root] = scan
        return scan.masks

    def _mask_args(self, masks: Sequence[tuple[str, bool]]) -> list[str]:
        empty_file, empty_dir = self._empties()
        out: list[str] = []
        for path, is_dir in masks:
            out += ["--ro-bind", empty_dir if is_dir else empty_file, path]
        return out

    def _empties(self) -> tuple[str, str]:
        """An empty file and directory to bind over masked paths (``/dev/null`` is a device)."""
        if self._empty is None:
            base = tempfile.mkdtemp(prefix="voice-agent-jail-")
            empty_file = os.path.join(base, "empty")
            empty_dir = os.path.join(base, "emptydir")
            with open(empty_file, "w"):
                pass
            os.mkdir(empty_dir)
            os.chmod(empty_file, 0o444)
            os.chmod(empty_dir, 0o555)
            self._empty = (empty_file, empty_dir)
        return self._empty


@functools.cache
def default_jail() -> Jail:
    """The process's bubblewrap jail with default limits (probed once, on first use)."""
    return Jail()


@functools.cache
def _jail_path() -> str:
    """``PATH`` inside the jail: the host's entries that the jail has, then the usual ones."""
    kept = [
        p
        for p in os.environ.get("PATH", "").split(os.pathsep)
        if os.path.isabs(p) and p.startswith(tuple(d + "/" for d in _SYSTEM_DIRS))
    ]
    usual = ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]
    return os.pathsep.join(dict.fromkeys([*kept, *usual]))
