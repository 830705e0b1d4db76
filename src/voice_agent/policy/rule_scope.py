"""The bounds of sticky rules: what no "Always" rule covers, whatever its pattern says.

A rule's pattern says which commands it was made for; these bounds are applied on
top of it every time a rule is matched, so rules already in a store are bounded too.
A simple command is outside every rule when

* a word, a ``--opt=value`` value, an attached option value or a ``< file`` input
  names a secret-looking path, by its text or once resolved from the directory the
  command runs in (symlinks and ``..``, both by text and physically), or a place
  outside the project that holds private data (home directories, ``/proc``, devices,
  ssh host keys), or a file with several hard links;
* it uses an option the read-only checker forbids for that program
  (``bash_programs.SPECS`` and ``GIT_SPEC``), or one that runs programs, writes files
  or reads lists of file names (:data:`~voice_agent.policy.command_reach.REACH`);
* it reads a directory tree holding secrets (``grep -r``, ``rg``, ``tar c``, ``diff -r``);
* its program is an interpreter, runner, wrapper or the like
  (:func:`exact_only`) and the rule does not name this exact command.

Redirections other than ``< file`` and ``> /dev/null``, substitutions and expansions
never reach this point: the parser refuses them.
"""

from __future__ import annotations

import functools
import glob
import itertools
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from voice_agent.policy import bash_parse as bp
from voice_agent.policy import bash_programs as programs
from voice_agent.policy import command_reach as reach
from voice_agent.policy.bash_parse import SimpleCommand, Word
from voice_agent.policy.edit_guard import inside_git_dir, looks_like_git_dir
from voice_agent.policy.git_policy import GIT_GLOBAL_FLAGS, GIT_SPEC
from voice_agent.policy.paths import SCAN_LIMIT, tree_has_secrets
from voice_agent.policy.secret_names import is_secret_path
from voice_agent.policy.sed_script import sed_call_ok

_MAX_CWDS = 8
_MAX_SUFFIX_WORD = 256
_PIECE_SPLIT = re.compile(r"""[=:,@()\s;<>|"'{}]+""")
_DEVICES_OK = frozenset(
    "/dev/null /dev/zero /dev/stdin /dev/stdout /dev/stderr /dev/tty /dev/random "
    "/dev/urandom".split()
)
_SYSTEM_PRIVATE = (
    "/proc",
    "/dev",
    "/sys/firmware",
    "/etc/ssh",
    "/root",
    "/var/root",
    "/home",
    "/Users",
    "/run/secrets",
    "/var/run/secrets",
)
_GREP_FAMILY = frozenset({"grep", "egrep", "fgrep"})
_AWK = re.compile(r"[gmn]?awk[0-9.]*")
_SED = frozenset({"sed", "gsed"})
#: Git options allowed before the subcommand (``-C dir`` is judged apart); any other
#: (``-c``, ``--git-dir``, ``--exec-path``, ``-p``…) puts the command outside every rule.
_GIT_GLOBALS_OK = GIT_GLOBAL_FLAGS | frozenset(
    "--literal-pathspecs --glob-pathspecs --noglob-pathspecs --icase-pathspecs "
    "--no-advice --no-lazy-fetch".split()
)


def program_name(word: str) -> str:
    """The name a program is looked up by: the last path part, in lower case.

    Case-insensitive file systems (macOS) run ``Git`` as ``git``.

    Args:
        word: The command's first word.
    """
    return os.path.basename(word).lower()


def _plain_words(args: Sequence[str]) -> list[str]:
    end = list(args).index("--") if "--" in args else len(args)
    return [a for a in args[:end] if not a.startswith("-")]


def _in_order(parts: Sequence[str], words: Sequence[str]) -> bool:
    it = iter(words)
    return all(part in it for part in parts)


def exact_only(argv: Sequence[str]) -> bool:
    """Whether a rule may cover this command only by naming it exactly.

    True for interpreters and shells of any version (``python3.12``, ``node20``),
    programs given by path, wrappers and runners (``npx``, ``env``, ``xargs``),
    destructive, network and secret-store programs, subcommands that run other
    programs or install code (``uv run``, ``npm install``, ``docker exec``, ``cargo run``),
    and ``prog script.ext`` for subcommand programs (``dotnet app.dll``).

    Args:
        argv: One simple command, quotes removed.
    """
    name = program_name(argv[0])
    if "/" in argv[0] or name in reach.EXACT_ONLY_PROGRAMS or reach.INTERPRETER.fullmatch(name):
        return True
    if name not in reach.SUBCOMMAND_PROGRAMS:
        return False
    words = _plain_words(argv[1:])
    if len(argv) > 1 and reach.SCRIPT_ARGUMENT.fullmatch(argv[1]):
        return True
    subs = reach.EXACT_SUBCOMMANDS.get(name, ())
    return any(_in_order(entry.split(), words) for entry in subs)


# -- patterns -------------------------------------------------------------------


def _split_top(pattern: str) -> list[str] | None:
    """Split a regex at its top-level ``|``; None when brackets do not balance."""
    parts: list[str] = []
    depth, start, i, in_class = 0, 0, 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return None
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    if depth or in_class:
        return None
    parts.append(pattern[start:])
    return parts


def _unescape(text: str) -> str | None:
    """The literal a regex matches when it is nothing but escaped characters, else None."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text) or text[i + 1].isalnum():
                return None
            out.append(text[i + 1])
            i += 2
            continue
        if ch in ".^$*+?{}[]()|":
            return None
        out.append(ch)
        i += 1
    return "".join(out)


_ANY_ARGS = r"(?: .*)?"


@functools.lru_cache(maxsize=512)
def literal_texts(pattern: str | None) -> frozenset[str]:
    """The exact command texts a rule's pattern names.

    A derived pattern is one alternative per approved command: an escaped literal
    (the exact command) or a literal followed by ``(?: .*)?`` (a program and
    subcommand, whose literal part is the approved prefix itself).

    Args:
        pattern: The rule's regular expression.

    Returns:
        The literals among the pattern's top-level alternatives.
    """
    if pattern is None:
        return frozenset()
    alternatives = _split_top(pattern)
    if alternatives == [pattern] and pattern.startswith("(?:") and pattern.endswith(")"):
        inner = _split_top(pattern[3:-1])
        alternatives = inner if inner is not None else alternatives
    out: set[str] = set()
    for alternative in alternatives or []:
        for body in {alternative, alternative.removesuffix(_ANY_ARGS)}:
            text = _unescape(body)
            if text is not None:
                out.add(text)
    return frozenset(out)


# -- paths ----------------------------------------------------------------------


def _under(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)


def _homes() -> tuple[str, ...]:
    home = os.path.expanduser("~")
    return (home, os.path.realpath(home))


def private_place(path: str, root: str) -> bool:
    """Whether an absolute path is somewhere private that the project does not own.

    Home directories, ``/proc``, devices (but ``/dev/null`` and the like), ssh host
    keys and mounted secrets are private, except inside the project when the project
    itself lies there.

    Args:
        path: An absolute, normalised path.
        root: The project (the session's working directory), resolved.
    """
    if path in _DEVICES_OK or path.startswith("/dev/fd/"):
        return False
    inside = _under(path, root)
    return any(
        _under(path, place) and not (inside and _under(root, place))
        for place in (*_homes(), *_SYSTEM_PRIVATE)
    )


def _path_refused(path: str, root: str) -> bool:
    """Whether one absolute path (normalised) looks secret or private."""
    if _under(path, root):
        return is_secret_path(os.path.relpath(path, root)) or private_place(path, root)
    return is_secret_path(path) or private_place(path, root)


def _resolved_refused(path: str, root: str) -> bool:
    """Judge a path by text and physically; a file with several hard links counts too."""
    lexical = os.path.normpath(path)
    if _path_refused(lexical, root):
        return True
    for real in {os.path.realpath(path), os.path.realpath(lexical)}:
        if _path_refused(real, root):
            return True
        if os.path.isfile(real) and os.stat(real).st_nlink > 1:
            return True
    return False


def _pieces(value: str) -> list[str]:
    """The parts of a word that may name a file.

    The word itself, its parts between ``=``, ``:``, ``,``, ``@``, brackets and
    blanks, and for ``-xVALUE`` every tail that could be an attached option value.
    """
    out = [value, *(p for p in _PIECE_SPLIT.split(value) if p)]
    if value.startswith("-") and not value.startswith("--") and len(value) <= _MAX_SUFFIX_WORD:
        out.extend(value[k:] for k in range(2, len(value)))
    return list(dict.fromkeys(out))


def piece_refused(piece: str, cwds: frozenset[str], root: str) -> bool:
    """Whether a string names a secret or private path, by text or resolved from any cwd.

    Args:
        piece: A word or part of one.
        cwds: The directories the command may run in.
        root: The project, resolved.
    """
    if not piece:
        return False
    if not os.path.isabs(piece) and is_secret_path(piece):
        return True
    texts = {piece, os.path.expanduser(piece)} if piece.startswith("~") else {piece}
    return any(_resolved_refused(os.path.join(cwd, text), root) for text in texts for cwd in cwds)


def _word_ok(word: Word, cwds: frozenset[str], root: str) -> bool:
    if any(piece_refused(p, cwds, root) for p in _pieces(word.value)):
        return False
    if word.glob is None:
        return True
    matches = _glob_matches(word.value, word.glob, cwds, root)
    return matches is not None and not any(_resolved_refused(p, root) for p in matches)


def _glob_matches(value: str, pattern: str, cwds: frozenset[str], root: str) -> list[str] | None:
    """What a glob may expand to from each cwd, hidden files included; None if unbounded.

    A glob must stay inside the project (no ``..``, a literal directory inside it)
    and match at most `SCAN_LIMIT` paths.
    """
    if ".." in value.split("/"):
        return None
    literal_dir = os.path.dirname(value.split("*")[0].split("?")[0])
    found: list[str] = []
    for cwd in sorted(cwds):
        if not _stays_inside(literal_dir or ".", frozenset({cwd}), root):
            return None
        matches = glob.iglob(pattern, root_dir=cwd, include_hidden=True)
        found.extend(os.path.join(cwd, m) for m in itertools.islice(matches, SCAN_LIMIT + 1))
        if len(found) > SCAN_LIMIT:
            return None
    return found


def _stays_inside(value: str | None, cwds: frozenset[str], root: str) -> bool:
    if not value:
        return False
    text = os.path.expanduser(value)
    for cwd in cwds:
        joined = os.path.join(cwd, text)
        forms = (os.path.normpath(joined), os.path.realpath(joined))
        if not all(_under(form, root) for form in forms):
            return False
    return True


def _changes_repository(target: str, root: str) -> bool:
    """Whether a directory inside the project belongs to another repository than the project's."""
    if inside_git_dir(os.path.join(target, "x")):
        return True
    here = target
    while _under(here, root) and here != root:
        if looks_like_git_dir(here) or os.path.lexists(os.path.join(here, ".git")):
            return True
        here = os.path.dirname(here)
    return False


def cd_targets(value: str, cwds: frozenset[str], root: str) -> frozenset[str] | None:
    """Where ``cd value`` may leave the shell, or None when a rule must not let it go there.

    The target must be a directory inside the project both by text (as bash's ``cd``
    resolves ``..``) and physically, and must not be or lie in a git directory or
    another repository (whose config could run programs). A failed ``cd`` leaves the
    old directory, so the old ones stay possible.

    Args:
        value: The ``cd`` operand.
        cwds: The directories the shell may be in now.
        root: The project, resolved.
    """
    if not value or value.startswith(("-", "~")):
        return None
    relative = not value.startswith(("/", "./", "../")) and value not in (".", "..")
    if relative and os.environ.get("CDPATH"):
        return None
    found: set[str] = set()
    for cwd in cwds:
        joined = os.path.join(cwd, value)
        lexical = os.path.normpath(joined)
        forms = {lexical, os.path.realpath(joined), os.path.realpath(lexical)}
        if not all(_under(f, root) and os.path.isdir(f) for f in forms):
            return None
        if any(_changes_repository(f, root) for f in forms):
            return None
        found |= forms
    landed = frozenset(found) | cwds
    return landed if len(landed) <= _MAX_CWDS else None


# -- options --------------------------------------------------------------------


def _checker_options_ok(name: str, words: Sequence[Word]) -> bool:
    """No option that the read-only checker forbids for this program."""
    spec = programs.SPECS.get(name)
    if spec is not None:
        parsed = bp.parse_args(words, spec)
        if parsed is None:
            return False
        positionals = [w.value for w in parsed.positionals]
        if name == "uniq" and len(positionals) > 1:
            return False  # the second operand is written
        if name == "date" and any(not p.startswith("+") for p in positionals):
            return False  # sets the clock
    if name == "git":
        for word in words:
            text = word.value
            if text == "--":
                break
            if text.startswith("--") and not bp.long_option_ok(text.partition("=")[0], GIT_SPEC):
                return False
    return True


def _lists_files(args: Sequence[str]) -> bool:
    """Whether an option makes the program read file names from a file or stdin.

    ``--files0-from`` and the like (``bash_programs.FILE_LIST_OPTIONS``) are refused
    in every program, abbreviated too (but not ``--files``, rg's own option).
    """
    for arg in args:
        if arg == "--":
            return False
        name = arg[2:].partition("=")[0] if arg.startswith("--") else ""
        if len(name) > len("files") and any(
            bad.startswith(name) for bad in programs.FILE_LIST_OPTIONS
        ):
            return True
    return False


def _option_ok(table: reach.Reach, arg: str) -> bool:
    if table.single_dash:
        if arg.startswith("-") and len(arg) > 1:
            return arg.lstrip("-").partition("=")[0] not in table.long
        return True
    if arg.startswith("--") and len(arg) > 2:
        name = arg[2:].partition("=")[0]
        return name in table.keep or not any(bad.startswith(name) for bad in table.long)
    if arg.startswith("-") and len(arg) > 1:
        return not set(arg[1:]) & set(table.short)
    return True


_NO_VALUE = object()


def _inside_value(table: reach.Reach, opts: Sequence[str], i: int) -> object:
    """The value `opts[i]` gives an option that must stay inside the project, if any."""
    arg = opts[i]
    following = opts[i + 1] if i + 1 < len(opts) else None
    for spelling in table.inside:
        name = spelling.lstrip("-")
        if len(name) == 1 and not spelling.startswith("--") and not table.single_dash:
            if arg.startswith("-") and not arg.startswith("--") and name in arg[1:]:
                rest = arg[arg.index(name, 1) + 1 :]
                return rest or following
            continue
        if not arg.startswith("-"):
            continue
        given, eq, value = arg.lstrip("-").partition("=")
        long_form = arg.startswith("--") and spelling.startswith("--")
        if given == name or (long_form and given and name.startswith(given)):
            return value if eq else following
    return _NO_VALUE


def _reach_ok(table: reach.Reach, args: Sequence[str], cwds: frozenset[str], root: str) -> bool:
    """No word of `args` uses an option of `table` (see `command_reach.Reach`)."""
    if table.words is not None and any(table.words.fullmatch(a) for a in args):
        return False
    end = list(args).index("--") if "--" in args else len(args)
    opts = args[:end]
    for i, arg in enumerate(opts):
        if i == 0 and table.first_cluster and not arg.startswith("-"):
            if set(arg) & set(table.short):
                return False
            continue
        if not _option_ok(table, arg):
            return False
        value = _inside_value(table, opts, i)
        if value is not _NO_VALUE and not _stays_inside(
            value if isinstance(value, str) else None, cwds, root
        ):
            return False
    return True


def _git_split(
    args: Sequence[str], cwds: frozenset[str], root: str
) -> tuple[str | None, list[str]] | None:
    """(subcommand, its arguments) after git's global options; None if one is refused."""
    i = 0
    git_cwds = cwds
    while i < len(args) and args[i].startswith("-"):
        flag = args[i]
        if flag == "-C":
            landed = cd_targets(args[i + 1], git_cwds, root) if i + 1 < len(args) else None
            if landed is None:
                return None
            git_cwds = landed
            i += 2
            continue
        if flag not in _GIT_GLOBALS_OK:
            return None
        i += 1
    if i >= len(args):
        return None, []
    return args[i], list(args[i + 1 :])


def _options_ok(name: str, args: list[str], cwds: frozenset[str], root: str) -> bool:
    sub: str | None
    rest: list[str]
    if name == "git":
        split = _git_split(args, cwds, root)
        if split is None:
            return False
        sub, rest = split
    else:
        sub = next((a for a in args if not a.startswith("-")), None)
        rest = args[args.index(sub) + 1 :] if sub is not None else []
    general = reach.REACH.get(name)
    if general is not None and not _reach_ok(general, args, cwds, root):
        return False
    specific = reach.REACH.get(f"{name} {sub}") if sub is not None else None
    return specific is None or _reach_ok(specific, rest, cwds, root)


# -- trees ----------------------------------------------------------------------


def _recursive_grep(args: Sequence[str]) -> bool:
    for arg in args:
        if arg in ("--recursive", "--dereference-recursive", "--directories=recurse"):
            return True
        if arg.startswith("-") and not arg.startswith("--") and set(arg[1:]) & {"r", "R"}:
            return True
    return "recurse" in args


def _trees_ok(name: str, words: Sequence[Word], cwds: frozenset[str], root: str) -> bool:
    """A program that reads whole trees reads none holding a secret."""
    dirs: set[str] = set()
    for word in words:
        for piece in _pieces(word.value):
            for cwd in cwds:
                path = os.path.join(cwd, os.path.expanduser(piece))
                for form in (os.path.normpath(path), os.path.realpath(path)):
                    if os.path.isdir(form):
                        dirs.add(form)
    searches_cwd = name in reach.SEARCHES_CWD or (
        name in _GREP_FAMILY and _recursive_grep([w.value for w in words])
    )
    if searches_cwd and not dirs:
        dirs |= cwds
    return not any(tree_has_secrets(d) for d in sorted(dirs))


# -- the bound ------------------------------------------------------------------


def command_in_scope(cmd: SimpleCommand, cwds: frozenset[str], root: str) -> bool:
    """Whether any sticky rule may cover this simple command (see the module docstring).

    Exactness (:func:`exact_only`) is the rule's business and is not judged here.

    Args:
        cmd: The simple command, as parsed.
        cwds: The directories it may run in.
        root: The project (the session's working directory), resolved.
    """
    if not all(_word_ok(w, cwds, root) for w in (*cmd.words, *cmd.inputs)):
        return False
    name = program_name(cmd.words[0].value)
    args = [w.value for w in cmd.words[1:]]
    if not _checker_options_ok(name, cmd.words[1:]) or _lists_files(args):
        return False
    if not _options_ok("awk" if _AWK.fullmatch(name) else name, args, cwds, root):
        return False
    if name in _SED and not sed_call_ok(args):
        return False
    return name not in reach.RECURSIVE_READERS or _trees_ok(name, cmd.words[1:], cwds, root)


def read_in_scope(tool_name: str, input_data: Mapping[str, Any], cwd: str | None) -> bool:
    """Whether a rule for a read tool (``Read``, ``Glob``, ``Grep``, …) may cover this call.

    Every path it names must not look secret or private (by text and resolved), a
    ``Glob`` pattern must not name a secret, and a ``Grep`` must not search a tree
    holding one.

    Args:
        tool_name: The tool.
        input_data: Its input.
        cwd: The session's working directory.
    """
    root = os.path.realpath(cwd if cwd is not None else os.getcwd())
    cwds = frozenset({root})
    given = [input_data.get(k) for k in ("file_path", "notebook_path", "path")]
    paths = [p for p in given if p is not None] or ["."]
    if not all(isinstance(p, str) and p for p in paths):
        return False
    if any(piece_refused(str(p), cwds, root) for p in paths):
        return False
    pattern = input_data.get("pattern") if tool_name == "Glob" else input_data.get("glob")
    if pattern is not None:
        if not isinstance(pattern, str) or is_secret_path(pattern) or ".." in pattern:
            return False
        literal = pattern.split("*")[0].split("?")[0].split("[")[0]
        if os.path.isabs(pattern) and piece_refused(os.path.dirname(literal) or "/", cwds, root):
            return False
    if tool_name == "Grep":
        return not any(
            os.path.isdir(p) and tree_has_secrets(p)
            for p in (os.path.join(root, str(q)) for q in paths)
        )
    return True
