"""How Claude Code clients are configured: one settings object, one options builder."""

from __future__ import annotations

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

SettingSource = Literal["user", "project", "local"]

PermissionAsker = Callable[
    [str, dict[str, Any], str | None], Awaitable[tuple[bool, str | None, dict[str, Any] | None]]
]
SafetyCheck = Callable[[str, dict[str, Any]], bool]

_ASK: HookJSONOutput = {
    "hookSpecificOutput": {
        "hookEventName": "PreToolUse",
        "permissionDecision": "ask",
        "permissionDecisionReason": "voice-agent decides calls it cannot prove read-only",
    }
}


def gate_hook(is_safe: SafetyCheck) -> HookMatcher:
    """A PreToolUse hook that sends every call not proven safe to ``can_use_tool``.

    Claude Code allows some calls by itself (e.g. ``Read`` of any file inside its
    working directory, ``.env`` included); this hook makes our policy the only
    one that can let a call through unasked. It fails closed.

    Args:
        is_safe: Our safe-call policy for the session.

    Returns:
        The hook matcher for ``ClaudeAgentOptions.hooks["PreToolUse"]``.
    """

    async def pre_tool_use(
        hook_input: HookInput, tool_use_id: str | None, context: HookContext
    ) -> HookJSONOutput:
        if hook_input["hook_event_name"] != "PreToolUse":
            return {}
        if is_safe(hook_input["tool_name"], dict(hook_input["tool_input"])):
            return {}
        return _ASK

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
    """

    cli_path: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    setting_sources: tuple[SettingSource, ...] = ("user", "project", "local")
    model: str | None = None
    max_live_clients: int = 4
    idle_timeout: float | None = 1800.0
    extra_roots: tuple[str, ...] = ()
    stream_text: bool = True


def build_options(
    settings: AgentSettings,
    *,
    cwd: str,
    resume: str | None,
    permission_mode: str,
    ask: PermissionAsker,
    is_safe: SafetyCheck,
) -> ClaudeAgentOptions:
    """Build the SDK options for one session's client.

    Args:
        settings: The shared settings.
        cwd: The session's working directory.
        resume: Claude session id to resume, if any.
        permission_mode: The session's permission mode.
        ask: Decides each tool call:
            ``(tool, input, tool_use_id) -> (approved, message, updated input or None)``.
        is_safe: The safe-call policy; every other call is sent to ``ask``.

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
        env=dict(settings.env),
        setting_sources=list(settings.setting_sources),
        model=settings.model,
        resume=resume,
        permission_mode=mode,
        can_use_tool=can_use_tool,
        hooks={"PreToolUse": [gate_hook(is_safe)]},
        include_partial_messages=settings.stream_text,
    )
