"""How Claude Code clients are configured: one settings object, one options builder."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from claude_agent_sdk import (
    ClaudeAgentOptions,
    HookContext,
    HookInput,
    HookJSONOutput,
    HookMatcher,
    PermissionResultAllow,
    PermissionResultDeny,
    ToolPermissionContext,
)

logger = logging.getLogger(__name__)

SettingSource = Literal["user", "project", "local"]

#: Set for every CLI: each Bash command starts in the session's working directory,
#: where the checker and the jail assume it runs.
FORCED_ENV = {"CLAUDE_BASH_MAINTAIN_PROJECT_WORKING_DIR": "1"}

PermissionAsker = Callable[
    [str, dict[str, Any], str | None], Awaitable[tuple[bool, str | None, dict[str, Any] | None]]
]


@dataclass(frozen=True)
class GateAnswer:
    """The ``PreToolUse`` hook's answer for one call.

    Attributes:
        allow: Run the call now, without asking (our checker proved it harmless).
        updated_input: Run it with this input instead (e.g. a jailed command).
    """

    allow: bool
    updated_input: dict[str, Any] | None = None


GateCheck = Callable[[str, dict[str, Any], str | None], Awaitable[GateAnswer]]
"""``(tool, input, tool_use_id) -> GateAnswer``: our policy, asked before Claude Code's."""

_ASK: HookJSONOutput = {
    "hookSpecificOutput": {
        "hookEventName": "PreToolUse",
        "permissionDecision": "ask",
        "permissionDecisionReason": "voice-agent decides calls it cannot prove read-only",
    }
}


def _allow(answer: GateAnswer) -> HookJSONOutput:
    output: dict[str, Any] = {
        "hookEventName": "PreToolUse",
        "permissionDecision": "allow",
        "permissionDecisionReason": "voice-agent proved it read-only",
    }
    if answer.updated_input is not None:
        output["updatedInput"] = answer.updated_input
    return {"hookSpecificOutput": output}  # type: ignore[typeddict-item]


def gate_hook(check: GateCheck) -> HookMatcher:
    """A PreToolUse hook that makes our policy the only one letting a call through unasked.

    Claude Code allows some calls by itself (e.g. ``Read`` of any file inside its
    working directory, ``.env`` included, or ``echo`` in Bash); this hook answers
    first. A call our checker proved harmless runs at once, with the input the
    check gave (a Bash command rewritten to run in the jail); every other call is
    sent to ``can_use_tool`` ("ask"). It fails closed: an error asks.

    Args:
        check: Our policy for the session.

    Returns:
        The hook matcher for ``ClaudeAgentOptions.hooks["PreToolUse"]``.
    """

    async def pre_tool_use(
        hook_input: HookInput, tool_use_id: str | None, context: HookContext
    ) -> HookJSONOutput:
        if hook_input["hook_event_name"] != "PreToolUse":
            return {}
        try:
            answer = await check(
                hook_input["tool_name"], dict(hook_input["tool_input"]), tool_use_id
            )
        except Exception:
            logger.exception("the PreToolUse check failed; asking")
            return _ASK
        return _allow(answer) if answer.allow else _ASK

    return HookMatcher(matcher=None, hooks=[pre_tool_use], on_failure="block")


@dataclass(frozen=True)
class AgentSettings:
    """Settings shared by every Claude Code client.

    Attributes:
        cli_path: The Claude Code CLI to run; None uses the one bundled with the SDK.
        env: Extra environment for the CLI (the process environment is inherited).
        setting_sources: Which Claude Code settings files to load (CLAUDE.md, MCP
            servers...); tests pass an empty tuple.
        model: Model name to ask for; None lets the CLI choose.
        max_live_clients: Most CLI processes alive at once.
        idle_timeout: Seconds after which an unused CLI process is closed (None: never).
        extra_roots: Directories besides a session's cwd whose files may be read
            without asking.
        stream_text: Ask the CLI for text deltas as they arrive.
        start_timeout: Seconds a new CLI process may take to connect; past that the
            turn ends with an error and the pool slot is free again.
    """

    cli_path: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    setting_sources: tuple[SettingSource, ...] = ("user", "project", "local")
    model: str | None = None
    max_live_clients: int = 4
    idle_timeout: float | None = 1800.0
    extra_roots: tuple[str, ...] = ()
    stream_text: bool = True
    start_timeout: float = 60.0


def build_options(
    settings: AgentSettings,
    *,
    cwd: str,
    resume: str | None,
    permission_mode: str,
    ask: PermissionAsker,
    check: GateCheck,
) -> ClaudeAgentOptions:
    """Build the SDK options for one session's client.

    Args:
        settings: The shared settings.
        cwd: The session's working directory.
        resume: Claude session id to resume, if any.
        permission_mode: The session's permission mode.
        ask: Decides each tool call:
            ``(tool, input, tool_use_id) -> (approved, message, updated input or None)``.
        check: Our policy, asked first by the ``PreToolUse`` hook; every call it does
            not allow is sent to ``ask``.

    Returns:
        Options for ``ClaudeSDKClient``.
    """

    async def can_use_tool(
        tool_name: str, input_data: dict[str, Any], context: ToolPermissionContext
    ) -> PermissionResultAllow | PermissionResultDeny:
        approved, message, updated = await ask(tool_name, input_data, context.tool_use_id)
        if approved:
            return PermissionResultAllow(updated_input=updated)
        return PermissionResultDeny(message=message or "Permission denied")

    # Our PermissionHandler applies ``acceptEdits`` itself (so each edit is audited and
    # limited to the cwd); only ``plan`` changes how the CLI itself behaves.
    mode: Any = "plan" if permission_mode == "plan" else "default"
    return ClaudeAgentOptions(
        cwd=cwd,
        cli_path=settings.cli_path,
        env={**settings.env, **FORCED_ENV},
        setting_sources=list(settings.setting_sources),
        model=settings.model,
        resume=resume,
        permission_mode=mode,
        can_use_tool=can_use_tool,
        hooks={"PreToolUse": [gate_hook(check)]},
        include_partial_messages=settings.stream_text,
    )
