"""Voice notes end to end: real speech (espeak-ng), the local engine, the real bot and CLI."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CliHarness
from tests.e2e.telegram_harness import OWNER, BotHarness, running_bot
from tests.fakes.anthropic import Reply
from tests.fakes.audio import silence_ogg, voice_note

pytestmark = pytest.mark.e2e


@pytest.fixture
async def bot(harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    async with running_bot(harness, tmp_path, monkeypatch) as running:
        yield running


def _said(text: str) -> Any:
    return lambda m: m.from_bot and m.content.startswith("🎙") and text in m.content.lower()


async def test_voice_note_becomes_a_prompt(bot: BotHarness) -> None:
    bot.cli.fake.enqueue(Reply.text("Running them now."))
    bot.tg.send_voice(OWNER, None, voice_note("run the tests"), duration=2)
    echo = await bot.reply(_said("run the tests"))
    assert any(e["type"] == "italic" for e in echo.entities)
    request = await bot.cli.fake.main_request(1)
    assert "run the tests" in request.last_user_text().lower()
    await bot.reply(lambda m: m.from_bot and "Running them now." in m.content)


async def _pending_write(bot: BotHarness, names: list[str]) -> None:
    bot.cli.fake.enqueue(
        Reply.tool_uses(*(("Read", {"file_path": f"/etc/voice-agent-test-{n}"}) for n in names)),
        Reply.text("Done reading."),
    )
    bot.tg.send_text(OWNER, None, "read the files")
    for number in range(1, len(names) + 1):
        await bot.approval_prompt(number)


async def test_spoken_yes_approves_the_pending_request(bot: BotHarness) -> None:
    await _pending_write(bot, ["one"])
    bot.tg.send_voice(OWNER, None, voice_note("yes"), duration=1)
    await bot.reply(lambda m: m.from_bot and "approved #1" in m.content)
    await bot.reply(lambda m: m.from_bot and "Done reading." in m.content)
    assert bot.cli.fake.main_requests[-1].last_user_text() != "yes"
    assert len(bot.cli.fake.main_requests) == 2  # "yes" was not sent as a prompt


def _pending_numbers(bot: BotHarness) -> list[int]:
    session = bot.svc.manager.get(OWNER)
    assert session is not None
    return [r.number for r in session.permission_handler.pending_requests()]


async def test_with_two_pending_voice_must_name_the_number(bot: BotHarness) -> None:
    await _pending_write(bot, ["one", "two"])
    bot.tg.send_voice(OWNER, None, voice_note("approve"), duration=1)
    await bot.reply(lambda m: m.from_bot and "Which one?" in m.content)
    bot.tg.send_voice(OWNER, None, voice_note("reject two"), duration=1)
    await bot.reply(lambda m: m.from_bot and "rejected #2" in m.content)
    bot.tg.send_voice(OWNER, None, voice_note("approve one"), duration=1)
    await bot.reply(lambda m: m.from_bot and "approved #1" in m.content)
    await bot.reply(lambda m: m.from_bot and "Done reading." in m.content)


async def test_a_yes_without_reply_with_two_pending_asks_which_and_decides_nothing(
    bot: BotHarness,
) -> None:
    await _pending_write(bot, ["one", "two"])
    bot.tg.send_voice(OWNER, None, voice_note("yes"), duration=1)
    asked = await bot.reply(lambda m: m.from_bot and "Which one?" in m.content)
    assert "(#1, #2)" in asked.content
    assert _pending_numbers(bot) == [1, 2]
    for number in (1, 2):  # both prompts still offer their buttons
        assert bot.tg.message(OWNER, (await bot.approval_prompt(number)).message_id).buttons
    bot.tg.send_voice(OWNER, None, voice_note("approve number three"), duration=1)
    await bot.reply(lambda m: m.from_bot and "No request #3 is waiting here" in m.content)
    assert _pending_numbers(bot) == [1, 2]
    bot.tg.send_text(OWNER, None, "/cancel")
    await bot.reply("stopped the running turn")


async def test_a_spoken_yes_replying_to_a_prompt_decides_that_prompt_only(
    bot: BotHarness,
) -> None:
    await _pending_write(bot, ["one", "two"])
    first, second = await bot.approval_prompt(1), await bot.approval_prompt(2)
    bot.tg.send_voice(OWNER, None, voice_note("yes"), duration=1, reply_to=second.message_id)
    await bot.reply(_said("approved #2"))
    await bot.reply(lambda m: m.message_id == second.message_id and "Approved by Ada" in m.content)
    assert _pending_numbers(bot) == [1]
    assert bot.tg.message(OWNER, first.message_id).buttons
    # #2 is decided: a second "yes" to it says so and never falls back to #1.
    bot.tg.send_voice(OWNER, None, voice_note("yes"), duration=1, reply_to=second.message_id)
    await bot.reply(_said("#2 is no longer pending; nothing was decided"))
    assert _pending_numbers(bot) == [1]
    bot.tg.send_voice(OWNER, None, voice_note("no"), duration=1, reply_to=first.message_id)
    await bot.reply(_said("rejected #1"))
    await bot.reply(lambda m: m.from_bot and "Done reading." in m.content)
    assert "Rejected by Ada" in bot.tg.message(OWNER, first.message_id).content


@pytest.mark.parametrize(
    ("said", "decided"), [("no, don't", "rejected #1"), ("yes, go ahead", "approved #1")]
)
async def test_phrases_that_agree_decide_together(bot: BotHarness, said: str, decided: str) -> None:
    await _pending_write(bot, ["one"])
    bot.tg.send_voice(OWNER, None, voice_note(said), duration=1)
    await bot.reply(lambda m: m.from_bot and decided in m.content)
    await bot.reply(lambda m: m.from_bot and "Done reading." in m.content)
    assert len(bot.cli.fake.main_requests) == 2  # the words were not sent as a prompt


async def test_an_unsure_spoken_yes_approves_nothing_but_an_unsure_no_rejects(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every transcript counts as unsure here: a misheard "yes" must never approve,
    # while a misheard "no" may reject (it runs nothing).
    async with running_bot(harness, tmp_path, monkeypatch, low_confidence=1.0) as bot:
        await _pending_write(bot, ["one"])
        bot.tg.send_voice(OWNER, None, voice_note("yes"), duration=1)
        await bot.reply(lambda m: m.from_bot and "not sure I heard that right" in m.content)
        assert _pending_numbers(bot) == [1]
        assert not any("approved" in text for text in bot.bot_texts())
        bot.tg.send_voice(OWNER, None, voice_note("no"), duration=1)
        await bot.reply(lambda m: m.from_bot and "rejected #1" in m.content)
        await bot.reply(lambda m: m.from_bot and "Done reading." in m.content)
        assert len(bot.cli.fake.main_requests) == 2


async def test_a_spoken_yes_replying_to_a_question_decides_nothing(bot: BotHarness) -> None:
    questions = [
        {
            "question": "Should I delete the build directory?",
            "header": "Delete",
            "options": [
                {"label": "Keep", "description": "keep it"},
                {"label": "Delete", "description": "delete it"},
            ],
            "multiSelect": False,
        }
    ]
    bot.cli.fake.enqueue(
        Reply.tool_use("AskUserQuestion", {"questions": questions}), Reply.text("Kept it.")
    )
    bot.tg.send_text(OWNER, None, "clean up")
    asked = await bot.reply(lambda m: m.from_bot and "Claude asks" in m.content)
    bot.tg.send_voice(OWNER, None, voice_note("yes"), duration=1, reply_to=asked.message_id)
    await bot.reply(lambda m: m.from_bot and "answered with their buttons" in m.content)
    assert "Approved" not in bot.tg.message(OWNER, asked.message_id).content
    await bot.press(bot.tg.message(OWNER, asked.message_id), "Keep")
    await bot.reply(lambda m: m.from_bot and "Kept it." in m.content)
    (result,) = (await bot.cli.fake.main_request(2)).tool_results()
    assert "Keep" in result.content
    assert not result.is_error


async def test_silence_sends_nothing(bot: BotHarness) -> None:
    bot.tg.send_voice(OWNER, None, silence_ogg(2.0), duration=2)
    await bot.reply("I heard nothing")
    assert bot.cli.fake.requests == []


async def test_broken_audio_gets_a_clear_reply(bot: BotHarness) -> None:
    bot.tg.send_voice(OWNER, None, os.urandom(5000), duration=3)
    await bot.reply("couldn't use that recording")
    assert bot.cli.fake.requests == []
    assert bot.svc.manager.get(OWNER) is not None


async def test_too_long_note_is_refused_before_download(bot: BotHarness) -> None:
    bot.tg.send_voice(OWNER, None, silence_ogg(1.0), duration=3600)
    await bot.reply("I take up to 300 s")
    assert not [c for c in bot.tg.sent if c.method == "getFile"]


async def test_unsure_transcript_asks_before_sending(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(harness, tmp_path, monkeypatch, low_confidence=1.0) as bot:
        bot.cli.fake.script = lambda request: Reply.text(f"got: {request.last_user_text()}")
        bot.tg.send_voice(OWNER, None, voice_note("show me the git diff"), duration=2)
        question = await bot.reply(lambda m: m.from_bot and "not sure I heard" in m.content)
        assert bot.cli.fake.requests == []
        await bot.press(question, "Send")
        await bot.reply(lambda m: m.from_bot and "got: " in m.content and "diff" in m.content)
        bot.tg.send_voice(OWNER, None, voice_note("delete everything"), duration=2)
        question = await bot.reply(
            lambda m: m.from_bot and "not sure" in m.content and m.callback_data
        )
        await bot.press(question, "Cancel")
        bot.tg.send_voice(OWNER, None, voice_note("open the readme"), duration=2)
        question = await bot.reply(
            lambda m: m.from_bot and "not sure" in m.content and "readme" in m.content.lower()
        )
        bot.tg.send_text(OWNER, None, "open README.md")  # the corrected text instead
        await bot.reply(lambda m: m.from_bot and "got: open README.md" in m.content)
        assert "Replaced by your typed text" in bot.tg.message(OWNER, question.message_id).content
        prompts = [r.last_user_text() for r in bot.cli.fake.main_requests]
        assert not any("delete" in p.lower() for p in prompts)


async def test_an_unsure_transcript_sent_after_a_new_session_goes_where_it_was_spoken(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(harness, tmp_path, monkeypatch, low_confidence=1.0) as bot:
        bot.cli.fake.enqueue(Reply.text("Here is the diff."))
        bot.tg.send_voice(OWNER, None, voice_note("show me the git diff"), duration=2)
        question = await bot.reply(lambda m: m.from_bot and "not sure I heard" in m.content)
        bot.tg.send_text(OWNER, None, "/new other")
        await bot.reply("Session other")
        await bot.press(question, "Send")
        answer = await bot.reply(
            lambda m: m.from_bot and "Here is the diff." in m.content and "tokens" in m.content
        )
        assert "main" in answer.content.splitlines()[-1]  # the session it was spoken to
        assert bot.svc.manager.get_active_session_name(OWNER) == "other"
        other = bot.svc.manager.get(OWNER, "other")
        assert other is not None
        assert not other.claude_session_id  # nothing ran there


async def test_spoken_replies_when_asked(bot: BotHarness) -> None:
    if bot.svc.tts is None:
        pytest.fail("espeak-ng must be installed (.ci/run installs it)")
    bot.tg.send_text(OWNER, None, "/voice on")
    await bot.reply("Spoken replies are on")
    release = threading.Event()
    release.set()
    bot.cli.fake.enqueue(Reply.text("All tests pass.\n\n```\n48 passed\n```"))
    bot.tg.send_voice(OWNER, None, voice_note("run the tests"), duration=2)
    spoken = await bot.reply(lambda m: m.from_bot and m.voice is not None)
    assert spoken.voice is not None
    data = bot.tg.download(spoken.voice.file_id)
    assert data[:4] == b"OggS"
    bot.tg.send_text(OWNER, None, "/voice off")
    await bot.reply("Spoken replies are off")


async def test_spoken_replies_with_stt_language_auto(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # STT_LANGUAGE=auto is no espeak-ng voice: the answer is spoken in English.
    async with running_bot(harness, tmp_path, monkeypatch, stt_language="auto") as bot:
        bot.tg.send_text(OWNER, None, "/voice on")
        await bot.reply("Spoken replies are on")
        bot.cli.fake.enqueue(Reply.text("All tests pass."))
        bot.tg.send_voice(OWNER, None, voice_note("run the tests"), duration=2)
        spoken = await bot.reply(lambda m: m.from_bot and m.voice is not None)
        assert spoken.voice is not None
        assert bot.tg.download(spoken.voice.file_id)[:4] == b"OggS"


async def test_a_voice_note_caption_reaches_claude_after_the_spoken_words(
    bot: BotHarness,
) -> None:
    bot.cli.fake.enqueue(Reply.text("Only there."))
    bot.tg.send_voice(
        OWNER, None, voice_note("run the tests"), duration=2, caption="only in the api folder"
    )
    await bot.reply(lambda m: m.from_bot and "Only there." in m.content)
    said = (await bot.cli.fake.main_request(1)).last_user_text()
    assert "run the test" in said.lower()
    assert "only in the api folder" in said
    assert "caption" in said  # Claude is told which part was typed


async def test_a_spoken_yes_with_a_caption_is_a_prompt_not_a_decision(bot: BotHarness) -> None:
    await _pending_write(bot, ["one"])
    bot.tg.send_voice(OWNER, None, voice_note("yes"), duration=1, caption="but not the tests")
    await bot.reply(lambda m: m.from_bot and "Queued" in m.content)
    assert _pending_numbers(bot) == [1]
    await bot.press(await bot.approval_prompt(1), "Approve")
    await bot.reply(lambda m: m.from_bot and "Done reading." in m.content)


async def test_a_text_sent_right_after_a_voice_note_runs_after_it(bot: BotHarness) -> None:
    bot.cli.fake.script = lambda request: Reply.text(f"got: {request.last_user_text()}")
    bot.tg.send_voice(OWNER, None, voice_note("run the tests"), duration=2)
    bot.tg.send_text(OWNER, None, "say hello")  # arrives while the note is transcribed
    await bot.reply("Queued — 1 prompt(s) ahead.")  # the note holds its place
    await bot.reply(lambda m: m.from_bot and "got: say hello" in m.content)
    first, second = await bot.cli.fake.main_request(1), await bot.cli.fake.main_request(2)
    assert "run the test" in first.last_user_text().lower()
    assert second.last_user_text() == "say hello"


@pytest.fixture
async def projects(harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    api = tmp_path / "api"
    api.mkdir()
    async with running_bot(harness, tmp_path, monkeypatch, projects={"api": api}) as running:
        yield running


def _active(bot: BotHarness) -> tuple[str, str]:
    session = bot.svc.manager.get(OWNER)
    assert session is not None
    return session.name, session.cwd


async def test_spoken_work_on_a_project_switches_like_the_typed_one(projects: BotHarness) -> None:
    bot = projects
    api = str(bot.settings.projects["api"])
    bot.tg.send_voice(OWNER, None, voice_note("let's work on api"), duration=2)
    await bot.reply(_said("work on api"))
    await bot.reply(f"📂 Working on api in {api}")
    assert _active(bot) == ("api", api)
    assert bot.cli.fake.requests == []  # a switch, not a prompt
    bot.cli.fake.script = lambda request: Reply.text(f"got: {request.last_user_text()}")
    bot.tg.send_text(OWNER, None, "what is here?")
    await bot.reply(lambda m: m.from_bot and "got: what is here?" in m.content)
    assert api in (await bot.cli.fake.main_request(1)).all_text()  # it ran in api


async def test_spoken_on_a_project_sends_the_rest_there(projects: BotHarness) -> None:
    bot = projects
    api = str(bot.settings.projects["api"])
    bot.cli.fake.script = lambda request: Reply.text(f"got: {request.last_user_text()}")
    bot.tg.send_voice(OWNER, None, voice_note("on api: run the tests"), duration=2)
    await bot.reply(lambda m: m.from_bot and "got: " in m.content)
    request = await bot.cli.fake.main_request(1)
    assert request.last_user_text().lower().startswith("run the test")  # "on api" is gone
    assert api in request.all_text()
    assert _active(bot) == ("api", api)


async def test_a_session_file_name_is_heard_right_and_claude_told_it_was_spoken(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "zephyr_client.py").write_text("")
    (project / "zephyr_secrets.env").write_text("TOKEN=hunter2\n")
    async with running_bot(harness, tmp_path, monkeypatch, default_cwd=project) as bot:
        bot.cli.fake.script = lambda request: Reply.text("Opened.")
        bot.tg.send_voice(OWNER, None, voice_note("open zephyr client dot py"), duration=2)
        echo = await bot.reply(_said("zephyr_client.py"))
        request = await bot.cli.fake.main_request(1)
        prompt = request.last_user_text()
        assert prompt.lower().startswith("open zephyr_client.py")
        assert "[Spoken; transcribed by speech recognition" in prompt
        assert "secrets" not in prompt
        underlined = [e for e in echo.entities if e["type"] == "underline"]
        if "Corrected to this project's names" in prompt:  # the decoder was unsure of it
            assert "→ zephyr_client.py" in prompt
            assert underlined
        else:  # the session's names primed the decoder and it heard the name itself
            assert not underlined
        await bot.reply(lambda m: m.from_bot and "Opened." in m.content)
