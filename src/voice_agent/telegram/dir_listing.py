"""Which directories the directory keyboard may offer: inside the roots, none hidden or secret.

The roots are ``DEFAULT_CWD`` and the configured projects (``PROJECTS``), resolved.
A directory is offered only if its real path (symlinks resolved) lies inside a root
and no part of it below that root is hidden (``.git``, ``.ssh``…) or looks like a
secret (:func:`voice_agent.policy.secret_names.secret_name`): a symlink pointing out
of the roots is not offered, and ``..`` stops at a root. Typing ``/cwd /any/path``
(approvers only) stays the one way elsewhere.

Blocking file-system calls; the bot runs them in a thread. Listing a directory looks
at :data:`MAX_ENTRIES` names at most.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from voice_agent.policy.secret_names import secret_name

__all__ = ["MAX_ENTRIES", "Entry", "Roots", "page_of", "subdirectories"]

MAX_ENTRIES = 2000
"""The most names looked at in one directory (a huge one lists its first ones)."""

T = TypeVar("T")


@dataclass(frozen=True)
class Roots:
    """The directories the keyboard never leaves (resolved, the default one first).

    Attributes:
        paths: The roots, resolved, without duplicates.
    """

    paths: tuple[Path, ...]

    @classmethod
    def of(cls, default_cwd: Path | str, projects: Iterable[Path | str] = ()) -> Roots:
        """The roots for ``DEFAULT_CWD`` and the projects' directories.

        Args:
            default_cwd: ``DEFAULT_CWD``.
            projects: The configured projects' directories.
        """
        found: list[Path] = []
        for path in (default_cwd, *projects):
            real = Path(path).resolve()
            if real not in found:
                found.append(real)
        return cls(tuple(found))

    def root_of(self, path: Path) -> Path | None:
        """The innermost root ``path`` (already resolved) lies in, or None."""
        inside = [root for root in self.paths if path.is_relative_to(root)]
        return max(inside, key=lambda root: len(root.parts), default=None)

    def offers(self, path: Path) -> bool:
        """Whether ``path`` (already resolved) may be offered: inside a root, nothing hidden.

        Args:
            path: A resolved path.
        """
        root = self.root_of(path)
        if root is None:
            return False
        below = path.relative_to(root).parts
        return not any(part.startswith(".") or secret_name(part.lower()) for part in below)

    def parent(self, path: Path) -> Path | None:
        """Where ``..`` goes from ``path``: its parent, if that may be offered; else None."""
        parent = path.parent
        return parent if parent != path and self.offers(parent) else None

    def usable(self, path: Path | str) -> Path | None:
        """``path`` resolved, if it is (still) a directory that may be offered; else None.

        Args:
            path: A directory, resolved or not.
        """
        real = Path(path).resolve()
        return real if real.is_dir() and self.offers(real) else None

    def start(self, cwd: Path | str) -> Path:
        """Where the keyboard opens: ``cwd`` when it may be offered, else the default root.

        Args:
            cwd: The session's working directory.
        """
        return self.usable(cwd) or self.paths[0]


@dataclass(frozen=True)
class Entry:
    """A subdirectory offered.

    Attributes:
        name: Its name in the listed directory.
        path: Its real path (symlinks resolved).
    """

    name: str
    path: Path


def subdirectories(directory: Path, roots: Roots, limit: int = MAX_ENTRIES) -> list[Entry]:
    """The subdirectories of ``directory`` the keyboard may offer, sorted by name.

    Hidden and secret-looking names are left out, and so is a symlink whose target
    is not a directory inside the roots.

    Args:
        directory: A directory (resolved).
        roots: The roots.
        limit: The most names looked at.

    Returns:
        The entries; none when the directory cannot be read.
    """
    found: list[Entry] = []
    try:
        with os.scandir(directory) as names:
            for count, entry in enumerate(names):
                if count >= limit:
                    break
                name = entry.name
                if name.startswith(".") or secret_name(name.lower()):
                    continue
                try:
                    if not entry.is_dir():
                        continue
                    real = Path(entry.path).resolve()
                except OSError:
                    continue
                if roots.offers(real):
                    found.append(Entry(name, real))
    except OSError:
        return []
    return sorted(found, key=lambda e: (e.name.casefold(), e.name))


def page_of(items: Sequence[T], number: int, size: int) -> tuple[Sequence[T], int, int]:
    """One page of ``items``.

    Args:
        items: Everything listed.
        number: The page wanted (0 is the first), clamped to the pages there are.
        size: Items per page.

    Returns:
        The page's items, its (clamped) number and how many pages there are (at least 1).
    """
    pages = max((len(items) + size - 1) // size, 1)
    number = min(max(number, 0), pages - 1)
    return items[number * size : (number + 1) * size], number, pages
