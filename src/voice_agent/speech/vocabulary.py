"""The words a developer says that small speech models get wrong, and a prompt built from them.

Whisper reads an initial prompt as the text said just before the audio, so naming
``pytest``, ``mypy`` or the project's own file names there makes the model spell them
right. :func:`vocabulary_for` puts the session's own terms (gathered by
:mod:`voice_agent.sessions.vocabulary`) before the built-in list;
:func:`initial_prompt` turns them into a prompt within Whisper's limit (faster-whisper
keeps at most 223 tokens of ``hotwords`` or prompt: ``max_length // 2 - 1``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from more_itertools import unique_everseen

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


PROMPT_SESSION_TERMS = 12
"""How many of the session's terms lead the prompt (``bench.voice`` chose it)."""


def vocabulary_for(
    specific: Sequence[str] | None = None,
    limit: int = 240,
    first: int = PROMPT_SESSION_TERMS,
) -> list[str]:
    """Words to prime and correct the speech engine with: the session's and ours.

    The prompt (:func:`initial_prompt`) keeps only the first 60 or so words, so the
    order matters: the session's ``first`` most specific terms, then
    :data:`DEVELOPER_WORDS`, then the rest of the session's terms (which only the
    correction uses). More session terms in the prompt, or only the unusual ones,
    made the small model write them where they were not said (``bench.voice``).

    Args:
        specific: The session's terms, most specific first
            (:func:`voice_agent.sessions.vocabulary.session_terms`); None or empty
            for the built-in words alone.
        limit: The most words returned.
        first: How many session terms go before the built-in words.

    Returns:
        Distinct words (compared case-insensitively).
    """
    chosen = _unique(w.strip() for w in specific or () if w.strip())
    words = [*chosen[: max(0, first)], *DEVELOPER_WORDS, *chosen[max(0, first) :]]
    return _unique(words)[: max(0, limit)]


def initial_prompt(words: Sequence[str]) -> str:
    """A sentence naming the words, short enough for Whisper's 224-token prompt.

    Args:
        words: The vocabulary, most important first; words that do not fit are left out.

    Returns:
        The prompt, or ``""`` when there are no words.
    """
    chosen = prompt_words(words)
    if not chosen:
        return ""
    return _PROMPT_OPENING + ", ".join(chosen) + "."


def prompt_words(words: Sequence[str]) -> list[str]:
    """The words of ``words`` that :func:`initial_prompt` names, in order.

    Args:
        words: The vocabulary, most important first.

    Returns:
        The leading distinct words that fit in the prompt's token budget.
    """
    chosen: list[str] = []
    budget = _PROMPT_TOKEN_BUDGET - _estimated_tokens(_PROMPT_OPENING)
    for word in _unique(w.strip() for w in words if w.strip()):
        cost = _estimated_tokens(word) + 1  # the comma
        if cost > budget:
            break
        chosen.append(word)
        budget -= cost
    return chosen


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
    """``words`` without repeats (compared case-insensitively) or empty strings, in order."""
    return list(unique_everseen(filter(None, words), key=str.casefold))
