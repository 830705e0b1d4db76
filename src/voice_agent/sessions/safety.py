"""Auto-approval policy: which tool calls are provably read-only and harmless.

Anything not proven safe returns False, which means "ask the developer".
Bash commands are parsed strictly (see `bash_parse`), every program must be on an
allowlist with per-program argument rules, and every path a command reads must
resolve inside the working directory (or an extra root) and not look secret.
"""

from __future__ import annotations

import glob
import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from voice_agent.sessions import bash_parse as bp
from voice_agent.sessions.bash_parse import ParsedArgs, SimpleCommand, Spec, Word

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
_MAX_CWDS = 8


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
class _Ctx:
    roots: tuple[str, ...]
    cwds: frozenset[str]

    @classmethod
    def create(cls, cwd: str | None, extra_roots: Sequence[str]) -> _Ctx:
        base = os.path.realpath(cwd if cwd is not None else os.getcwd())
        roots = (base, *(os.path.realpath(r) for r in extra_roots))
        return cls(roots, frozenset({base}))


def _candidates(value: str, pattern: str | None, ctx: _Ctx) -> list[tuple[str, str]] | None:
    """(cwd, path) pairs a word may denote: the literal path plus any glob matches."""
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


def _path_ok(value: str, ctx: _Ctx, pattern: str | None = None) -> bool:
    if value == "-":
        return True
    if is_secret_path(value):
        return False
    candidates = _candidates(value, pattern, ctx)
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


def _word_ok(word: Word, ctx: _Ctx) -> bool:
    return _path_ok(word.value, ctx, word.glob)


def _scan_ok(word: Word, ctx: _Ctx) -> bool:
    candidates = _candidates(word.value, word.glob, ctx)
    if candidates is None:
        return False
    return not any(os.path.isdir(p) and tree_has_secrets(p) for _, p in candidates)


def _values_ok(parsed: ParsedArgs, spec: Spec, ctx: _Ctx) -> bool:
    return all(name in spec.free or _path_ok(v, ctx) for name, v in parsed.values)


def _generic_ok(parsed: ParsedArgs, spec: Spec, ctx: _Ctx) -> bool:
    if not _values_ok(parsed, spec, ctx):
        return False
    if spec.paths:
        return all(_word_ok(w, ctx) for w in parsed.positionals)
    return all(w.glob is None or _word_ok(w, ctx) for w in parsed.positionals)


_DOT = Word(".", ".")


def _check_spec(name: str, cmd: SimpleCommand, ctx: _Ctx) -> bool:
    spec = bp.SPECS[name]
    parsed = bp.parse_args(cmd.words[1:], spec)
    if parsed is None:
        return False
    pos = parsed.positionals
    if name in ("ls", "du", "tree") and not pos:
        pos.append(_DOT)
    if name == "tail" and any(w.value.startswith("+") for w in pos):
        return False
    if name == "uniq" and (len(pos) > 1 or any(w.glob for w in pos)):
        return False
    if name == "date" and any(not w.value.startswith("+") for w in pos):
        return False
    if not _generic_ok(parsed, spec, ctx):
        return False
    return name != "diff" or all(_scan_ok(w, ctx) for w in pos)


def _check_grep(name: str, cmd: SimpleCommand, ctx: _Ctx) -> bool:
    spec = bp.SPECS[name]
    parsed = bp.parse_args(cmd.words[1:], spec)
    if parsed is None:
        return False
    options = {n for n, _ in parsed.values}
    recursive = name == "rg" or bool(bp.GREP_RECURSIVE & set(parsed.flags))
    recursive |= any(n in ("-d", "--directories") and v != "read" for n, v in parsed.values)
    pos = parsed.positionals
    lists_files = name == "rg" and bool({"--files", "--type-list"} & set(parsed.flags))
    if not (options & bp.PATTERN_OPTIONS or lists_files):
        if not pos:
            return False
        pattern = pos.pop(0)
        if pattern.glob is not None and not _word_ok(pattern, ctx):
            return False
    if not _generic_ok(parsed, spec, ctx):
        return False
    if not recursive:
        return True
    # A missing operand hints that an option value was taken for one: scan "." too.
    if not pos or not all(_exists(w, ctx) for w in pos):
        pos = [*pos, _DOT]
    return all(_scan_ok(w, ctx) for w in pos)


def _exists(word: Word, ctx: _Ctx) -> bool:
    candidates = _candidates(word.value, word.glob, ctx) or []
    return any(os.path.lexists(p) for _, p in candidates)


def _check_find(cmd: SimpleCommand, ctx: _Ctx) -> bool:
    words = cmd.words[1:]
    starts = list(itertools.takewhile(lambda w: not _find_expr(w.value), words))
    if not all(_word_ok(w, ctx) for w in starts or [_DOT]):
        return False
    rest = iter(words[len(starts) :])
    for word in rest:
        primary = word.value
        if word.glob is not None:
            return False
        if primary in bp.FIND_NOARG:
            continue
        if primary not in bp.FIND_ARG and not primary.startswith("-newer"):
            return False
        arg = next(rest, None)
        if arg is None or arg.glob is not None:
            return False
        reads = primary == "-samefile" or primary.startswith("-newer")
        if reads and not _path_ok(arg.value, ctx):
            return False
    return True


def _find_expr(value: str) -> bool:
    return value.startswith("-") or value in ("(", ")", "!", ",")


def _chdir(word: Word, ctx: _Ctx) -> frozenset[str] | None:
    """The directories ``cd word`` may land in from any possible cwd (None if unsafe)."""
    target = word.value
    relative = not target.startswith(("/", "./", "../")) and target not in (".", "..")
    if word.glob is not None or target.startswith("-") or not target:
        return None
    if relative and os.environ.get("CDPATH"):
        return None
    new = frozenset(os.path.realpath(os.path.join(c, target)) for c in ctx.cwds)
    if not _path_ok(target, ctx) or not all(os.path.isdir(d) for d in new):
        return None
    return new


def _check_cd(cmd: SimpleCommand, ctx: _Ctx) -> bool:
    # A failed cd leaves the cwd unchanged, so later commands may run in either.
    if cmd.piped or len(cmd.words) != 2:
        return False
    new = _chdir(cmd.words[1], ctx)
    if new is None or len(ctx.cwds | new) > _MAX_CWDS:
        return False
    ctx.cwds = ctx.cwds | new
    return True


def _git_subcommand_ok(sub: str, args: list[str]) -> bool:
    if sub == "branch":
        prefixes = ("--sort=", "--format=", "--color=")
        return all(a in bp.GIT_BRANCH_FLAGS or a.startswith(prefixes) for a in args)
    if sub == "tag":
        return args in ([], ["-l"], ["--list"])
    if sub == "remote":
        return args in ([], ["-v"], ["--verbose"])
    if sub == "stash":
        return bool(args) and args[0] in ("list", "show")
    if sub == "reflog":
        return not args or args[0] == "show"
    return sub in bp.GIT_SUBCOMMANDS


def _git_arg_ok(word: Word, ctx: _Ctx) -> bool:
    text = word.value
    if text == "--":
        return True
    if text.startswith("--"):
        name, eq, value = text.partition("=")
        return bp.long_option_ok(name, bp.GIT_SPEC) and (not eq or _path_ok(value, ctx))
    if text.startswith("-") and len(text) > 1:  # an attached value may name a file
        return "O" not in text and (len(text) < 3 or _path_ok(text[2:], ctx))
    parts = text.split(":")[1:]
    return _word_ok(word, ctx) and all(_path_ok(p, ctx) for p in parts)


def _check_git(cmd: SimpleCommand, ctx: _Ctx) -> bool:
    words = list(cmd.words[1:])
    git_ctx = _Ctx(ctx.roots, ctx.cwds)
    while words and words[0].value.startswith("-"):
        flag = words.pop(0).value
        if flag == "-C" and words:
            cwds = _chdir(words.pop(0), git_ctx)
            if cwds is None:
                return False
            git_ctx.cwds = cwds
        elif flag not in bp.GIT_GLOBAL_FLAGS:
            return False
    if not words or words[0].glob is not None:
        return False
    sub, args = words[0].value, words[1:]
    if not _git_subcommand_ok(sub, [a.value for a in args]):
        return False
    return all(_git_arg_ok(a, git_ctx) for a in args)


_Checker = Callable[[SimpleCommand, _Ctx], bool]


def _dispatch(name: str) -> _Checker | None:
    if name in ("grep", "egrep", "fgrep", "rg"):
        return lambda cmd, ctx: _check_grep(name, cmd, ctx)
    if name in bp.SPECS:
        return lambda cmd, ctx: _check_spec(name, cmd, ctx)
    return {"find": _check_find, "git": _check_git, "cd": _check_cd}.get(name)


def _command_ok(cmd: SimpleCommand, ctx: _Ctx) -> bool:
    program = cmd.words[0]
    if program.raw != program.value or program.glob is not None or "/" in program.value:
        return False
    if not all(_word_ok(w, ctx) for w in cmd.inputs):
        return False
    argv = cmd.argv
    if len(argv) == 2 and argv[0] in bp.VERSION_TOOLS and argv[1] in bp.VERSION_TOOLS[argv[0]]:
        return True
    checker = _dispatch(program.value)
    return checker is not None and checker(cmd, ctx)


def is_safe_bash_command(
    command: str, cwd: str | None = None, extra_roots: Sequence[str] = ()
) -> bool:
    """Whether a Bash tool command is provably read-only and harmless.

    Args:
        command: The bash script Claude wants to run.
        cwd: The directory it runs in (default: the process cwd); reads must stay
            inside it or `extra_roots`.
        extra_roots: Further directories that may be read.

    Returns:
        True only when every simple command is an allowlisted program with
        harmless arguments reading only non-secret paths inside the roots.
    """
    commands = bp.parse_script(command)
    if commands is None:
        return False
    try:
        ctx = _Ctx.create(cwd, extra_roots)
        return all(_command_ok(cmd, ctx) for cmd in commands)
    except (OSError, ValueError):
        return False


def simple_commands(command: str) -> list[list[str]] | None:
    """The argv of every simple command in `command`, for sticky approval rules.

    Args:
        command: The bash script.

    Returns:
        One argv (quotes removed) per simple command, or None when the script uses
        anything beyond plain simple commands joined by ``;``, ``&&``, ``||``, ``|``.
    """
    commands = bp.parse_script(command)
    return None if commands is None else [cmd.argv for cmd in commands]


def _tool_path_ok(value: Any, ctx: _Ctx, default: str = ".") -> bool:
    if value is None:
        value = default
    if not isinstance(value, str) or not value or value.startswith("~"):
        return False
    return _path_ok(value, ctx)


def _glob_pattern_ok(pattern: Any, ctx: _Ctx) -> bool:
    if not isinstance(pattern, str) or not pattern or pattern.startswith("~"):
        return False
    if ".." in pattern or any(s in pattern for s in ("{/", ",/", "{~", ",~")):
        return False
    if os.path.isabs(pattern):
        literal = os.path.dirname(pattern.split("*")[0].split("?")[0].split("[")[0])
        return _path_ok(literal or "/", ctx)
    return True


def _read_ok(data: Mapping[str, Any], ctx: _Ctx) -> bool:
    return _tool_path_ok(data.get("file_path"), ctx, default="")


def _notebook_ok(data: Mapping[str, Any], ctx: _Ctx) -> bool:
    return _tool_path_ok(data.get("notebook_path"), ctx, default="")


def _ls_ok(data: Mapping[str, Any], ctx: _Ctx) -> bool:
    return _tool_path_ok(data.get("path"), ctx)


def _glob_ok(data: Mapping[str, Any], ctx: _Ctx) -> bool:
    return _tool_path_ok(data.get("path"), ctx) and _glob_pattern_ok(data.get("pattern"), ctx)


def _grep_ok(data: Mapping[str, Any], ctx: _Ctx) -> bool:
    path = data.get("path") or "."
    if not isinstance(data.get("pattern"), str) or not _tool_path_ok(path, ctx):
        return False
    file_glob = data.get("glob")
    if file_glob is not None and not _glob_pattern_ok(file_glob, ctx):
        return False
    return _scan_ok(Word(path, path), ctx)


_READ_TOOLS: dict[str, Callable[[Mapping[str, Any], _Ctx], bool]] = {
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
        return checker(input_data, _Ctx.create(cwd, extra_roots))
    except (OSError, ValueError, TypeError):
        return False
