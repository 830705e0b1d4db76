"""Sticky approval rules: "Always" scoped to what was approved, matched anchored.

A rule made from an approved call covers only calls like it:

* ``Bash``: the program and subcommand (``npm test``, ``git commit``, ``npm run lint``);
  for interpreters, shells and destructive or network programs only the exact command.
  A later command matches when it parses into plain simple commands, each of which is
  covered by the rule (``cd`` inside the working directory and ``echo``/``true`` are
  allowed between them). Redirections, substitutions and the like never match.
* file edits (``Edit``, ``Write``, ``MultiEdit``, ``NotebookEdit``): the working-directory
  tree when the approved file was inside it, else that one file; secret-looking files
  and files under ``.git`` (whose config can run programs) never match.
* ``WebFetch``: the approved URL's host.
* any other tool: the tool.

Patterns are regular expressions matched with ``re.fullmatch`` (anchored at both ends).
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

from voice_agent.sessions.safety import is_secret_below, is_secret_path, is_within, simple_commands

EDIT_TOOLS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})

TOOL_FIELD_NAMES: dict[str, str] = {
    "Bash": "command",
    "Edit": "file_path",
    "Write": "file_path",
    "MultiEdit": "file_path",
    "NotebookEdit": "notebook_path",
    "Read": "file_path",
    "WebFetch": "url",
}

# Programs whose every argument matters: a rule for them covers only the exact command.
EXACT_ONLY_PROGRAMS = frozenset(
    """
    sh bash zsh dash fish ksh csh tcsh python python2 python3 pypy pypy3 node deno bun
    ruby perl php lua osascript eval exec source sudo su doas env nohup nice timeout time
    xargs parallel watch rm rmdir mv cp dd shred chmod chown chgrp ln install truncate mkfs
    mount umount kill pkill killall reboot shutdown halt systemctl crontab at curl wget ssh
    scp sftp rsync nc ncat netcat socat telnet ftp sed awk gawk tee find git-shell
    """.split()
)

# Programs used as ``prog subcommand ...``: a rule covers that subcommand.
SUBCOMMAND_PROGRAMS = frozenset(
    """
    git npm npx yarn pnpm cargo go docker podman kubectl helm pip pip3 uv poetry pdm hatch
    make just gh terraform dotnet mvn gradle bundle rake brew apt apt-get conda mix composer
    tox nox pre-commit ruff
    """.split()
)

# ``prog run X``: the rule covers script X, not every script.
_RUN_SUBCOMMANDS = frozenset({"run", "exec", "x", "run-script"})

# Harmless commands allowed beside covered ones in a compound command.
_INERT_PROGRAMS = frozenset({"echo", "true", "false", "pwd"})


def command_prefix(argv: list[str]) -> list[str] | None:
    """Return the words a sticky rule for ``argv`` keeps, or None for the exact command.

    Args:
        argv: One simple command, quotes removed.
    """
    program = argv[0]
    if program in EXACT_ONLY_PROGRAMS or "/" in program:
        return None
    if program not in SUBCOMMAND_PROGRAMS or len(argv) == 1:
        return argv[:1]
    if argv[1].startswith("-"):
        return None
    if argv[1] in _RUN_SUBCOMMANDS and len(argv) > 2 and not argv[2].startswith("-"):
        return argv[:3]
    return argv[:2]


def _argv_text(argv: list[str]) -> str:
    return shlex.join(argv)


def _resolve(path: str, cwd: str | None) -> str:
    base = cwd or os.getcwd()
    return os.path.realpath(os.path.join(base, os.path.expanduser(path)))


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

        Args:
            tool_name: Name of the tool being called.
            input_data: Input parameters for the tool.
            cwd: The session's working directory, for relative paths.

        Returns:
            True if the tool call matches this sticky approval.
        """
        if tool_name != self.tool_name or self.expired:
            return False
        if self.pattern is None or not self.field_name:
            return True
        value = input_data.get(self.field_name)
        if not isinstance(value, str) or not value:
            return False
        if self.field_name == "command":
            return self._matches_command(value, cwd)
        if tool_name in EDIT_TOOLS:
            resolved = _resolve(value, cwd)
            below = is_secret_below(resolved, [cwd]) if cwd else is_secret_path(resolved)
            if below or f"{os.sep}.git{os.sep}" in resolved + os.sep:
                return False  # secrets and git's own files always ask
            return re.fullmatch(self.pattern, resolved) is not None
        return re.fullmatch(self.pattern, value) is not None

    def covers_argv(self, argv: list[str]) -> bool:
        """Whether this ``Bash`` rule covers one simple command.

        Args:
            argv: The simple command, quotes removed.
        """
        if self.pattern is None or self.expired:
            return False
        return re.fullmatch(self.pattern, _argv_text(argv)) is not None

    def _matches_command(self, command: str, cwd: str | None) -> bool:
        commands = simple_commands(command)
        if not commands:
            return False
        return all(self.covers_argv(argv) or is_inert(argv, cwd) for argv in commands)

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
    some rule (or is inert, like ``cd`` inside the cwd).

    Args:
        rules: A session's sticky rules.
        tool_name: Name of the tool.
        input_data: Its input.
        cwd: The session's working directory.
    """
    for rule in rules:
        if rule.matches(tool_name, input_data, cwd):
            return rule
    if tool_name != "Bash":
        return None
    commands = simple_commands(str(input_data.get("command", "")))
    bash_rules = [r for r in rules if r.tool_name == "Bash"]
    if not commands or not bash_rules:
        return None
    used: StickyApproval | None = None
    for argv in commands:
        covering = next((r for r in bash_rules if r.covers_argv(argv)), None)
        if covering is None and not is_inert(argv, cwd):
            return None
        used = used or covering
    return used


def is_inert(argv: list[str], cwd: str | None) -> bool:
    """Whether a simple command is harmless beside covered ones (``echo``, ``cd`` inside cwd).

    Args:
        argv: The simple command.
        cwd: The session's working directory.
    """
    if argv[0] in _INERT_PROGRAMS:
        return True
    if argv[0] == "cd" and len(argv) == 2 and cwd is not None:
        target = argv[1]
        return not target.startswith(("~", "-")) and is_within(_resolve(target, cwd), [cwd])
    return False


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


def _edit_rule(tool_name: str, field_name: str, path: str, cwd: str | None) -> StickyApproval:
    resolved = _resolve(path, cwd)
    if cwd is not None and is_within(resolved, [cwd]):
        root = os.path.realpath(cwd)
        return StickyApproval(
            tool_name, re.escape(root + os.sep) + ".*", field_name, f"{tool_name} files in {root}"
        )
    return StickyApproval(tool_name, re.escape(resolved), field_name, f"{tool_name} {resolved}")


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
    field_name = TOOL_FIELD_NAMES.get(tool_name)
    value = input_data.get(field_name) if field_name else None
    if tool_name == "Bash" and isinstance(value, str) and value.strip():
        return _bash_rule(value, cwd)
    if tool_name in EDIT_TOOLS and field_name and isinstance(value, str) and value:
        return _edit_rule(tool_name, field_name, value, cwd)
    if tool_name == "WebFetch" and isinstance(value, str) and value:
        return _fetch_rule(value)
    return StickyApproval(tool_name, None, None, f"all {tool_name}")
