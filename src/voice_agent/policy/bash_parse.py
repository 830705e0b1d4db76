"""Strict, fail-closed parsing of bash scripts for the auto-approval policy.

`parse_script` accepts only the plain subset of bash that the approval policy can
reason about: simple commands joined by ``;``, ``&&``, ``||``, ``|`` or newlines,
made of literal words (quotes allowed, no expansion of any kind except
``*``/``?`` globs) and a handful of harmless redirections. Everything else makes
it return ``None``.

bashlex is used for the grammar, but its word handling is not trusted: every word
is re-lexed from the raw source text and must cook to exactly the value bashlex
reports, and the source text between the tokens bashlex reports must be nothing
but blanks, line continuations and comments. That catches both constructs bashlex
mis-parses (ANSI-C and locale quoting, backslashes and mixed quotes inside one
word) and text it silently drops.

`parse_args` then splits one command's arguments according to a `Spec`; the
specs of the allowlisted programs live in `bash_programs`.
"""

from __future__ import annotations

import glob
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import bashlex  # type: ignore[import-untyped, unused-ignore]

MAX_SCRIPT_CHARS = 10_000
_LIST_OPERATORS = frozenset({";", "&&", "||"})
_DQ_ESCAPABLE = '$`"\\\n'
_METACHARS = "<>|&;()\n"
_BLANKS = " \t\n"


@dataclass(frozen=True)
class Word:
    """One shell word.

    Attributes:
        raw: The word exactly as written in the script.
        value: The word after quote removal (what the program receives).
        glob: A `glob` pattern (quoted parts escaped) when the word contains an
            unquoted ``*`` or ``?`` and so undergoes pathname expansion; else None.
    """

    raw: str
    value: str
    glob: str | None = None


@dataclass(frozen=True)
class SimpleCommand:
    """A simple command: its words, its ``< file`` inputs, and how it is joined.

    Attributes:
        words: The command's words.
        inputs: Its ``< file`` redirections.
        piped: Whether it is part of a pipeline.
        joiner: What joins it to the command before it: ``&&`` (it runs only
            when that one succeeded), ``||`` (only when it failed), ``|`` (the
            same pipeline) or ``;`` (a newline, ``;``, or the first command).
    """

    words: tuple[Word, ...]
    inputs: tuple[Word, ...] = ()
    piped: bool = False
    joiner: str = ";"

    @property
    def argv(self) -> list[str]:
        """The argument vector after quote removal."""
        return [w.value for w in self.words]


class _Reject(Exception):
    """Raised internally when the script leaves the accepted subset."""


def _cook_single(raw: str, i: int, out: list[str], pat: list[str]) -> int:
    end = raw.find("'", i + 1)
    if end < 0:
        raise _Reject
    text = raw[i + 1 : end]
    out.append(text)
    pat.append(glob.escape(text))
    return end + 1


def _cook_double(raw: str, i: int, out: list[str], pat: list[str]) -> int:
    i += 1
    while i < len(raw) and raw[i] != '"':
        ch = raw[i]
        if ch in "$`":
            raise _Reject
        if ch == "\\" and i + 1 < len(raw) and raw[i + 1] in _DQ_ESCAPABLE:
            i += 1
            ch = "" if raw[i] == "\n" else raw[i]
        out.append(ch)
        pat.append(glob.escape(ch))
        i += 1
    if i >= len(raw):
        raise _Reject
    return i + 1


def _check_unquoted(raw: str, i: int, state: dict[str, int]) -> None:
    ch = raw[i]
    if ch in "$`[" or ch in _METACHARS or raw.startswith("**", i):
        raise _Reject
    if ch == "~" and (i == 0 or raw[i - 1] in "=:"):
        raise _Reject
    if ch == "{":
        state["braces"] += 1
    elif ch == "}":
        state["braces"] = max(0, state["braces"] - 1)
    elif state["braces"] and (ch == "," or raw.startswith("..", i)):
        raise _Reject  # brace expansion: {a,b} or {1..3}
    if ch in "*?":
        state["glob"] = 1


def _cook_word(raw: str) -> Word:
    """Quote-remove one raw shell word; raise `_Reject` if anything would expand."""
    out: list[str] = []
    pat: list[str] = []
    state = {"braces": 0, "glob": 0}
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "'":
            i = _cook_single(raw, i, out, pat)
        elif ch == '"':
            i = _cook_double(raw, i, out, pat)
        elif ch == "\\":
            if i + 1 >= len(raw):
                raise _Reject
            nxt = "" if raw[i + 1] == "\n" else raw[i + 1]
            out.append(nxt)
            pat.append(glob.escape(nxt))
            i += 2
        else:
            _check_unquoted(raw, i, state)
            out.append(ch)
            pat.append(ch)
            i += 1
    return Word(raw, "".join(out), "".join(pat) if state["glob"] else None)


def _chars_ok(command: str) -> bool:
    for ch in command:
        if ch in _BLANKS:
            continue
        if unicodedata.category(ch)[0] in "CZ":
            return False
    return True


@dataclass
class _Walker:
    text: str
    commands: list[SimpleCommand] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)

    def visit(self, node: Any, joiner: str = ";") -> None:
        kind = getattr(node, "kind", None)
        if kind == "list":
            for part in node.parts:
                if part.kind == "operator":
                    if part.op not in _LIST_OPERATORS:
                        raise _Reject
                    self.spans.append(part.pos)
                    joiner = part.op
                else:
                    # A list nested in a list is never expected; its first
                    # command is then taken to run after anything (";").
                    self.visit(part, joiner if part.kind != "list" else ";")
        elif kind == "pipeline":
            for part in node.parts:
                if part.kind == "pipe" and part.pipe == "|":
                    self.spans.append(part.pos)
                    joiner = "|"
                elif part.kind == "command":
                    self._command(part, piped=True, joiner=joiner)
                else:
                    raise _Reject
        elif kind == "command":
            self._command(node, piped=False, joiner=joiner)
        else:
            raise _Reject

    def _word(self, node: Any) -> Word:
        if getattr(node, "kind", None) != "word" or getattr(node, "parts", None):
            raise _Reject
        start, end = node.pos
        word = _cook_word(self.text[start:end])
        if word.value != node.word:
            raise _Reject
        return word

    def _command(self, node: Any, piped: bool, joiner: str) -> None:
        words: list[Word] = []
        inputs: list[Word] = []
        for part in node.parts:
            if part.kind == "word":
                words.append(self._word(part))
            elif part.kind == "redirect":
                self._redirect(part, inputs)
            else:
                raise _Reject
            self.spans.append(part.pos)
        if not words:
            raise _Reject
        self.commands.append(SimpleCommand(tuple(words), tuple(inputs), piped, joiner))

    def _redirect(self, node: Any, inputs: list[Word]) -> None:
        kind, fd, target = node.type, getattr(node, "input", None), node.output
        if getattr(node, "heredoc", None) is not None:
            raise _Reject
        if kind == ">&" and isinstance(target, int):
            if (fd, target) not in {(2, 1), (None, 2), (1, 2)}:
                raise _Reject
        elif kind == ">" and fd in (None, 1, 2) and not isinstance(target, int):
            word = self._word(target)
            if word.raw != "/dev/null":
                raise _Reject
        elif kind == "<" and fd in (None, 0) and not isinstance(target, int):
            inputs.append(self._word(target))
        else:
            raise _Reject

    def check_gaps(self) -> None:
        pos = 0
        for start, end in sorted(self.spans):
            if start < pos:
                raise _Reject
            self._gap(pos, start)
            pos = end
        self._gap(pos, len(self.text))

    def _gap(self, start: int, end: int) -> None:
        i = start
        while i < end:
            ch = self.text[i]
            if ch in _BLANKS:
                i += 1
            elif ch == "\\" and self.text.startswith("\\\n", i) and i + 1 < end:
                i += 2
            elif ch == "#" and (i == 0 or self.text[i - 1] in _BLANKS + ";&|"):
                newline = self.text.find("\n", i, end)
                i = end if newline < 0 else newline
            else:
                raise _Reject


def parse_script(command: str) -> list[SimpleCommand] | None:
    """Parse a script into simple commands, or None if it leaves the plain subset.

    Args:
        command: The bash script.

    Returns:
        The simple commands in execution order, or None when the script is empty,
        unparsable, or uses compound commands, background jobs, ``|&``,
        expansions or substitutions, assignments, heredocs, or redirections other
        than ``2>&1``, ``>&2``, ``1>&2``, ``>/dev/null``, ``2>/dev/null`` and
        ``< file``.
    """
    if len(command) > MAX_SCRIPT_CHARS or not command.strip() or not _chars_ok(command):
        return None
    try:
        trees = bashlex.parse(command)
    except Exception:  # bashlex raises many exception types on unsupported input
        return None
    walker = _Walker(command)
    try:
        for tree in trees:
            walker.visit(tree)
        walker.check_gaps()
    except _Reject:
        return None
    return walker.commands or None


@dataclass(frozen=True)
class Spec:
    """How one program's options look, for the generic argument checker.

    Attributes:
        paths: Whether positional arguments are file paths to check.
        arg_short: Short options that take a value (attached or next word).
        arg_long: Long options that take the next word as value when no ``=``.
        free: Options whose value is not a path (everything else is path-checked).
        bad_short: Short options that are never allowed.
        bad_long: Long options (without ``--``) never allowed, nor any prefix of them.
        exact_long: Long options with special meaning: allowed only when spelled
            out in full, since GNU getopt would accept an abbreviation we missed
            (the same holds for `arg_long`).
        known_long: Long options allowed although they prefix a bad one.
        allow_long: When set, the only long options allowed (spelled in full):
            for programs whose implementation may vary (Claude Code runs ugrep
            for ``grep``), options outside the common set ask.
        allow_short: When set, the only short option letters allowed (digits,
            ``-NUM``, are always parsed as flags).
    """

    paths: bool = True
    arg_short: str = ""
    arg_long: frozenset[str] = frozenset()
    free: frozenset[str] = frozenset()
    bad_short: str = ""
    bad_long: tuple[str, ...] = ()
    exact_long: tuple[str, ...] = ()
    known_long: frozenset[str] = frozenset()
    allow_long: frozenset[str] | None = None
    allow_short: str | None = None


@dataclass
class ParsedArgs:
    """Options and positionals of one command line, split according to a `Spec`."""

    flags: list[str] = field(default_factory=list)
    values: list[tuple[str, str]] = field(default_factory=list)
    positionals: list[Word] = field(default_factory=list)


def long_option_ok(option: str, spec: Spec) -> bool:
    """Whether a ``--name`` option is allowed by `spec` (abbreviations included).

    Args:
        option: The option name including the leading ``--`` and without ``=value``.
        spec: The program's option spec.

    Returns:
        False for a bad option, any abbreviation of one, an abbreviation of
        an option with special meaning or taking a separate value, or, when the
        spec has an allowlist, any option not on it.
    """
    name = option[2:]
    if not name:
        return False
    if spec.allow_long is not None:
        return option in spec.allow_long
    if option in spec.known_long:
        return True
    if any(bad.startswith(name) for bad in spec.bad_long):
        return False
    special = (*spec.exact_long, *(opt[2:] for opt in spec.arg_long))
    return name in special or not any(ex.startswith(name) for ex in special)


def _take_value(words: Sequence[Word], i: int) -> str:
    if i >= len(words) or words[i].glob is not None:
        raise _Reject
    return words[i].value


def _short_cluster(words: Sequence[Word], i: int, spec: Spec, out: ParsedArgs) -> int:
    text = words[i].value
    for k, letter in enumerate(text[1:], start=2):
        if letter in spec.bad_short:
            raise _Reject
        if spec.allow_short is not None and letter not in spec.allow_short + "0123456789":
            raise _Reject
        if letter in spec.arg_short:
            if k < len(text):
                out.values.append(("-" + letter, text[k:]))
                return i + 1
            out.values.append(("-" + letter, _take_value(words, i + 1)))
            return i + 2
        out.flags.append("-" + letter)
    return i + 1


def parse_args(words: Sequence[Word], spec: Spec) -> ParsedArgs | None:
    """Split arguments into flags, option values and positionals.

    Args:
        words: The arguments (without the program name).
        spec: The program's option spec.

    Returns:
        The split arguments, or None when a forbidden or ambiguous option is used
        or an option word (or option value) is subject to glob expansion.
    """
    out = ParsedArgs()
    i = 0
    try:
        while i < len(words):
            word = words[i]
            text = word.value
            if text == "--":
                out.positionals.extend(words[i + 1 :])
                break
            if text == "-" or not text.startswith("-"):
                out.positionals.append(word)
                i += 1
            elif word.glob is not None:
                return None
            elif text.startswith("--"):
                name, eq, value = text.partition("=")
                if not long_option_ok(name, spec):
                    return None
                if eq:
                    out.values.append((name, value))
                elif name in spec.arg_long:
                    out.values.append((name, _take_value(words, i + 1)))
                    i += 1
                else:
                    out.flags.append(name)
                i += 1
            else:
                i = _short_cluster(words, i, spec, out)
    except _Reject:
        return None
    return out
