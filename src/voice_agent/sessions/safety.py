"""Auto-approval policy: which tool calls are provably read-only and harmless.

Anything not proven safe returns False, which means "ask the developer".
Bash commands are parsed strictly (see `bash_parse`), every program must be on an
allowlist with per-program argument rules (see `bash_programs`; git has its own in
`git_policy`), and every path a command reads must stay inside the working
directory (or an extra root) and not look secret, judged by text and physically
from every place a ``cd`` may have led to (see `paths`, which also checks Claude
Code's own read tools, and `secret_names`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from voice_agent.sessions import bash_parse as bp
from voice_agent.sessions import bash_programs as programs
from voice_agent.sessions.bash_parse import ParsedArgs, SimpleCommand, Spec, Word
from voice_agent.sessions.git_policy import check_git
from voice_agent.sessions.paths import (
    PathContext,
    change_dir,
    exists,
    is_safe_read_call,
    is_secret_below,
    is_secret_path,
    is_within,
    path_ok,
    scan_ok,
    tree_has_secrets,
    word_ok,
)

__all__ = [
    "is_safe_bash_command",
    "is_safe_read_call",
    "is_secret_below",
    "is_secret_path",
    "is_within",
    "simple_commands",
    "tree_has_secrets",
]

_MAX_PLACES = 16


def _values_ok(parsed: ParsedArgs, spec: Spec, ctx: PathContext) -> bool:
    return all(name in spec.free or path_ok(v, ctx) for name, v in parsed.values)


def _file_values(parsed: ParsedArgs, spec: Spec) -> list[Word]:
    """The option values that name files (every value not known to be free text)."""
    return [Word(v, v) for name, v in parsed.values if name not in spec.free]


def _generic_ok(parsed: ParsedArgs, spec: Spec, ctx: PathContext) -> bool:
    if not _values_ok(parsed, spec, ctx):
        return False
    if spec.paths:
        return all(word_ok(w, ctx) for w in parsed.positionals)
    return all(w.glob is None or word_ok(w, ctx) for w in parsed.positionals)


_DOT = Word(".", ".")


def _check_spec(name: str, cmd: SimpleCommand, ctx: PathContext) -> bool:
    spec = programs.SPECS[name]
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
    if name not in programs.SCANNED:
        return True
    # diff reads every operand and every file-naming value (--from-file=DIR...),
    # recursively with -r: each is scanned like a tree.
    return all(scan_ok(w, ctx) for w in [*pos, *_file_values(parsed, spec)])


def _check_grep(name: str, cmd: SimpleCommand, ctx: PathContext) -> bool:
    spec = programs.SPECS[name]
    parsed = bp.parse_args(cmd.words[1:], spec)
    if parsed is None:
        return False
    options = {n for n, _ in parsed.values}
    recursive = name == "rg" or bool(programs.GREP_RECURSIVE & set(parsed.flags))
    recursive |= any(n in ("-d", "--directories") and v != "read" for n, v in parsed.values)
    # ugrep (Claude Code's `grep`) takes -NUM for a recursion depth, not a context.
    recursive |= any(f[1:].isdigit() for f in parsed.flags)
    pos = parsed.positionals
    lists_files = name == "rg" and bool({"--files", "--type-list"} & set(parsed.flags))
    if not (options & programs.PATTERN_OPTIONS or lists_files):
        if not pos:
            return False
        pattern = pos.pop(0)
        if pattern.glob is not None and not word_ok(pattern, ctx):
            return False
    if not _generic_ok(parsed, spec, ctx):
        return False
    if not recursive:
        # ugrep reads a directory operand one level deep even without -r (and
        # hidden files with Claude Code's --hidden); with no operand and stdin a
        # terminal it searches ".". scan_ok only scans the directories.
        if not pos and not cmd.piped and not cmd.inputs:
            pos = [_DOT]
        return all(scan_ok(w, ctx) for w in pos)
    # A missing operand hints that an option value was taken for one: scan "." too.
    if not pos or not all(exists(w, ctx) for w in pos):
        pos = [*pos, _DOT]
    return all(scan_ok(w, ctx) for w in [*pos, *_file_values(parsed, spec)])


def _check_find(cmd: SimpleCommand, ctx: PathContext) -> bool:
    words = cmd.words[1:]
    starts = list(itertools.takewhile(lambda w: not _find_expr(w.value), words))
    if not all(word_ok(w, ctx) for w in starts or [_DOT]):
        return False
    rest = iter(words[len(starts) :])
    for word in rest:
        primary = word.value
        if word.glob is not None:
            return False
        if primary in programs.FIND_NOARG:
            continue
        if primary not in programs.FIND_ARG and not primary.startswith("-newer"):
            return False
        arg = next(rest, None)
        if arg is None or arg.glob is not None:
            return False
        reads = primary == "-samefile" or primary.startswith("-newer")
        if reads and not path_ok(arg.value, ctx):
            return False
    return True


def _find_expr(value: str) -> bool:
    return value.startswith("-") or value in ("(", ")", "!", ",")


def _check_cd(cmd: SimpleCommand, ctx: PathContext) -> bool:
    """``cd [-L|-P] [--] dir``: the places after it are added to the possible ones.

    A cd that fails leaves the cwd unchanged, so later commands may run in either.
    """
    if cmd.piped:
        return False
    args = [w.value for w in cmd.words[1:]]
    physical = False
    while args and args[0] in ("-L", "-P"):
        physical = args.pop(0) == "-P"
    if args[:1] == ["--"]:
        args.pop(0)
    if len(args) != 1:
        return False
    new = change_dir(cmd.words[-1], ctx, physical=physical)
    if new is None or len(ctx.places | new) > _MAX_PLACES:
        return False
    ctx.places = ctx.places | new
    return True


_Checker = Callable[[SimpleCommand, PathContext], bool]


def _dispatch(name: str) -> _Checker | None:
    if name in ("grep", "egrep", "fgrep", "rg"):
        return lambda cmd, ctx: _check_grep(name, cmd, ctx)
    if name in programs.SPECS:
        return lambda cmd, ctx: _check_spec(name, cmd, ctx)
    return {"find": _check_find, "git": check_git, "cd": _check_cd}.get(name)


def _command_ok(cmd: SimpleCommand, ctx: PathContext) -> bool:
    program = cmd.words[0]
    if program.raw != program.value or program.glob is not None or "/" in program.value:
        return False
    if not all(word_ok(w, ctx) for w in cmd.inputs):
        return False
    argv = cmd.argv
    if (
        len(argv) == 2
        and argv[0] in programs.VERSION_TOOLS
        and argv[1] in programs.VERSION_TOOLS[argv[0]]
    ):
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
        harmless arguments reading only non-secret paths inside the roots,
        judged by text and physically from every place the command may run
        in; False when the check fails in any way or needs too much work.
    """
    try:
        commands = bp.parse_script(command)
        if commands is None:
            return False
        ctx = PathContext.create(cwd, extra_roots)
        return all(_command_ok(cmd, ctx) for cmd in commands)
    except Exception:  # any failure of the checker (or its work limit) means "ask"
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
