"""Hand-over from the terminal: a conversation begun with ``claude`` taken over with /resume all.

The terminal user is the real bundled Claude Code CLI, run directly (``claude -p``)
in another directory against the scripted model, with the same ``HOME`` and
config directory the bot's Claude Code uses.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import claude_agent_sdk
import pytest

from tests.e2e.conftest import TURN_TIMEOUT, CliHarness
from tests.e2e.telegram_harness import OWNER, BotHarness, running_bot, team_bot
from tests.e2e.test_telegram_e2e import _chatter_press, final_answer
from tests.fakes.anthropic import Reply
from tests.fakes.telegram import MAX_TEXT_LENGTH, utf16_len
from voice_agent.sessions.transcripts import HEAD_BYTES
from voice_agent.telegram.resume_all import OPEN_WINDOW

pytestmark = pytest.mark.e2e

CLAUDE = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
LISTING = "Claude Code conversations on this machine"


async def in_terminal(harness: CliHarness, directory: Path, prompt: str, answer: str) -> Path:
    """Run ``claude -p prompt`` in ``directory`` as a terminal user would; its transcript."""
    os.makedirs(directory, exist_ok=True)
    harness.fake.enqueue(Reply.text(answer))
    process = await asyncio.create_subprocess_exec(
        str(CLAUDE),
        "-p",
        prompt,
        cwd=directory,
        env={**os.environ, **harness.env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), TURN_TIMEOUT * 2)
    assert process.returncode == 0, err.decode()
    assert answer in out.decode()
    return transcript_of(Path(harness.env["CLAUDE_CONFIG_DIR"]) / "projects", prompt)


def transcript_of(projects: Path, prompt: str) -> Path:
    """The one transcript under ``projects`` that holds ``prompt``."""
    written = json.dumps(prompt, ensure_ascii=False)[1:-1]  # as the JSON records hold it
    (transcript,) = [p for p in projects.glob("*/*.jsonl") if written in p.read_text()]
    return transcript


def age_by(path: Path, seconds: float) -> None:
    """Make a transcript look last changed ``seconds`` ago (closed in the terminal since)."""
    stat = path.stat()
    os.utime(path, (stat.st_atime - seconds, stat.st_mtime - seconds))


def echo(bot: BotHarness) -> None:
    bot.cli.fake.script = lambda request: Reply.text(f"echo: {request.last_user_text()}")


async def test_resume_all_continues_a_terminal_conversation_in_its_directory(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "side project" and "side/project" share Claude Code's folder name: the real
    # directory is only in the transcript.
    elsewhere = tmp_path / "terminal" / "side project"
    transcript = await in_terminal(
        harness, elsewhere, "remember the word pomegranate", "Noted: pomegranate."
    )
    assert transcript.parent.name.endswith("-terminal-side-project")
    age_by(transcript, 300)
    async with running_bot(harness, tmp_path, monkeypatch) as bot:
        echo(bot)
        bot.tg.send_text(OWNER, None, "/resume all")
        menu = await bot.reply(lambda m: m.from_bot and LISTING in m.content)
        assert "remember the word pomegranate" in menu.content
        assert f"📁 {elsewhere} · 5 min ago" in menu.content
        assert "open in a terminal" not in menu.content
        assert all(len(str(b["callback_data"]).encode()) <= 64 for b in menu.buttons)
        assert not any(str(elsewhere) in str(b["callback_data"]) for b in menu.buttons)

        assert await bot.press(menu, "remember the word") == "Taken over."
        await bot.reply(lambda m: m.from_bot and "now works in" in m.content)
        session = bot.svc.manager.get(OWNER)
        assert session is not None
        assert session.cwd == str(elsewhere)
        assert session.claude_session_id == transcript.stem

        bot.tg.send_text(OWNER, None, "which word was it?")
        await bot.reply(final_answer(bot, "echo: which word was it?"))
        request = bot.cli.fake.main_requests[-1]
        assert "remember the word pomegranate" in request.user_texts()  # the terminal's turn
        assert "Noted: pomegranate." in request.assistant_texts()
        assert request.headers["x-claude-code-session-id"] == transcript.stem
        storage = bot.svc.manager.storage
        assert storage is not None
        stored = storage.get_session(OWNER, "main")
        assert stored is not None
        assert (stored.cwd, stored.claude_session_id) == (str(elsewhere), transcript.stem)


async def test_a_conversation_changed_seconds_ago_is_taken_over_only_when_confirmed(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "busy-terminal"
    transcript = await in_terminal(harness, elsewhere, "refactor the parser", "On it.")
    async with running_bot(harness, tmp_path, monkeypatch) as bot:
        bot.tg.send_text(OWNER, None, "/resume all")
        menu = await bot.reply(lambda m: m.from_bot and LISTING in m.content)
        assert "🟢 open in a terminal?" in menu.content
        await bot.press(menu, "refactor the parser")
        question = await bot.reply(lambda m: m.from_bot and "Take it over anyway?" in m.content)
        assert "probably still open in a terminal" in question.content
        session = bot.svc.manager.get(OWNER)
        assert session is not None
        assert session.cwd == str(bot.cli.workdir)  # nothing changed yet
        assert session.claude_session_id is None

        assert await bot.press(question, "Take it over") == "Taken over."
        assert session.cwd == str(elsewhere)
        assert session.claude_session_id == transcript.stem
        assert OPEN_WINDOW == 30.0


GROUP, CHATTER = -100779, 3005


@pytest.fixture
async def team(harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A group where the owner approves and Carol may only chat."""
    async with team_bot(harness, tmp_path, monkeypatch, GROUP, CHATTER) as bot:
        yield bot


async def test_a_chatter_can_neither_list_nor_take_over(team: BotHarness, tmp_path: Path) -> None:
    bot = team
    elsewhere = tmp_path / "private-work"
    transcript = await in_terminal(bot.cli, elsewhere, "rotate the staging keys", "Done.")
    age_by(transcript, 120)
    bot.tg.send_text(GROUP, CHATTER, "/resume all")
    refused = await bot.reply(lambda m: m.from_bot and "Only an approver" in m.content, GROUP)
    assert "rotate the staging keys" not in refused.content

    bot.tg.send_text(GROUP, OWNER, "/resume all")
    menu = await bot.reply(lambda m: m.from_bot and LISTING in m.content, GROUP)
    answer = await _chatter_press(bot, GROUP, CHATTER, menu, "rotate the staging")
    assert answer.startswith("Only an approver can list and take over")
    session = bot.svc.manager.get(GROUP)
    assert session is not None
    assert (session.cwd, session.claude_session_id) == (str(bot.cli.workdir), None)
    storage = bot.svc.manager.storage
    assert storage is not None
    refusals = [
        (e.user_id, e.input_summary) for e in storage.audit.entries() if e.decision == "refused"
    ]
    assert refusals == [
        (CHATTER, "/resume all refused"),
        (CHATTER, "/resume all: take over a conversation refused"),
    ]

    # The approver's pick, once the directory is gone: a clear message, nothing moves.
    elsewhere.rmdir()
    await _chatter_press(bot, GROUP, OWNER, menu, "rotate the staging")
    gone = await bot.reply(lambda m: m.from_bot and "no longer exists" in m.content, GROUP)
    assert str(elsewhere) in gone.content
    assert (session.cwd, session.claude_session_id) == (str(bot.cli.workdir), None)


async def test_a_conversation_begun_with_a_huge_pasted_prompt_is_listed_and_taken_over(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The transcript's first records (the queued prompt, the user turn) are each
    # longer than the head read of a record; the directory is in a later one.
    elsewhere = tmp_path / "logs"
    pasted = "why does this fail? " + "Traceback line \\ “quoted” 🎉\n" * 2500
    transcript = await in_terminal(harness, elsewhere, pasted, "A missing import.")
    assert len(transcript.read_bytes().split(b"\n", 1)[0]) > HEAD_BYTES
    age_by(transcript, 300)
    async with running_bot(harness, tmp_path, monkeypatch) as bot:
        echo(bot)
        bot.tg.send_text(OWNER, None, "/resume all")
        menu = await bot.reply(lambda m: m.from_bot and LISTING in m.content)
        assert "why does this fail? Traceback line \\ “quoted” 🎉 Traceback" in menu.content
        assert f"📁 {elsewhere} · 5 min ago" in menu.content
        assert utf16_len(menu.content) <= MAX_TEXT_LENGTH
        assert await bot.press(menu, "why does this fail") == "Taken over."
        session = bot.svc.manager.get(OWNER)
        assert session is not None
        assert (session.cwd, session.claude_session_id) == (str(elsewhere), transcript.stem)
