"""Sticky approval rules: "Always" scoped to what was approved, matched anchored and bounded.

A rule made from an approved call covers only calls like it:

* ``Bash``: the program and subcommand (``npm test``, ``git commit``, ``npm run lint``,
  ``git stash list``, ``tar tf``); for interpreters of any version, runners
  (``uv run``, ``npx``, ``cargo run``), installers, shells, wrappers and destructive or
  network programs only the exact command (see
  :func:`voice_agent.policy.rule_scope.exact_only`). A later command matches when
  it parses into plain simple commands, each of which is covered by the rule (``cd``
  inside the working directory and ``echo``/``true`` are allowed between them).
* file edits (``Edit``, ``Write``, ``MultiEdit``, ``NotebookEdit``) and ``Read``: the
  working-directory tree when the approved file was inside it, else that one file.
* ``WebFetch``: the approved URL's host.
* any other tool: the tool.

Patterns are regular expressions matched with ``re.fullmatch`` (anchored at both ends).
Whatever a rule's pattern says, and for rules already stored too, matching is bounded
(:mod:`voice_agent.policy.rule_scope`): no rule covers a secret-looking or private
path, an option the read-only checker forbids or one that runs programs, writes files
or reads file lists, a redirection or substitution, or (for edits) a file that makes
programs run later (:func:`voice_agent.policy.edit_guard.runs_code_later`).
"""

from __future__ import annotations

import os
import re
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from voice_agent.policy import bash_parse as bp
from voice_agent.policy import command_reach as reach
from voice_agent.policy import rule_scope as scope
from voice_agent.policy.bash import is_within, simple_commands
from voice_agent.policy.bash_parse import SimpleCommand, Word
from voice_agent.policy.edit_guard import auto_edit_refused, edit_targets

EDIT_TOOLS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})
READ_TOOLS = frozenset({"Read", "Glob", "Grep", "LS", "NotebookRead"})

TOOL_FIELD_NAMES: dict[str, str] = {
    "Bash": "command",
    "Edit": "file_path",
    "Write": "file_path",
    "MultiEdit": "file_path",
    "NotebookEdit": "notebook_path",
    "Read": "file_path",
    "WebFetch": "url",
}
_PATH_FIELDS = {"NotebookRead": "notebook_path", **TOOL_FIELD_NAMES}

# Kept here for callers of the old names; the tables live in `command_reach`.
EXACT_ONLY_PROGRAMS = reach.EXACT_ONLY_PROGRAMS
SUBCOMMAND_PROGRAMS = reach.SUBCOMMAND_PROGRAMS


def command_prefix(argv: list[str]) -> list[str] | None:
    """Return the words a sticky rule for ``argv`` keeps, or None for the exact command.

    Args:
        argv: One simple command, quotes removed.
    """
    if scope.exact_only(argv):
        return None
    name = scope.program_name(argv[0])
    if name not in reach.SUBCOMMAND_PROGRAMS or len(argv) == 1:
        return argv[:1]
    if argv[1].startswith("-"):
        return None
    if argv[1] in reach.RUN_SUBCOMMANDS and len(argv) > 2 and not argv[2].startswith("-"):
        return argv[:3]
    nested = reach.NESTED_SUBCOMMANDS.get(name, frozenset())
    if argv[1] not in nested and "*" not in nested:
        return argv[:2]
    depth = reach.SUBCOMMAND_DEPTH.get(name, 2)
    words = argv[:2]
    for word in argv[2 : depth + 1]:
        if word.startswith("-"):
            break
        words.append(word)
    return words


def _argv_text(argv: list[str]) -> str:
    return shlex.join(argv)


@dataclass
class StickyApproval:
    """A sticky approval rule that auto-approves matching tool calls.

    Attributes:
        tool_name: Name of the tool to auto-approve.
        pattern: Optional regex pattern to match against field value.
        field_name: Field to match pattern against ('command', 'file_path', etc).
        label: Human description of what the rule covers.
        rule_id: The rule's id in the store, when persisted.
        expires_at: Unix time after which the rule no longer applies (None: until revoked).
        project: The project directory the rule covers, for a rule of every session
            working there (None: this session only).
    """

    tool_name: str
    pattern: str | None = None
    field_name: str | None = None
    label: str | None = field(default=None, compare=False)
    rule_id: int | None = field(default=None, compare=False)
    expires_at: float | None = field(default=None, compare=False)
    project: str | None = field(default=None, compare=False)

    @property
    def expired(self) -> bool:
        """Whether the rule's time is up."""
        return self.expires_at is not None and time.time() >= self.expires_at

    def matches(
        self, tool_name: str, input_data: Mapping[str, Any], cwd: str | None = None
    ) -> bool:
        """Check if this sticky approval matches a tool call.

        The rule's pattern must match, and the call must stay within the bounds no
        rule crosses (see the module docstring), checked here every time.

        Args:
            tool_name: Name of the tool being called.
            input_data: Input parameters for the tool.
            cwd: The session's working directory, for relative paths.

        Returns:
            True if the tool call matches this sticky approval.
        """
        if tool_name != self.tool_name or self.expired:
            return False
        if tool_name == "Bash":
            command = input_data.get("command")
            return isinstance(command, str) and covering_rule([self], command, cwd) is self
        if tool_name in EDIT_TOOLS or tool_name in READ_TOOLS:
            return self._matches_path(tool_name, input_data, cwd)
        if self.pattern is None or not self.field_name:
            return True
        value = input_data.get(self.field_name)
        if not isinstance(value, str) or not value:
            return False
        return re.fullmatch(self.pattern, value) is not None

    def pattern_matches(
        self, tool_name: str, input_data: Mapping[str, Any], cwd: str | None = None
    ) -> bool:
        """Whether the rule's pattern names this call, without the bounds of `matches`.

        For deny rules, which must refuse more, not less: a Bash command matches
        when the whole text or any one of its simple commands matches.

        Args:
            tool_name: Name of the tool being called.
            input_data: Input parameters for the tool.
            cwd: The session's working directory, for relative paths.
        """
        if tool_name != self.tool_name or self.expired:
            return False
        if self.pattern is None or not self.field_name:
            return True
        value = input_data.get(self.field_name)
        if not isinstance(value, str) or not value:
            return False
        texts = {value}
        if self.field_name == "command":
            texts |= {_argv_text(argv) for argv in simple_commands(value) or []}
        elif tool_name in EDIT_TOOLS or tool_name in READ_TOOLS:
            lexical, reals = edit_targets(value, cwd)
            texts |= {lexical, *reals}
        return any(re.fullmatch(self.pattern, text) for text in texts)

    def covers_argv(self, argv: list[str], cwd: str | None = None) -> bool:
        """Whether this ``Bash`` rule covers one simple command (run in `cwd`).

        Args:
            argv: The simple command, quotes removed.
            cwd: The session's working directory (default: the process's).
        """
        root = _root(cwd)
        command = SimpleCommand(tuple(Word(a, a) for a in argv))
        return self._covers(argv) and scope.command_in_scope(command, frozenset({root}), root)

    def _covers(self, argv: list[str]) -> bool:
        """Whether the pattern covers `argv`; only by naming it exactly for `exact_only`."""
        if self.expired:
            return False
        text = _argv_text(argv)
        if scope.exact_only(argv):
            if self.pattern is None or text not in scope.literal_texts(self.pattern):
                return False
            return re.fullmatch(self.pattern, text) is not None
        if self.pattern is None or not self.field_name:
            return True
        return re.fullmatch(self.pattern, text) is not None

    def _matches_path(self, tool_name: str, input_data: Mapping[str, Any], cwd: str | None) -> bool:
        """Edits and reads: bounded first, then the pattern against every resolved path."""
        value = input_data.get(_PATH_FIELDS.get(tool_name, "path"))
        if tool_name in EDIT_TOOLS:
            if not isinstance(value, str) or not value or auto_edit_refused(value, cwd):
                return False
        elif not scope.read_in_scope(tool_name, input_data, cwd):
            return False
        if self.pattern is None or not self.field_name:
            return True
        value = input_data.get(self.field_name)
        if not isinstance(value, str) or not value:
            return False
        _, reals = edit_targets(value, cwd)
        return all(re.fullmatch(self.pattern, real) for real in reals)

    def describe(self) -> str:
        """Get a human-readable description of this approval.

        Returns:
            Description string.
        """
        if self.label:
            text = self.label
        elif self.pattern:
            text = f"{self.tool_name} matching '{self.pattern}'"
        else:
            text = f"all {self.tool_name}"
        return text + self._scope()

    def _scope(self) -> str:
        """`` — this project (/code/api), until 14:05`` when not the plain default."""
        parts = []
        if self.project:
            parts.append(f"project {self.project}")
        if self.expires_at is not None:
            until = time.strftime("%H:%M", time.localtime(self.expires_at))
            parts.append(f"until {until}" + (" (expired)" if self.expired else ""))
        return f" — {', '.join(parts)}" if parts else ""


def find_matching(
    rules: Sequence[StickyApproval], tool_name: str, input_data: Mapping[str, Any], cwd: str | None
) -> StickyApproval | None:
    """The rule that approves a call, if any.

    A Bash command made of several simple commands passes when each is covered by
    some rule (or is inert, like ``cd`` inside the cwd), within the bounds.

    Args:
        rules: A session's sticky rules.
        tool_name: Name of the tool.
        input_data: Its input.
        cwd: The session's working directory.
    """
    if tool_name == "Bash":
        command = input_data.get("command")
        if not isinstance(command, str):
            return None
        return covering_rule([r for r in rules if r.tool_name == "Bash"], command, cwd)
    return next((r for r in rules if r.matches(tool_name, input_data, cwd)), None)


def covering_rule(
    rules: Sequence[StickyApproval], command: str, cwd: str | None
) -> StickyApproval | None:
    """The first of `rules` covering part of a Bash command, when all of it is covered.

    Every simple command must be within the bounds (judged from every directory
    an earlier ``cd`` may have led to) and be covered by some rule or be inert.

    Args:
        rules: ``Bash`` rules.
        command: The bash script.
        cwd: The session's working directory (default: the process's).

    Returns:
        The rule covering the first covered simple command, or None.
    """
    commands = bp.parse_script(command)
    live = [r for r in rules if not r.expired]
    if not commands or not live:
        return None
    root = _root(cwd)
    cwds = frozenset({root})
    used: StickyApproval | None = None
    try:
        for cmd in commands:
            if not scope.command_in_scope(cmd, cwds, root):
                return None
            argv = cmd.argv
            if _moves_shell(argv):
                return None  # pushd, popd, builtin cd: where later commands run is unknown
            if scope.program_name(argv[0]) == "cd":
                landed = scope.cd_targets(argv[1], cwds, root) if len(argv) == 2 else None
                if landed is None:
                    return None
                cwds = landed
                continue
            covering = next((r for r in live if r._covers(argv)), None)
            if covering is None and argv[0] not in reach.INERT_PROGRAMS:
                return None
            used = used or covering
    except (OSError, ValueError):
        return None  # what cannot be judged is not covered
    return used


def is_inert(argv: list[str], cwd: str | None) -> bool:
    """Whether a simple command is harmless beside covered ones (``echo``, ``cd`` inside cwd).

    Args:
        argv: The simple command.
        cwd: The session's working directory.
    """
    if argv[0] in reach.INERT_PROGRAMS:
        return True
    if argv[0] == "cd" and len(argv) == 2 and cwd is not None:
        root = _root(cwd)
        return scope.cd_targets(argv[1], frozenset({root}), root) is not None
    return False


def _moves_shell(argv: list[str]) -> bool:
    names = [scope.program_name(a) for a in argv[:2]]
    if names[0] in ("builtin", "command") and len(names) > 1:
        names = names[1:]
    return names[0] in ("pushd", "popd") or (names[0] == "cd" and argv[0] != "cd")


def _root(cwd: str | None) -> str:
    return os.path.realpath(cwd if cwd is not None else os.getcwd())


def _bash_rule(command: str, cwd: str | None) -> StickyApproval:
    commands = [argv for argv in simple_commands(command) or [] if not is_inert(argv, cwd)]
    alternatives: list[str] = []
    labels: list[str] = []
    for argv in commands:
        prefix = command_prefix(argv)
        if prefix is None:
            alternatives.append(re.escape(_argv_text(argv)))
            labels.append(_argv_text(argv))
        else:
            alternatives.append(re.escape(_argv_text(prefix)) + r"(?: .*)?")
            labels.append(_argv_text(prefix) + " …")
    if not alternatives:
        # Unparsable or only inert commands: cover exactly this command text.
        return StickyApproval("Bash", re.escape(command), "command", f"Bash: {command}")
    unique = list(dict.fromkeys(alternatives))
    pattern = unique[0] if len(unique) == 1 else "(?:" + "|".join(unique) + ")"
    return StickyApproval("Bash", pattern, "command", "Bash: " + ", ".join(dict.fromkeys(labels)))


def _path_rule(tool_name: str, field_name: str, path: str, cwd: str | None) -> StickyApproval:
    """The working-directory tree when `path` is inside it, else that one file."""
    _, reals = edit_targets(path, cwd)
    if cwd is not None and is_within(
        path if os.path.isabs(path) else os.path.join(cwd, path), [cwd]
    ):
        root = os.path.realpath(cwd)
        return StickyApproval(
            tool_name, re.escape(root + os.sep) + ".*", field_name, f"{tool_name} files in {root}"
        )
    real = sorted(reals)[0]
    pattern = "|".join(re.escape(r) for r in sorted(reals))
    return StickyApproval(tool_name, pattern, field_name, f"{tool_name} {real}")


def _fetch_rule(url: str) -> StickyApproval:
    parts = urlsplit(url)
    if not parts.hostname:
        return StickyApproval("WebFetch", re.escape(url), "url", f"WebFetch {url}")
    host = re.escape(parts.hostname)
    pattern = rf"https?://{host}(?::\d+)?(?:[/?#].*)?"
    return StickyApproval("WebFetch", pattern, "url", f"WebFetch from {parts.hostname}")


def derive_rule(tool_name: str, input_data: Mapping[str, Any], cwd: str | None) -> StickyApproval:
    """Build the narrowest useful sticky rule from an approved tool call.

    Args:
        tool_name: The approved tool.
        input_data: Its input.
        cwd: The session's working directory.

    Returns:
        A rule covering calls like this one (see the module docstring).
    """
    field_name = _PATH_FIELDS.get(tool_name)
    value = input_data.get(field_name) if field_name else None
    if tool_name == "Bash" and isinstance(value, str) and value.strip():
        return _bash_rule(value, cwd)
    path_tool = tool_name in EDIT_TOOLS or tool_name in ("Read", "NotebookRead")
    if path_tool and field_name and isinstance(value, str) and value:
        return _path_rule(tool_name, field_name, value, cwd)
    if tool_name == "WebFetch" and isinstance(value, str) and value:
        return _fetch_rule(value)
    return StickyApproval(tool_name, None, None, f"all {tool_name}")
