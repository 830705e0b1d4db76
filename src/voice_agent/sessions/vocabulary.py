"""The words a session is likely to hear: names from its directory and its recent tool calls.

The speech engine is primed with these (:mod:`voice_agent.speech.vocabulary`) and
the transcript is corrected towards them (:mod:`voice_agent.speech.correction`), so
"open client dot py" comes out as ``client.py`` in a project that has one.

:func:`directory_terms` reads only names and a few small manifests of the working
directory, ranked most specific first:

1. the project's own names (``pyproject.toml``, ``package.json``, ``Cargo.toml``);
2. the current git branch;
3. declared scripts: ``[project.scripts]``, ``package.json`` scripts, ``Makefile``
   targets, Cargo binaries;
4. top-level file and directory names, kept whole (``client.py``, ``pyproject.toml``);
5. declared dependencies (PEP 621, Poetry, npm, Cargo);
6. the other git branches and the remotes' names;
7. the words inside the names above (``test_invoices.py`` → ``invoices``).

Nothing is executed (no ``git``, no build tool): git names come from ``.git/HEAD``,
``.git/refs`` and ``packed-refs``, never ``.git/config``. A name that looks like a
secret (:func:`voice_agent.policy.secret_names.is_secret_path`) is never offered, and a
manifest that is a link out of the directory, or to a secret, is not read. Results are
cached per directory and recomputed when the directory's or a manifest's mtime changes
(a few ``stat`` calls); call it off the event loop (``asyncio.to_thread``).

:class:`RecentTerms` keeps the program and file names of a session's recent tool
calls (``ruff check``, ``client.py``).
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import re
import shlex
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from more_itertools import unique_everseen

from voice_agent.policy.secret_names import is_secret_path, secret_name
from voice_agent.policy.signed_cache import SignedCache

T = TypeVar("T")

MAX_TERMS = 200
"""The most terms :func:`directory_terms` returns."""

_NAME = re.compile(r"^(?=.*[A-Za-z])(?=.{2,40}$)[\w.+/-]+(?: [\w.+/-]+){0,2}$")
_WORD = re.compile(r"[A-Za-z][a-z]+|[A-Z]+(?![a-z])")
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_MAKE_TARGET = re.compile(r"^([A-Za-z][\w.-]*)\s*:(?!=)", re.MULTILINE)
_FILE_LIKE = re.compile(r"^[\w.+-]+\.[A-Za-z][A-Za-z0-9]{0,5}$")
_SKIPPED = frozenset({"__pycache__", "__init__.py", "node_modules", "dist", "build", "site"})
_MANIFESTS = ("pyproject.toml", "package.json", "Cargo.toml", "Makefile", "makefile")
_MAX_METADATA_BYTES = 256 * 1024
_MAX_ENTRIES_SCANNED = 400
_MAX_BRANCHES = 20
_MAX_DEPENDENCIES = 60
_CACHE_SIZE = 32
_FILE_TOOLS = ("Read", "Edit", "MultiEdit", "Write", "NotebookEdit")
_SHELL_SEPARATORS = frozenset({"&&", "||", "|", ";", "&", "(", ")"})


def directory_terms(cwd: str | None) -> tuple[str, ...]:
    """Names a session working in ``cwd`` is likely to say, most specific first.

    Args:
        cwd: The session's working directory, or None.

    Returns:
        At most :data:`MAX_TERMS` distinct names (compared case-insensitively); empty
        for None or an unreadable directory. Never raises.
    """
    if not cwd:
        return ()
    root = Path(cwd)
    key = str(root)
    signature = _signature(root)
    if (cached := _cache.lookup(key, signature)) is not None:
        return cached[0]
    terms = tuple(unique(t for t in _gather(root) if allowed(t))[:MAX_TERMS])
    _cache.store(key, signature, terms)
    return terms


def session_terms(
    cwd: str | None, names: Sequence[str] = (), recent: Sequence[str] = ()
) -> list[str]:
    """The session's own words: its names, its recent tool calls, then its directory's.

    Args:
        cwd: The working directory.
        names: Configured project names and the session's name.
        recent: Terms from recent tool calls (:meth:`RecentTerms.terms`), newest first.

    Returns:
        Distinct terms, none of them secret-looking, most specific first.
    """
    chosen = (t for t in itertools.chain(names, recent, directory_terms(cwd)) if allowed(t))
    return unique(chosen)


def allowed(term: str) -> bool:
    """Whether ``term`` may be offered as a hint: a plain name that does not look secret."""
    return bool(_NAME.match(term)) and not is_secret_path(term)


def unique(words: Iterable[str]) -> list[str]:
    """``words`` without repeats (compared case-insensitively) or empty strings, in order."""
    return list(unique_everseen(filter(None, words), key=str.casefold))


def words_in(name: str) -> list[str]:
    """The words inside a name: ``test_invoice-export.py`` → test, invoice, export, py.

    camelCase is split too (``WebConsole`` → Web, Console).
    """
    return _WORD.findall(name)


class RecentTerms:
    """The program and file names of one session's recent tool calls, newest first.

    Only names are kept: the programs run (``ruff``, ``ruff check``, ``pytest``), the
    files touched (``client.py``). Option values, ``VAR=value`` assignments, patterns
    and anything secret-looking are dropped.

    Args:
        size: How many terms to keep.
    """

    def __init__(self, size: int = 40) -> None:
        self._terms: collections.deque[str] = collections.deque(maxlen=size)

    def add(self, tool: str, tool_input: Mapping[str, Any]) -> None:
        """Remember the names in one tool call.

        Args:
            tool: The tool's name (``Bash``, ``Read``…).
            tool_input: Its input.
        """
        for term in reversed(tool_terms(tool, tool_input)):
            if term in self._terms:
                self._terms.remove(term)
            self._terms.appendleft(term)

    def terms(self) -> list[str]:
        """The terms, newest first."""
        return list(self._terms)


def tool_terms(tool: str, tool_input: Mapping[str, Any]) -> list[str]:
    """The program and file names in one tool call (see :class:`RecentTerms`).

    Args:
        tool: The tool's name.
        tool_input: Its input.

    Returns:
        Allowed terms (:func:`allowed`), in the order they appear.
    """
    found: list[str] = []
    if tool == "Bash" and isinstance(command := tool_input.get("command"), str):
        found = _command_terms(command)
    elif tool in _FILE_TOOLS:
        path = tool_input.get("file_path") or tool_input.get("notebook_path")
        if isinstance(path, str) and not is_secret_path(path):
            found = _file_terms(Path(path).name)
    return unique(t for t in found if allowed(t))


def _command_terms(command: str) -> list[str]:
    try:
        tokens = shlex.split(command[:2000], comments=True)
    except ValueError:
        tokens = command[:2000].split()
    found: list[str] = []
    segment_start = True
    program: str | None = None
    for token in tokens:
        if token in _SHELL_SEPARATORS:
            segment_start, program = True, None
            continue
        if "=" in token or token.startswith("-"):
            continue  # an assignment or an option: values may be secret
        if is_secret_path(token):
            segment_start = False
            continue
        if segment_start:
            program = Path(token).name
            found.append(program)
            segment_start = False
        elif program is not None and token.isalpha() and token.islower() and len(token) <= 20:
            found.append(f"{program} {token}")  # a subcommand: "ruff check", "npm run"
            program = None
        elif "/" in token or _FILE_LIKE.match(token):
            found.extend(_file_terms(Path(token).name))
    return found


def _file_terms(name: str) -> list[str]:
    if not name or secret_name(name.lower()):
        return []
    return [name]  # the stem is among the directory's terms, further down


_cache: SignedCache[tuple[str, ...]] = SignedCache(_CACHE_SIZE)


def _signature(root: Path) -> tuple[object, ...]:
    """What changes when a name would: the mtimes of the directory, manifests and git refs."""
    git = _git_dir(root)
    paths = [root, *(root / m for m in _MANIFESTS)]
    if git is not None:
        paths += [git / "HEAD", git / "packed-refs", git / "refs" / "heads", git / "refs/remotes"]
    stamps: list[object] = []
    for path in paths:
        try:
            status = path.stat()
            stamps.append((status.st_mtime_ns, status.st_size))
        except (OSError, ValueError):
            stamps.append(None)
    return tuple(stamps)


def _gather(root: Path) -> Iterator[str]:
    manifests = _Manifests(root)
    no_dir: Path | None = None
    no_names: list[str] = []
    git = _guarded(lambda: _git_dir(root), no_dir)
    entries = _guarded(lambda: list(_entry_names(root)), no_names)
    branches = _guarded(lambda: list(_branch_names(git)) if git else [], no_names)
    whole: list[str] = [
        *manifests.names(),
        *branches[:1],
        *manifests.scripts(),
        *entries,
        *manifests.dependencies()[:_MAX_DEPENDENCIES],
        *branches[1:],
        *_guarded(lambda: list(_remote_names(git)) if git else [], no_names),
    ]
    yield from whole
    for name in whole:
        stem = name.split(".", 1)[0]
        if stem != name and stem:
            yield stem
    for name in whole:
        yield from (w for w in words_in(name) if len(w) >= 3)


def _guarded(compute: Callable[[], T], fallback: T) -> T:
    """``compute()``, or ``fallback`` when the file system or a file's syntax says no."""
    try:
        result: T = compute()
    except (OSError, ValueError, TypeError, AttributeError, RecursionError):
        return fallback
    return result


class _Manifests:
    """The parsed ``pyproject.toml``, ``package.json``, ``Cargo.toml`` and ``Makefile``."""

    def __init__(self, root: Path) -> None:
        empty: dict[str, Any] = {}
        self.pyproject = _guarded(lambda: _toml(root, "pyproject.toml"), empty)
        self.cargo = _guarded(lambda: _toml(root, "Cargo.toml"), empty)
        self.package = _guarded(lambda: _json(root, "package.json"), empty)
        nothing: str | None = None
        make = _guarded(lambda: _small_text(root, "Makefile"), nothing)
        if make is None:
            make = _guarded(lambda: _small_text(root, "makefile"), nothing)
        self.makefile = make or ""

    def names(self) -> list[str]:
        project = _table(self.pyproject, "project")
        poetry = _table(_table(self.pyproject, "tool"), "poetry")
        package = self.package.get("name")
        return _strings(
            project.get("name"),
            poetry.get("name"),
            package.rsplit("/", 1)[-1] if isinstance(package, str) else None,
            _table(self.cargo, "package").get("name"),
        )

    def scripts(self) -> list[str]:
        project = _table(self.pyproject, "project")
        poetry = _table(_table(self.pyproject, "tool"), "poetry")
        bins = self.cargo.get("bin")
        cargo_bins = (
            [b.get("name") for b in bins if isinstance(b, dict)] if isinstance(bins, list) else []
        )
        targets = [t for t in _MAKE_TARGET.findall(self.makefile) if not t.startswith(".")]
        return _strings(
            *_table(project, "scripts"),
            *_table(poetry, "scripts"),
            *_table(self.package, "scripts"),
            *targets,
            *cargo_bins,
        )

    def dependencies(self) -> list[str]:
        project = _table(self.pyproject, "project")
        poetry = _table(_table(self.pyproject, "tool"), "poetry")
        specs: list[object] = list(_list(project.get("dependencies")))
        for extra in _table(project, "optional-dependencies").values():
            specs.extend(_list(extra))
        for group in _table(self.pyproject, "dependency-groups").values():
            specs.extend(s for s in _list(group) if isinstance(s, str))
        names = [m.group(1) for s in specs if isinstance(s, str) and (m := _REQUIREMENT.match(s))]
        names += [n for n in _table(poetry, "dependencies") if n != "python"]
        for field in ("dependencies", "devDependencies", "peerDependencies"):
            names += [n.rsplit("/", 1)[-1] for n in _table(self.package, field)]
        for field in ("dependencies", "dev-dependencies", "build-dependencies"):
            names += list(_table(self.cargo, field))
        return _strings(*names)


def _table(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def _strings(*values: object) -> list[str]:
    return [v for v in values if isinstance(v, str) and v]


def _toml(root: Path, name: str) -> dict[str, Any]:
    text = _small_text(root, name)
    return tomllib.loads(text) if text is not None else {}


def _json(root: Path, name: str) -> dict[str, Any]:
    text = _small_text(root, name)
    data = json.loads(text) if text is not None else {}
    return data if isinstance(data, dict) else {}


def _small_text(root: Path, name: str) -> str | None:
    """A small manifest's text: a regular file inside ``root``, not a link to a secret."""
    path = root / name
    if not path.is_file():
        return None
    real = path.resolve()
    if real.parent != root.resolve() or is_secret_path(str(real)):
        return None
    if real.stat().st_size > _MAX_METADATA_BYTES:
        return None
    return real.read_text(encoding="utf-8")


def _git_dir(root: Path) -> Path | None:
    dot_git = root / ".git"
    try:
        if dot_git.is_dir():
            return dot_git
        if not dot_git.is_file() or dot_git.stat().st_size > 4096:
            return None
        pointer = dot_git.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None
    if pointer.startswith("gitdir:"):
        target = Path(pointer.removeprefix("gitdir:").strip())
        return target if target.is_absolute() else root / target
    return None


def _git_text(path: Path) -> str | None:
    if not path.is_file() or path.stat().st_size > _MAX_METADATA_BYTES:
        return None
    return path.read_text(encoding="utf-8", errors="replace")


def _branch_names(git: Path) -> Iterator[str]:
    """The current branch first, then the others (loose refs, then packed ones)."""
    head = _git_text(git / "HEAD") or ""
    if head.startswith("ref: refs/heads/"):
        yield head.removeprefix("ref: refs/heads/").strip()
    loose = _loose_refs(git / "refs" / "heads")
    packed = (
        line.split(" refs/heads/", 1)[1].strip()
        for line in (_git_text(git / "packed-refs") or "").splitlines()
        if " refs/heads/" in line
    )
    for branch in itertools.islice(itertools.chain(loose, packed), _MAX_BRANCHES):
        yield branch
        if "/" in branch:
            yield branch.rsplit("/", 1)[-1]


def _loose_refs(heads: Path) -> list[str]:
    """The branch files under ``refs/heads``, never through a symbolic link.

    A repository may link ``refs/heads`` (or a folder in it) to any directory, a
    password store for one: its file names must never become speech hints.
    """
    if not _real_dir(heads):
        return []
    found: list[str] = []
    for folder, folders, files in os.walk(heads):  # os.walk never follows links
        folders[:] = sorted(f for f in folders if _real_dir(Path(folder) / f))
        for name in sorted(files):
            if not (Path(folder) / name).is_symlink():
                found.append((Path(folder) / name).relative_to(heads).as_posix())
        if len(found) >= _MAX_BRANCHES:
            break
    return found[:_MAX_BRANCHES]


def _remote_names(git: Path) -> Iterator[str]:
    """Remote names from the ``refs/remotes`` directories (``origin``, ``upstream``)."""
    remotes = git / "refs" / "remotes"
    if _real_dir(remotes):
        with os.scandir(remotes) as entries:
            names = [e.name for e in itertools.islice(entries, _MAX_ENTRIES_SCANNED)]
        yield from sorted(n for n in names if _real_dir(remotes / n))


def _real_dir(path: Path) -> bool:
    """Whether ``path`` is a directory and not a symbolic link to one."""
    return path.is_dir() and not path.is_symlink()


def _entry_names(root: Path) -> Iterator[str]:
    with os.scandir(root) as entries:
        names = sorted(entry.name for entry in itertools.islice(entries, _MAX_ENTRIES_SCANNED))
    for name in names:
        if name.startswith(".") or name in _SKIPPED or name.endswith((".pyc", ".egg-info")):
            continue
        if secret_name(name.lower()):
            continue
        yield name
