"""What ripgrep provably leaves out of a search, for the tree scan of Claude Code's Grep tool.

ripgrep (which the Grep tool runs) does not enter what its ignore files ignore:
``.rgignore`` and ``.ignore`` files anywhere above and below the search path,
and ``.gitignore`` files inside a git repository (up to its top). Ignore
files can also *whitelist* (``!pattern``), and a whitelist beats hidden-file
skipping and lower-precedence ignores, so this model stays deliberately small:

- any ``!`` line in any ignore file on the way turns the model off for
  everything below it (nothing is left out there);
- only *literal* patterns count: one name, optionally anchored (``/dist``),
  directory-only (``.venv/``) or ``**/``-prefixed, and a lone ``*`` (what uv and
  virtualenv write into ``.venv/.gitignore``); anything with wildcards,
  escapes or inner slashes leaves nothing out;
- the model is off when ``RIPGREP_CONFIG_PATH`` is set (a config file can add
  ``--no-ignore``).

Without whitelists, every match is an ignore, whichever file it comes from, so
precedence does not matter.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace

from voice_agent.policy.lf_lines import lf_lines

_CUSTOM = (".rgignore", ".ignore")
_GIT = ".gitignore"
_MAX_BYTES = 64 * 1024

Pattern = tuple[str, bool]  # (name, directory only)


@dataclass(frozen=True)
class Ignores:
    """Patterns inherited from the directories above, as ripgrep applies them.

    Attributes:
        in_repo: A ``.git`` was seen at or above: ``.gitignore`` files count.
        git: Unanchored literal patterns of the ``.gitignore`` files above
            (dropped at a nested repository's top, as ripgrep does).
        custom: Unanchored literal patterns of ``.ignore``/``.rgignore`` above.
        git_all: A ``.gitignore`` above has a lone ``*``.
        custom_all: An ``.ignore``/``.rgignore`` above has a lone ``*``.
    """

    in_repo: bool = False
    git: frozenset[Pattern] = frozenset()
    custom: frozenset[Pattern] = frozenset()
    git_all: bool = False
    custom_all: bool = False


@dataclass(frozen=True)
class Skip:
    """What ripgrep leaves out among one directory's entries."""

    everything: bool
    patterns: frozenset[Pattern]

    def covers(self, name: str, is_dir: bool) -> bool:
        """Whether ripgrep never opens the entry `name`.

        Args:
            name: The entry's name.
            is_dir: Whether it is a directory (not a symlink to one).

        Returns:
            True when an ignore pattern provably leaves it out.
        """
        if self.everything:
            return True
        return (name, False) in self.patterns or (is_dir and (name, True) in self.patterns)


_NOTHING = Skip(False, frozenset())


def _lines(path: str) -> list[str] | None:
    """The pattern lines of an ignore file ([] when absent, None when unreadable)."""
    if not os.path.lexists(path):
        return []
    try:
        with open(path, encoding="utf-8", newline="") as handle:  # as ripgrep reads it
            text = handle.read(_MAX_BYTES + 1)
    except (OSError, UnicodeDecodeError):
        return None
    lines = lf_lines(text) if len(text) <= _MAX_BYTES else None
    if lines is None:
        return None
    return [ln for ln in lines if ln.strip() and not ln.startswith("#")]


def _literal(line: str) -> tuple[str, bool, bool] | None:
    """(name, anchored, directory only) for a literal pattern, else None."""
    text = line.rstrip(" ")
    if text.endswith("\\"):
        return None  # an escaped trailing space
    anchored = False
    if text.startswith("**/"):
        text = text[3:]
    elif text.startswith("/"):
        anchored, text = True, text[1:]
    dir_only = text.endswith("/")
    text = text.removesuffix("/")
    if not text or any(c in text for c in "/*?[\\!"):
        return None
    return text, anchored, dir_only


@dataclass(frozen=True)
class _Read:
    whitelists: bool
    everything: bool
    local: frozenset[Pattern]
    inherited: frozenset[Pattern]


def _read(lines: Iterable[str]) -> _Read:
    local: set[Pattern] = set()
    inherited: set[Pattern] = set()
    everything = whitelists = False
    for line in lines:
        if line.startswith("!"):
            whitelists = True
        elif line.rstrip(" ") in ("*", "**", "/**", "**/*"):
            everything = True
        elif (literal := _literal(line)) is not None:
            name, anchored, dir_only = literal
            local.add((name, dir_only))
            if not anchored:
                inherited.add((name, dir_only))
    return _Read(whitelists, everything, frozenset(local), frozenset(inherited))


def enter(directory: str, has_git: bool, above: Ignores | None) -> tuple[Skip, Ignores | None]:
    """What ripgrep leaves out among `directory`'s entries, and what its children inherit.

    Args:
        directory: A directory ripgrep searches.
        has_git: Whether it holds a ``.git`` entry (the top of a repository).
        above: What the directories above pass down (None: the model is off).

    Returns:
        The entries to leave out, and the state for its subdirectories (None
        once a whitelist or an unreadable ignore file was met).
    """
    if above is None:
        return _NOTHING, None
    state = replace(above, in_repo=True, git=frozenset(), git_all=False) if has_git else above
    custom_lines: list[str] = []
    for name in _CUSTOM:
        lines = _lines(os.path.join(directory, name))
        if lines is None:
            return _NOTHING, None
        custom_lines += lines
    git_lines = _lines(os.path.join(directory, _GIT)) if state.in_repo else []
    if git_lines is None:
        return _NOTHING, None
    custom, git = _read(custom_lines), _read(git_lines)
    if custom.whitelists or git.whitelists:
        return _NOTHING, None
    skip = Skip(
        custom.everything or git.everything or state.custom_all or state.git_all,
        custom.local | git.local | state.custom | state.git,
    )
    below = Ignores(
        state.in_repo,
        state.git | git.inherited,
        state.custom | custom.inherited,
        state.git_all or git.everything,
        state.custom_all or custom.everything,
    )
    return skip, below


def above(root: str) -> Ignores | None:
    """What the directories above `root` (up to ``/``) pass down to a search of `root`.

    Args:
        root: The real path ripgrep is asked to search (itself never left out).

    Returns:
        The inherited state, or None when the model is off (a whitelist above,
        an unreadable ignore file, or ``RIPGREP_CONFIG_PATH`` set).
    """
    if os.environ.get("RIPGREP_CONFIG_PATH"):
        return None
    chain = []
    current = os.path.dirname(root)
    while True:
        chain.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    state: Ignores | None = Ignores()
    for directory in reversed(chain):  # from "/" down to root's parent
        _, state = enter(directory, has_git(directory), state)
        if state is None:
            return None
    return state


def has_git(directory: str) -> bool:
    """Whether ripgrep takes `directory` for a repository top (its ``.git`` exists).

    Args:
        directory: A directory.

    Returns:
        True when ``directory/.git`` exists (symlinks followed, as ripgrep does).
    """
    return os.path.exists(os.path.join(directory, ".git"))
