"""Alerts that mean something, and /status's way back to the terminal, end to end.

Progress (status line, streamed answer, "Queued") is sent silently; approvals
alert; the answer alerts only after a turn longer than ``NOTIFY_AFTER`` (0 here
makes every turn "long", 3600 makes every turn "quick": no sleeps).
"""

from __future__ import annotations

import shlex
import threading
from pathlib import Path

import pytest

from tests.e2e.conftest import CliHarness
from tests.e2e.helpers import cli_processes
from tests.e2e.telegram_harness import OWNER, BotHarness, running_bot
from tests.e2e.test_telegram_e2e import final_answer
from tests.fakes.anthropic import Reply
from tests.fakes.telegram import MAX_TEXT_LENGTH, utf16_len
from tests.fakes.telegram_types import StoredMessage
from voice_agent.telegram.commands import terminal_command

pytestmark = pytest.mark.e2e

QUICK = 3600.0  # no test turn takes an hour: every answer is "quick"
SLOW = 0.0  # every turn takes longer than no time: every answer is "slow"


def _sent(bot: BotHarness, text: str) -> list[StoredMessage]:
    """Bot messages whose first version contained ``text`` (deleted ones too)."""
    return [
        m
        for m in bot.messages()
        if m.from_bot and text in (m.history[0].text or "" if m.history else m.content)
    ]


async def _write_turn(bot: BotHarness, name: str) -> StoredMessage:
    bot.cli.fake.enqueue(
        Reply.tool_use("Write", {"file_path": str(bot.cli.workdir / name), "content": "x\n"}),
        Reply.text("Written, all done.", chunk_size=4),
    )
    bot.tg.send_text(OWNER, None, f"create {name}")
    return await bot.approval_prompt()


async def test_progress_and_a_quick_answer_are_silent_an_approval_alerts(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(harness, tmp_path, monkeypatch, notify_after=QUICK) as bot:
        release = threading.Event()
        bot.cli.fake.enqueue(
            Reply.text("first answer " * 20, chunk_size=6, hang=release), Reply.text("second")
        )
        bot.tg.send_text(OWNER, None, "one")
        await bot.reply("first")  # streaming: a partial answer is shown
        bot.tg.send_text(OWNER, None, "two")
        queued = await bot.reply("Queued")
        release.set()
        first = await bot.reply(final_answer(bot, "first answer"))
        await bot.reply(final_answer(bot, "second"))
        assert queued.silent
        statuses = _sent(bot, "Thinking")
        assert statuses
        assert all(m.silent for m in statuses)
        assert first.history  # streamed by edits…
        assert first.silent  # …and finished silently
        assert all(m.silent for m in bot.messages() if m.from_bot)

        prompt = await _write_turn(bot, "notes.txt")
        assert not prompt.silent  # needs the user: alerts
        await bot.press(prompt, "Approve")
        answer = await bot.reply(final_answer(bot, "Written, all done."))
        assert answer.silent


async def test_a_slow_turns_answer_arrives_as_a_new_alerting_message(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(harness, tmp_path, monkeypatch, notify_after=SLOW) as bot:
        release = threading.Event()
        bot.cli.fake.enqueue(Reply.text("long thought " * 20, chunk_size=6, hang=release))
        bot.tg.send_text(OWNER, None, "think hard")
        streamed = await bot.reply("long")
        assert streamed.silent
        release.set()
        answer = await bot.reply(final_answer(bot, "long thought"))
        assert not answer.silent
        assert answer.message_id != streamed.message_id
        # No answer twice: the streamed copy goes once the alerting one is there.
        await bot.tg.wait_for(lambda: bot.tg.message(OWNER, streamed.message_id).deleted, 30)
        assert [m.message_id for m in bot.messages() if m.from_bot and not m.deleted] == [
            answer.message_id
        ]


async def test_quiet_silences_a_slow_answer_but_not_an_approval(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(harness, tmp_path, monkeypatch, notify_after=SLOW) as bot:
        bot.tg.send_text(OWNER, None, "/quiet on")
        await bot.reply("Quiet")
        prompt = await _write_turn(bot, "quiet.txt")
        assert not prompt.silent
        await bot.press(prompt, "Approve")
        answer = await bot.reply(final_answer(bot, "Written, all done."))
        assert answer.silent
        bot.tg.send_text(OWNER, None, "/quiet off")
        await bot.reply("Alerts on")
        bot.cli.fake.enqueue(Reply.text("loud again"))
        bot.tg.send_text(OWNER, None, "and now?")
        assert not (await bot.reply(final_answer(bot, "loud again"))).silent


async def test_status_shows_the_command_that_continues_in_a_terminal(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(harness, tmp_path, monkeypatch) as bot:
        bot.tg.send_text(OWNER, None, "/status")
        before = await bot.reply("Session: main")
        assert "Nothing to resume" in before.content
        bot.cli.fake.enqueue(Reply.text("hello"))
        bot.tg.send_text(OWNER, None, "hi")
        await bot.reply(final_answer(bot, "hello"))
        session_id = bot.svc.manager.get(OWNER).claude_session_id  # type: ignore[union-attr]
        assert session_id
        bot.tg.send_text(OWNER, None, "/status")
        status = await bot.reply(lambda m: m.from_bot and "claude --resume" in m.content)
        command = f"cd {shlex.quote(str(bot.cli.workdir))} && claude --resume {session_id}"
        assert command in status.content
        assert any(e["type"] == "pre" for e in status.entities)  # tap to copy
        copy = status.reply_markup["inline_keyboard"][0][0]  # type: ignore[index]
        assert copy["copy_text"] == {"text": command}


async def test_a_failed_turns_error_alerts_even_when_quick(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(harness, tmp_path, monkeypatch, notify_after=QUICK) as bot:
        bot.cli.fake.enqueue(Reply.http_error(529, "the scripted model is overloaded"))
        bot.tg.send_text(OWNER, None, "fail please")
        error = await bot.reply(lambda m: m.from_bot and "⚠️" in m.content)
        assert "the scripted model is overloaded" in error.content
        assert not error.silent  # a turn that stopped needs the user, however quick
        assert all(m.silent for m in _sent(bot, "Thinking"))


async def test_a_crashed_clis_error_alerts(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(harness, tmp_path, monkeypatch, notify_after=QUICK) as bot:
        release = threading.Event()
        bot.cli.fake.enqueue(Reply.text("never finished " * 20, chunk_size=6, hang=release))
        bot.tg.send_text(OWNER, None, "crash now")
        streamed = await bot.reply("never")
        assert streamed.silent
        try:
            for process in cli_processes():
                process.kill()
            error = await bot.reply(lambda m: m.from_bot and "stopped" in m.content)
        finally:
            release.set()
        assert "⚠️" in error.content
        assert not error.silent  # the turn stopped: the user hears of it


async def test_status_with_a_long_pending_command_still_fits_one_message(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(harness, tmp_path, monkeypatch) as bot:
        bot.cli.fake.enqueue(Reply.text("hello"))
        bot.tg.send_text(OWNER, None, "hi")
        await bot.reply(final_answer(bot, "hello"))
        script = "cat > notes.md <<'EOF'\n" + "<b>a line</b> & more words\n" * 300 + "EOF"
        bot.cli.fake.enqueue(Reply.tool_use("Bash", {"command": script}), Reply.text("Noted."))
        bot.tg.send_text(OWNER, None, "write the notes")
        prompt = await bot.approval_prompt()
        bot.tg.send_text(OWNER, None, "/status")
        status = await bot.reply(lambda m: m.from_bot and "claude --resume" in m.content)
        assert utf16_len(status.content) <= MAX_TEXT_LENGTH
        assert "Pending approval #1: Run command: cat > notes.md <<'EOF'\n<b>a line</b> &" in (
            status.content
        )
        session = bot.svc.manager.get(OWNER)
        assert session is not None
        command = terminal_command(session)
        assert command is not None
        assert status.content.endswith(command)
        await bot.press(prompt, "Reject")
        await bot.reply(lambda m: m.from_bot and "Noted." in m.content)
