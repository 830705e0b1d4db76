"""Routed words ("on api: …") follow the same rules as the words alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import CliHarness
from tests.e2e.helpers import cli_processes
from tests.e2e.telegram_harness import team_bot

pytestmark = pytest.mark.e2e

GROUP, CHATTER = -100778, 3004


async def test_a_claude_command_after_on_a_project_needs_an_approver(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = tmp_path / "api"
    api.mkdir()
    projects = {"api": api}
    async with team_bot(harness, tmp_path, monkeypatch, GROUP, CHATTER, projects=projects) as bot:
        bot.tg.send_text(GROUP, CHATTER, "on api: /mcp enable all")
        await bot.reply(
            lambda m: (
                m.from_bot
                and m.content.startswith("Only an approver can send Claude Code its own /commands.")
            ),
            GROUP,
        )
        assert bot.cli.fake.requests == []
        assert cli_processes() == []  # nothing reached Claude Code, nothing switched
        assert bot.svc.manager.get(GROUP, "api") is None
        bot.tg.send_text(GROUP, CHATTER, "on api: /compact")  # anyone may compact
        await bot.reply(lambda m: m.from_bot and "No messages to compact" in m.content, GROUP)
        session = bot.svc.manager.get(GROUP)
        assert session is not None
        assert (session.name, session.cwd) == ("api", str(api))
