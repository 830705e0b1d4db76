"""Files whose contents make programs run later: no automatic edit ever covers them.

An edit approved by ``acceptEdits`` or by an "Always" rule must not plant code that
runs on its own afterwards: Claude Code's hooks and MCP servers (``.claude/``,
``.mcp.json``), git's hooks and config in any git directory (the project's ``.git``,
a nested or bare repository, ``core.hooksPath``), ``.gitattributes`` filters, hook
managers (``.husky/``, ``.pre-commit-config.yaml``, lefthook), files run on entering
the directory (``.envrc``, mise), editor and container settings that run tasks
(``.vscode/``, ``.idea/``, ``.devcontainer/``), package-manager hooks (``.yarnrc.yml``,
``.pnpmfile.cjs``, ``.cargo/``), shell start-up files, Python ``.pth`` and
``sitecustomize.py`` files, and anything inside a virtualenv or ``node_modules``.

:func:`runs_code_later` judges the path as written (normalised by text, as Claude
Code does) and as the file system resolves it (symlinks included), so a link into
``.git`` counts as ``.git``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from voice_agent.policy.git_repo import discover, is_git_dir
from voice_agent.policy.lf_lines import lf_lines
from voice_agent.policy.secret_names import is_secret_path

#: Directories whose files configure programs that run by themselves.
RUN_LATER_DIRS = frozenset(
    """
    .claude .husky .vscode .idea .devcontainer .direnv .cursor .zed .fleet .yarn .cargo
    .config .local .terraform .mise .bundle node_modules
    """.split()
)
#: File names that make a program run code (or choose which code runs) later.
RUN_LATER_FILES = frozenset(
    """
    .mcp.json .envrc .pre-commit-config.yaml .pre-commit-config.yml
    .pre-commit-hooks.yaml lefthook.yml lefthook.yaml .lefthook.yml .lefthook.yaml
    lefthook-local.yml lefthook-local.yaml .lefthook-local.yml .lefthook-local.yaml
    .yarnrc .yarnrc.yml .npmrc .pnpmfile.cjs .pnpmfile.mjs mise.toml .mise.toml
    mise.local.toml .mise.local.toml .tool-versions rust-toolchain rust-toolchain.toml
    .bazelrc .exrc .vimrc .nvimrc .nvim.lua .lvimrc .dir-locals.el .dir-locals-2.el
    .gdbinit .lldbinit .pdbrc .pdbrc.py .irbrc .pryrc .ackrc .curlrc .wgetrc .sdkmanrc
    .bashrc .bash_profile .bash_login .bash_logout .profile .zshrc .zshenv .zprofile
    .zlogin .zlogout .kshrc .cshrc .tcshrc .xprofile .xinitrc .xsession
    sitecustomize.py usercustomize.py .devcontainer.json pyvenv.cfg
    """.split()
)
#: Name prefixes: ``.git`` covers ``.git/``, ``.gitattributes``, ``.gitmodules``,
#: ``.gitconfig``, ``.githooks/``, ``.github/`` and ``.gitlab-ci.yml``.
RUN_LATER_PREFIXES = (".git",)
#: Name suffixes: Python runs ``*.pth`` files in site directories at start-up.
RUN_LATER_SUFFIXES = (".pth",)

_HOOKS_PATH = re.compile(r"^\s*hookspath\s*=\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_CONFIG_LIMIT = 65536


def _name_runs_code(name: str) -> bool:
    name = name.lower()
    return (
        name in RUN_LATER_DIRS
        or name in RUN_LATER_FILES
        or name.startswith(RUN_LATER_PREFIXES)
        or name.endswith(RUN_LATER_SUFFIXES)
    )


def looks_like_git_dir(path: str) -> bool:
    """Whether a directory is, or is on its way to being, a git directory.

    Besides what :func:`voice_agent.policy.git_repo.is_git_dir` finds (``HEAD``
    next to ``objects/``, ``refs/`` or ``commondir``), a directory holding both
    ``objects/`` and ``refs/`` counts: one more file and git takes it for a bare
    repository, whose ``config`` can name programs to run.

    Args:
        path: The directory to test.

    Returns:
        True when the directory looks like a git directory.
    """
    if is_git_dir(path):
        return True
    return all(os.path.isdir(os.path.join(path, n)) for n in ("objects", "refs"))


def inside_git_dir(path: str) -> bool:
    """Whether a path lies in a git directory: a ``.git`` component or a repository's own dir.

    Args:
        path: An absolute path; every directory above it is examined.

    Returns:
        True when some directory holding the path is ``.git`` or looks like a git
        directory.
    """
    parent = os.path.dirname(path)
    while True:
        if os.path.basename(parent).lower() == ".git" or looks_like_git_dir(parent):
            return True
        above = os.path.dirname(parent)
        if above == parent:
            return False
        parent = above


def _existing_dir(path: str) -> str:
    """The nearest directory at or above `path` that exists."""
    current = path
    while not os.path.isdir(current):
        above = os.path.dirname(current)
        if above == current:
            break
        current = above
    return os.path.realpath(current)


def _in_hooks_path(path: str) -> bool:
    """Whether `path` is under the ``core.hooksPath`` of the repository holding it."""
    found = discover(_existing_dir(os.path.dirname(path)))
    if found.kind != "worktree":
        return False
    config = os.path.join(found.git_dir, "config")
    try:
        with open(config, encoding="utf-8", errors="replace", newline="") as f:  # as git reads
            text = f.read(_CONFIG_LIMIT)
    except OSError:
        return False
    if lf_lines(text) is None:
        return True  # read otherwise by git: any hooks path may hide there
    for match in _HOOKS_PATH.finditer(text):
        value = os.path.expanduser(match.group(1).strip().strip('"'))
        hooks = os.path.normpath(os.path.join(found.top, value))
        if any(_below(path, form) is not None for form in (hooks, os.path.realpath(hooks))):
            return True
    return False


def _below(path: str, base: str) -> str | None:
    """The part of `path` below `base`, or None when it is not inside it."""
    if path == base:
        return ""
    prefix = base.rstrip(os.sep) + os.sep
    return path[len(prefix) :] if path.startswith(prefix) else None


def edit_targets(path: str, cwd: str | None) -> tuple[str, frozenset[str]]:
    """The lexical path an edit names and the real files it may write.

    Claude Code normalises a path by text and the kernel then follows symlinks;
    resolving ``..`` after symlinks gives another answer, so both are kept.

    Args:
        path: The path given to the tool.
        cwd: The session's working directory (default: the process's).

    Returns:
        (the normalised absolute path, its possible real paths).
    """
    base = os.path.abspath(cwd if cwd is not None else os.getcwd())
    joined = os.path.join(base, os.path.expanduser(path))
    lexical = os.path.normpath(joined)
    return lexical, frozenset({os.path.realpath(lexical), os.path.realpath(joined)})


def _judged_parts(path: str, roots: tuple[str, ...]) -> list[str]:
    """The components of `path` that are judged by name: those below the root holding it."""
    for root in roots:
        rest = _below(path, root)
        if rest is not None:
            return [p for p in rest.split(os.sep) if p]
    return [p for p in path.split(os.sep) if p]


def _candidates(path: str, cwd: str | None) -> Iterator[str]:
    lexical, reals = edit_targets(path, cwd)
    yield lexical
    yield from sorted(reals)


def runs_code_later(path: str, cwd: str | None) -> bool:
    """Whether editing `path` could make a program run code later, without asking.

    Args:
        path: The file an edit tool would write (relative to `cwd` or absolute).
        cwd: The session's working directory (default: the process's).

    Returns:
        True when the path (as written or as resolved) names one of the files
        listed in this module's docstring, lies in any git directory or
        virtualenv, or is a file with several hard links (another name of one).
    """
    base = os.path.abspath(cwd if cwd is not None else os.getcwd())
    roots = (base, os.path.realpath(base))
    for candidate in _candidates(path, cwd):
        if any(_name_runs_code(part) for part in _judged_parts(candidate, roots)):
            return True
        if inside_git_dir(candidate) or _in_virtualenv(candidate) or _in_hooks_path(candidate):
            return True
        if os.path.isfile(candidate) and os.stat(candidate).st_nlink > 1:
            return True
    return False


def _in_virtualenv(path: str) -> bool:
    """Whether a directory above `path` is a virtualenv (holds ``pyvenv.cfg``)."""
    parent = os.path.dirname(path)
    while True:
        if os.path.isfile(os.path.join(parent, "pyvenv.cfg")):
            return True
        above = os.path.dirname(parent)
        if above == parent:
            return False
        parent = above


def looks_secret(path: str, cwd: str | None) -> bool:
    """Whether the file an edit names looks secret, as written or as resolved.

    Only the part below the working directory is judged by name (a project kept in
    ``/code/secrets-manager`` is not all secret); a path outside it is judged whole.

    Args:
        path: The file an edit tool would write.
        cwd: The session's working directory (default: the process's).
    """
    base = os.path.abspath(cwd if cwd is not None else os.getcwd())
    roots = (base, os.path.realpath(base))
    return any(is_secret_path("/".join(_judged_parts(c, roots))) for c in _candidates(path, cwd))


def auto_edit_refused(path: str, cwd: str | None) -> bool:
    """Whether no automatic decision (``acceptEdits``, an "Always" rule) may pass this edit.

    Args:
        path: The file an edit tool would write.
        cwd: The session's working directory (default: the process's).

    Returns:
        True for secret-looking files and for files that make programs run later
        (see :func:`runs_code_later`).
    """
    return looks_secret(path, cwd) or runs_code_later(path, cwd)
