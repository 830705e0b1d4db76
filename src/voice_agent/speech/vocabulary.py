"""The words a developer says that small speech models get wrong, and a prompt built from them.

Whisper reads an initial prompt as the text said just before the audio, so naming
``pytest``, ``mypy`` or the project's own file names there makes the model spell them
right. :func:`vocabulary_for` gathers the built-in list and names from the working
directory; :func:`initial_prompt` turns them into a prompt within Whisper's limit.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

DEVELOPER_WORDS: tuple[str, ...] = tuple(
    word.strip()
    for word in """
    pytest, mypy, ruff, kubectl, pyproject.toml, npm, pnpm, yarn, uv, venv, pip, git, rebase,
    stash, diff, repo, README, JSON, YAML, TOML, Dockerfile, docker compose, FastAPI, Django,
    pydantic, asyncio, TypeScript, tsconfig, eslint, prettier, webpack, vite, Claude, Anthropic,
    Telegram, approve, reject, lint, refactor, linter, localhost, env, .env, CLI, API, SQL,
    SQLite, Postgres, Redis, nginx, systemd, cron, SSH, sudo, chmod, grep, sed, awk, regex,
    stdout, stderr, PR, CI, GitHub, GitLab, commit, branch, merge, main, checkout, cherry-pick,
    pull request, push, Python, JavaScript, Node.js, npx, node_modules, package.json, Makefile,
    Kubernetes, Helm, Terraform, Docker, pod, namespace, Markdown, changelog, config, dotenv,
    async, await, mock, fixture, coverage, flake8, black, isort, Poetry, conda, Jupyter, NumPy,
    pandas, React, Next.js, Vue, Tailwind, GraphQL, REST, gRPC, OAuth, JWT, webhook, endpoint,
    middleware, traceback, stack trace, debug, bash, zsh, curl, Rust, Cargo, Go, HTTP, URL,
    tmux, vim
    """.split(",")
)
"""About 130 tool and file names, most important first (a prompt keeps about the first 65)."""

_PROMPT_OPENING = "Claude, please use "
_PROMPT_TOKEN_BUDGET = 200  # Whisper keeps at most 223 prompt tokens; leave some room.
_NAME = re.compile(r"^(?=.*[A-Za-z])[\w.+/-]{2,40}$")
_SKIPPED = frozenset({"__pycache__", "__init__.py", "node_modules", "dist", "build", "site"})
_MAX_METADATA_BYTES = 256 * 1024
_MAX_ENTRIES_SCANNED = 400
_MAX_BRANCHES = 20


def vocabulary_for(cwd: str | None, extra: Sequence[str] = (), limit: int = 120) -> list[str]:
    """Words to prime the speech engine with for a session in ``cwd``.

    ``extra`` comes first, then the project's name, its git branches and top-level file
    and directory names (with their stems) — at most half of ``limit`` — then
    :data:`DEVELOPER_WORDS`. Only directory entries and small metadata files
    (``pyproject.toml``, ``package.json``, ``.git/HEAD``, ``.git/refs/heads``) are read.

    Args:
        cwd: The session's working directory, or None.
        extra: Words to put first (project names from the settings, for example).
        limit: The most words returned.

    Returns:
        Distinct words (compared case-insensitively), most specific first. Never
        raises: an unreadable directory just gives the built-in words.
    """
    specific = _unique([*extra, *_names_in(cwd)])[: max(0, limit // 2)]
    return _unique([*specific, *DEVELOPER_WORDS])[: max(0, limit)]


def initial_prompt(words: Sequence[str]) -> str:
    """A sentence naming the words, short enough for Whisper's 224-token prompt.

    Args:
        words: The vocabulary, most important first; words that do not fit are left out.

    Returns:
        The prompt, or ``""`` when there are no words.
    """
    chosen: list[str] = []
    budget = _PROMPT_TOKEN_BUDGET - _estimated_tokens(_PROMPT_OPENING)
    for word in _unique(w.strip() for w in words if w.strip()):
        cost = _estimated_tokens(word) + 1  # the comma
        if cost > budget:
            break
        chosen.append(word)
        budget -= cost
    if not chosen:
        return ""
    return _PROMPT_OPENING + ", ".join(chosen) + "."


def _estimated_tokens(text: str) -> int:
    """A safe over-estimate of Whisper's byte-level BPE tokens for a name."""
    count = 0
    for piece in re.findall(r"[A-Za-z]+|\d+|\S", text):
        if piece.isascii() and piece.isalpha():
            count += 1 + len(piece) // 4
        elif piece.isdigit():
            count += 1 + len(piece) // 3
        else:
            count += len(piece.encode("utf-8"))
    return count


def _unique(words: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    kept: list[str] = []
    for word in words:
        key = word.casefold()
        if word and key not in seen:
            seen.add(key)
            kept.append(word)
    return kept


def _names_in(cwd: str | None) -> list[str]:
    if not cwd:
        return []
    root = Path(cwd)
    names: list[str] = []
    for source in (_project_names, _branch_names, _entry_names):
        try:
            names.extend(name for name in source(root) if _NAME.match(name))
        except (OSError, ValueError):  # unreadable or malformed: skip that source
            continue
    return names


def _project_names(root: Path) -> Iterator[str]:
    pyproject = _small_text(root / "pyproject.toml")
    if pyproject is not None:
        data = tomllib.loads(pyproject)
        for table in (data.get("project"), data.get("tool", {}).get("poetry")):
            if isinstance(table, dict) and isinstance(table.get("name"), str):
                yield table["name"]
    package = _small_text(root / "package.json")
    if package is not None:
        data = json.loads(package)
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            yield data["name"].rsplit("/", 1)[-1]


def _branch_names(root: Path) -> Iterator[str]:
    git = _git_dir(root)
    if git is None:
        return
    head = _small_text(git / "HEAD") or ""
    if head.startswith("ref: refs/heads/"):
        yield head.removeprefix("ref: refs/heads/").strip()
    heads = git / "refs" / "heads"
    found = (
        path.relative_to(heads).as_posix() for path in sorted(heads.rglob("*")) if path.is_file()
    )
    for branch in itertools.islice(found, _MAX_BRANCHES):
        yield branch
        if "/" in branch:
            yield branch.rsplit("/", 1)[-1]


def _git_dir(root: Path) -> Path | None:
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git
    pointer = _small_text(dot_git) if dot_git.is_file() else None
    if pointer and pointer.startswith("gitdir:"):
        target = Path(pointer.removeprefix("gitdir:").strip())
        return target if target.is_absolute() else root / target
    return None


def _entry_names(root: Path) -> Iterator[str]:
    with os.scandir(root) as entries:
        names = sorted(entry.name for entry in itertools.islice(entries, _MAX_ENTRIES_SCANNED))
    for name in names:
        if name.startswith(".") or name in _SKIPPED or name.endswith((".pyc", ".egg-info")):
            continue
        yield name
        stem = name.split(".", 1)[0]
        if stem != name:
            yield stem


def _small_text(path: Path) -> str | None:
    """A small file's text, or None when it is missing or larger than metadata should be."""
    if not path.is_file() or path.stat().st_size > _MAX_METADATA_BYTES:
        return None
    return path.read_text(encoding="utf-8")
