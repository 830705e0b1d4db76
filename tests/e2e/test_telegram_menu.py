"""The chat's command menu follows Claude Code, end to end.

The real CLI loads the project's ``.claude/commands/`` (``setting_sources=("project",)``)
and lists its commands when a turn begins; the bot sets the chat's menu from that on
the fake Bot API, and a menu name sent back reaches the model as Claude Code's command,
expanded from its ``.md`` file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from telegram import BotCommandScopeChat

from tests.e2e.conftest import CliHarness
from tests.e2e.telegram_harness import OWNER, TIMEOUT, BotHarness, running_bot
from tests.e2e.test_telegram_e2e import final_answer
from tests.fakes.anthropic import Reply
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from voice_agent.telegram.commands import COMMANDS

pytestmark = pytest.mark.e2e

SCOPE = {"type": "chat", "chat_id": OWNER}


def _project_commands(workdir: Path) -> None:
    commands = workdir / ".claude" / "commands"
    (commands / "frontend").mkdir(parents=True)
    (commands / "code-review.md").write_text(
        "---\ndescription: Review the change like a colleague\n---\n"
        "REVIEW-MARKER: look closely at $ARGUMENTS\n",
        encoding="utf-8",
    )
    (commands / "frontend" / "build.md").write_text("Build the frontend.\n", encoding="utf-8")


def _chat_menu_calls(bot: BotHarness) -> int:
    return sum(
        1
        for call in bot.tg.sent
        if call.method == "setMyCommands" and call.ok and call.params.get("scope") == SCOPE
    )


async def _turn(bot: BotHarness, prompt: str, answer: str) -> None:
    bot.cli.fake.enqueue(Reply.text(answer))
    bot.tg.send_text(OWNER, None, prompt)
    await bot.reply(final_answer(bot, answer))


async def test_the_menu_lists_our_commands_and_the_projects_and_maps_names_back(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project_commands(harness.workdir)
    async with FakeTelegram(token=DEFAULT_TOKEN) as tg:
        tg.private_chat(OWNER, "Ada")
        async with running_bot(
            harness, tmp_path, monkeypatch, tg=tg, setting_sources=("project",)
        ) as bot:
            assert tg.commands_for(SCOPE) == []  # before a CLI started: the default menu
            await _turn(bot, "hi", "hello")
            listed = await bot.app.bot.get_my_commands(scope=BotCommandScopeChat(OWNER))
            names = [c.command for c in listed]
            descriptions = {c.command: c.description for c in listed}
            assert names[: len(COMMANDS)] == [name for name, _ in COMMANDS]  # ours first
            assert "code_review" in names
            assert "frontend_build" in names
            assert "compact" in names  # Claude Code's own
            assert descriptions["code_review"].startswith("Review the change like a colleague")
            assert descriptions["clear"] == dict(COMMANDS)["clear"]  # ours win a clash
            assert len(names) == len(set(names)) <= 100
            assert not any(name.startswith("_") for name in names)
            assert _chat_menu_calls(bot) == 1

            await _turn(bot, "and again", "same commands")
            assert _chat_menu_calls(bot) == 1  # unchanged: Telegram is not asked again

            await _turn(bot, "/code_review src/app.py", "reviewed")
            prompt = bot.cli.fake.main_requests[-1].last_user_text()
            assert "<command-name>/code-review</command-name>" in prompt
            assert "REVIEW-MARKER: look closely at src/app.py" in prompt

        # After a restart the name still maps back before any CLI has started, and
        # the unchanged menu is not sent again.
        async with running_bot(
            harness, tmp_path, monkeypatch, tg=tg, setting_sources=("project",)
        ) as bot:
            before = _chat_menu_calls(bot)
            await _turn(bot, "/frontend_build", "built")
            prompt = bot.cli.fake.main_requests[-1].last_user_text()
            assert "<command-name>/frontend:build</command-name>" in prompt
            assert "Build the frontend." in prompt
            assert _chat_menu_calls(bot) == before


async def test_a_refused_menu_is_logged_and_the_turn_goes_on(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project_commands(harness.workdir)
    async with running_bot(harness, tmp_path, monkeypatch, setting_sources=("project",)) as bot:
        bot.tg.fail_next("setMyCommands", 400, description="Bad Request: BOT_COMMAND_INVALID")
        await _turn(bot, "hi", "answered anyway")
        assert bot.tg.commands_for(SCOPE) == []
        await _turn(bot, "once more", "second answer")  # not kept: tried again
        await bot.tg.wait_for(lambda: bot.tg.commands_for(SCOPE), TIMEOUT)
        assert "code_review" in [c["command"] for c in bot.tg.commands_for(SCOPE)]


async def test_a_project_command_past_the_menus_100_still_maps_back(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands = harness.workdir / ".claude" / "commands"
    commands.mkdir(parents=True)
    for n in range(150):
        (commands / f"task-{n:03}.md").write_text(f"TASK-{n:03}-MARKER $ARGUMENTS\n")
    async with running_bot(harness, tmp_path, monkeypatch, setting_sources=("project",)) as bot:
        await _turn(bot, "hi", "hello")
        listed = await bot.app.bot.get_my_commands(scope=BotCommandScopeChat(OWNER))
        assert len(listed) == 100
        shown = {c.command for c in listed}
        missing = [f"task_{n:03}" for n in range(150) if f"task_{n:03}" not in shown]
        assert missing  # some of the project's commands had no room in the menu
        await _turn(bot, f"/{missing[-1]} now", "ran it")
        prompt = bot.cli.fake.main_requests[-1].last_user_text()
        number = missing[-1].removeprefix("task_")
        assert f"<command-name>/task-{number}</command-name>" in prompt
        assert f"TASK-{number}-MARKER now" in prompt
