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
from dataclasses import dataclass

from voice_agent.policy import bash_parse as bp
from voice_agent.policy import bash_programs as programs
from voice_agent.policy.bash_parse import ParsedArgs, SimpleCommand, Spec, Word
from voice_agent.policy.git_policy import check_git
from voice_agent.policy.paths import (
    PathContext,
    Place,
    WorkLimitExceeded,
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


def _cd_places(cmd: SimpleCommand, ctx: PathContext) -> frozenset[Place] | None:
    """``cd [-L|-P] [--] dir``: the places it may land in when it succeeds, or None.

    None (ask) for a piped ``cd``, any other option or operand count, an
    unsafe target, or too many places. Where a failed ``cd`` leaves the
    command is the caller's business (see `_Places`).
    """
    if cmd.piped:
        return None
    args = [w.value for w in cmd.words[1:]]
    physical = False
    while args and args[0] in ("-L", "-P"):
        physical = args.pop(0) == "-P"
    if args[:1] == ["--"]:
        args.pop(0)
    if len(args) != 1:
        return None
    new = change_dir(cmd.words[-1], ctx, physical=physical)
    if new is None or len(new) > _MAX_PLACES:
        return None
    return new


@dataclass
class _Places:
    """Where the script may be after each command, by the last exit status.

    Bash runs ``b`` of ``a && b`` only when ``a`` succeeded, ``a || b`` only
    when it failed, and ``a; b`` either way; a pipeline's commands run in
    subshells (a ``cd`` there is refused) and its status is its last one's.
    Only a ``cd`` changes the place, and only when it succeeds. So
    ``cd src && cat ../x`` reads ``x`` from ``src`` only, while
    ``cd src; cat ../x`` and ``cd src || cat ../x`` may run where it started.

    Attributes:
        ok: The places possible when the last command succeeded.
        failed: The places possible when it failed.
        running: The places the current command (or pipeline) runs in.
    """

    ok: frozenset[Place]
    failed: frozenset[Place]
    running: frozenset[Place]

    def enter(self, joiner: str) -> frozenset[Place]:
        """The places the next command runs in, given what joins it (see `SimpleCommand`)."""
        if joiner != "|":
            self.running = {"&&": self.ok, "||": self.failed}.get(joiner, self.ok | self.failed)
        return self.running

    def leave(self, joiner: str, ok: frozenset[Place]) -> None:
        """Record the command's outcome: `ok` where it leaves the script when it succeeds.

        A failure leaves the script where the command ran.
        """
        failed = self.running
        if joiner == "&&":  # skipped when the left side failed: its failures stay
            self.ok, self.failed = ok, self.failed | failed
        elif joiner == "||":  # skipped when the left side succeeded
            self.ok, self.failed = self.ok | ok, failed
        elif joiner != "|":  # a piped command never moves (and is not the last word)
            self.ok, self.failed = ok, failed
        if len(self.ok | self.failed) > _MAX_PLACES:
            raise WorkLimitExceeded


_Checker = Callable[[SimpleCommand, PathContext], bool]


def _dispatch(name: str) -> _Checker | None:
    if name in ("grep", "egrep", "fgrep", "rg"):
        return lambda cmd, ctx: _check_grep(name, cmd, ctx)
    if name in programs.SPECS:
        return lambda cmd, ctx: _check_spec(name, cmd, ctx)
    return {"find": _check_find, "git": check_git}.get(name)


def _command_places(cmd: SimpleCommand, ctx: PathContext) -> frozenset[Place] | None:
    """Where `cmd` leaves the script when it succeeds, or None when it is not safe.

    Every command but a ``cd`` stays in the places it runs in (`ctx.places`).
    """
    program = cmd.words[0]
    if program.raw != program.value or program.glob is not None or "/" in program.value:
        return None
    if not all(word_ok(w, ctx) for w in cmd.inputs):
        return None
    if program.value == "cd":
        return _cd_places(cmd, ctx)
    argv = cmd.argv
    if (
        len(argv) == 2
        and argv[0] in programs.VERSION_TOOLS
        and argv[1] in programs.VERSION_TOOLS[argv[0]]
    ):
        return ctx.places
    checker = _dispatch(program.value)
    return ctx.places if checker is not None and checker(cmd, ctx) else None


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
        places = _Places(ctx.places, ctx.places, ctx.places)
        for cmd in commands:
            ctx.places = places.enter(cmd.joiner)
            landed = _command_places(cmd, ctx)
            if landed is None:
                return False
            places.leave(cmd.joiner, landed)
        return True
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
