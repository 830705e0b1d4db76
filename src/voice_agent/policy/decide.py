"""The one entry of the policy: what the automatic part of the decision order says.

:func:`decide` takes a tool call and the context it is made in (working directory,
read roots, deny and "Always" rules, permission mode, jail) and returns a
:class:`Verdict`, or None when a person must decide. The order is the documented
one: explicit deny rules, the checker (a Bash command it passes is rewritten to run
in the jail), "Always" rules, the permission mode. It is pure file-system work, safe
to run in a worker thread; the caller bounds its time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from voice_agent.policy.calls import is_edit_inside_cwd, is_safe_tool_call
from voice_agent.policy.jail import Jail, JailMode, needs_no_files
from voice_agent.policy.rules import StickyApproval, find_matching

__all__ = ["CallContext", "Verdict", "decide"]


@dataclass(frozen=True)
class Verdict:
    """What the automatic part of the decision order said about one call.

    Attributes:
        approved: Whether the call may run.
        decision: The audit decision: ``auto`` (provably read-only), ``sticky``,
            ``mode`` (``acceptEdits``) or ``policy-deny``.
        rule: What decided it, for the audit log.
        message: Told to Claude when the call is refused.
        updated_input: The input to run the tool with instead (a Bash command
            rewritten to run in the jail), or None for the original.
    """

    approved: bool
    decision: str
    rule: str | None = None
    message: str | None = None
    updated_input: dict[str, Any] | None = None

    @property
    def unasked(self) -> bool:
        """Whether the checker alone let the call through (no person, no rule of theirs)."""
        return self.approved and self.decision == "auto"


@dataclass(frozen=True)
class CallContext:
    """Where a call is made and what the session allows.

    Attributes:
        cwd: The session's working directory (None: the process's).
        jail: Where Bash commands that run unasked run.
        extra_roots: Further directories that may be read.
        deny_rules: Rules whose calls are refused without asking.
        rules: The session's (and its project's) "Always" rules.
        permission_mode: ``default``, ``acceptEdits`` or ``plan``.
    """

    cwd: str | None
    jail: Jail
    extra_roots: Sequence[str] = ()
    deny_rules: Sequence[StickyApproval] = ()
    rules: Sequence[StickyApproval] = field(default_factory=tuple)
    permission_mode: str = "default"


def decide(tool_name: str, input_data: Mapping[str, Any], context: CallContext) -> Verdict | None:
    """The automatic verdict for one call, in the documented order.

    Args:
        tool_name: The tool.
        input_data: Its input.
        context: Where it is made and what the session allows.

    Returns:
        The verdict, or None when a person must decide.
    """
    for rule in context.deny_rules:  # a deny rule refuses by its pattern alone, unbounded
        if rule.pattern_matches(tool_name, input_data, context.cwd):
            message = f"Refused by rule: {rule.describe()}"
            return Verdict(False, "policy-deny", rule.describe(), message)
    if is_safe_tool_call(tool_name, input_data, context.cwd, context.extra_roots):
        contained = _contained(tool_name, input_data, context)
        if contained is not None:
            return contained
    sticky = find_matching(context.rules, tool_name, input_data, context.cwd)
    if sticky is not None:
        return Verdict(True, "sticky", sticky.describe())
    if context.permission_mode == "acceptEdits" and is_edit_inside_cwd(
        tool_name, input_data, context.cwd
    ):
        return Verdict(True, "mode", "acceptEdits")
    return None


def _contained(
    tool_name: str, input_data: Mapping[str, Any], context: CallContext
) -> Verdict | None:
    """The verdict for a call the checker proved read-only: a Bash command goes to the jail.

    None when the jail cannot run here and the command touches files: then the call
    goes on down the decision order as if it were not proven safe.
    """
    if tool_name != "Bash":
        return Verdict(True, "auto", "read-only")
    command = str(input_data.get("command", ""))
    jail = context.jail
    if jail.mode is JailMode.CHECKER_ONLY:
        return Verdict(True, "auto", "read-only (checker only, no jail)")
    wrapped = jail.wrap(command, context.cwd or os.getcwd(), context.extra_roots)
    if wrapped is not None:
        jailed = {**input_data, "command": wrapped}
        return Verdict(True, "auto", "read-only, in the jail", updated_input=jailed)
    if needs_no_files(command):
        return Verdict(True, "auto", "read-only, touches no file")
    return None
