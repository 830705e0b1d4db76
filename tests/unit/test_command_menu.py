"""Claude Code's command names under Telegram's rules, and the menu built from them."""

from __future__ import annotations

import re

import pytest
from claude_agent_sdk import SystemMessage

from voice_agent.agent.events import SlashCommand
from voice_agent.agent.parse import MessageParser, described_commands
from voice_agent.telegram.command_menu import MAX_COMMANDS, build_menu, telegram_name

OURS = [("help", "Show help"), ("clear", "Forget Claude's context")]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("code-review", "code_review"),
        ("frontend:build", "frontend_build"),
        ("Deploy-Prod", "deploy_prod"),
        ("a--b::c", "a_b_c"),
        ("x" * 40, "x" * 32),
        ("-trim-", "trim"),
        ("__remote-workflow", None),
        ("---", None),
        ("héllo", "h_llo"),
    ],
)
def test_telegram_name(name: str, expected: str | None) -> None:
    assert telegram_name(name) == expected


def test_ours_come_first_and_win_a_clash_own_commands_before_builtin() -> None:
    claude = [
        SlashCommand("clear", "Claude's own clear", builtin=True),
        SlashCommand("compact", "Free up context", builtin=True),
        SlashCommand("code-review", "Review (project)"),
        SlashCommand("code:review", "Another spelling"),
        SlashCommand("frontend:build"),
    ]
    menu = build_menu(OURS, claude)
    assert menu.commands == (
        ("help", "Show help"),
        ("clear", "Forget Claude's context"),
        ("code_review", "Review (project)"),
        ("frontend_build", "Claude Code's /frontend:build"),
        ("compact", "Free up context"),
    )
    assert menu.originals == {
        "code_review": "code-review",
        "frontend_build": "frontend:build",
        "compact": "compact",
    }


def test_at_most_100_commands_with_descriptions_telegram_accepts() -> None:
    claude = [SlashCommand(f"skill-{n}", "word " * 100, builtin=n % 2 == 0) for n in range(200)]
    menu = build_menu(OURS, claude)
    assert len(menu.commands) == MAX_COMMANDS
    for name, description in menu.commands:
        assert re.fullmatch(r"[a-z0-9_]{1,32}", name)
        assert 1 <= len(description) <= 256
    theirs = [name for name, _ in menu.commands[len(OURS) :]]
    assert all(int(name.split("_")[1]) % 2 for name in theirs)  # own (odd) ones first
    assert menu.originals["skill_1"] == "skill-1"
    assert menu.originals["skill_198"] == "skill-198"  # no room in the menu, still mapped back
    assert len(menu.originals) == 200


def test_the_init_message_lists_commands_described_by_the_initialize_answer() -> None:
    described = described_commands(
        {
            "commands": [
                {"name": "code-review", "description": "Review (project)", "builtin": None},
                {"name": "compact", "description": "Free up context", "builtin": True},
                {"name": 3},
            ]
        }
    )
    parser = MessageParser(described)
    events = list(
        parser.parse(
            SystemMessage(
                subtype="init",
                data={"session_id": "s1", "slash_commands": ["code-review", "compact", "new"]},
            )
        )
    )
    reported = events[-1]
    assert reported.commands == (  # type: ignore[union-attr]
        SlashCommand("code-review", "Review (project)", builtin=False),
        SlashCommand("compact", "Free up context", builtin=True),
        SlashCommand("new"),
    )
