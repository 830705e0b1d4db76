"""Forum topics as sessions, end to end: a supergroup with topics, the real CLI, a restart."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CliHarness
from tests.e2e.telegram_harness import OWNER, TIMEOUT, BotHarness, running_bot
from tests.e2e.test_telegram_e2e import final_answer
from tests.fakes.anthropic import Reply
from tests.fakes.audio import voice_note
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from tests.fakes.telegram_types import StoredMessage

pytestmark = pytest.mark.e2e

FORUM = -100900


def _in(thread: int | None, predicate: Any) -> Any:
    """``predicate``, limited to bot messages in one topic (None: the General topic)."""
    return lambda m: m.from_bot and m.thread_id == thread and predicate(m)


def _script(api_dir: Path) -> Any:
    def script(request: Any) -> Reply:
        if request.tool_results():
            return Reply.text("Written in api.")
        text = request.last_user_text()
        if "write" in text:
            return Reply.tool_use("Write", {"file_path": str(api_dir / "api.txt"), "content": "x"})
        return Reply.text(f"echo: {text}")

    return script


@pytest.fixture
async def bot(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[BotHarness]:
    """The bot serving a supergroup with topics (the owner may use it)."""
    async with running_bot(
        harness, tmp_path, monkeypatch, allowed_chat_ids=frozenset({FORUM})
    ) as bot:
        bot.tg.supergroup(FORUM, "team", is_forum=True)
        yield bot


async def _topic(bot: BotHarness, title: str, session: str) -> int:
    """Create a topic as the owner; return its thread once the bot named its session."""
    topic = bot.tg.create_topic(FORUM, title, by=OWNER)
    await bot.reply(_in(topic, lambda m: f"This topic is session {session}," in m.content), FORUM)
    return topic


async def _press(bot: BotHarness, message: StoredMessage, label: str) -> None:
    button = next(b for b in message.buttons if label in str(b.get("text")))
    bot.tg.press_button(FORUM, OWNER, message.message_id, str(button["callback_data"]))


async def test_topics_are_sessions_that_run_concurrently_and_survive_a_restart(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api_dir = harness.workdir / "api"
    api_dir.mkdir()
    harness.fake.script = _script(api_dir)
    settings: dict[str, Any] = {
        "allowed_chat_ids": frozenset({FORUM}),
        "projects": {"api": api_dir},
    }
    async with FakeTelegram(token=DEFAULT_TOKEN) as tg:
        tg.private_chat(OWNER, "Ada")
        tg.supergroup(FORUM, "team", is_forum=True)
        api = tg.create_topic(FORUM, "API", by=OWNER)
        docs = tg.create_topic(FORUM, "Docs", by=OWNER)
        async with running_bot(harness, tmp_path, monkeypatch, tg=tg, **settings) as bot:
            # The API topic's turn waits for an approval, shown in that topic...
            tg.send_text(FORUM, OWNER, "write api.txt", thread_id=api)
            intro = await bot.reply(_in(api, lambda m: "This topic is session" in m.content), FORUM)
            assert f"session api, working in {api_dir}" in intro.content
            prompt = await bot.reply(_in(api, lambda m: "Approval #1" in m.content), FORUM)
            # ...while the Docs topic answers meanwhile, in its own session.
            tg.send_text(FORUM, OWNER, "hello docs", thread_id=docs)
            await bot.reply(_in(docs, final_answer(bot, "echo: hello docs")), FORUM)
            # The General topic keeps the chat's active session.
            tg.send_text(FORUM, OWNER, "hello general")
            await bot.reply(_in(None, final_answer(bot, "echo: hello general")), FORUM)
            await _press(bot, prompt, "Approve")
            await bot.reply(_in(api, final_answer(bot, "Written in api.")), FORUM)
            assert (api_dir / "api.txt").read_text() == "x"

            manager = bot.svc.manager
            assert manager.topics[FORUM] == {api: "api", docs: "docs"}
            assert manager.get_active_session_name(FORUM) == "main"
            assert manager.get(FORUM, "docs").cwd == str(harness.workdir)  # type: ignore[union-attr]
            conversations = {
                manager.get(FORUM, name).claude_session_id  # type: ignore[union-attr]
                for name in ("main", "api", "docs")
            }
            assert len(conversations) == 3
            assert None not in conversations
            first: dict[str, Any] = {}
            for request in harness.fake.main_requests:
                first.setdefault(request.user_texts()[0], request)
            assert "hello docs" not in first["hello general"].user_texts()
            assert str(api_dir) in json.dumps(first["write api.txt"].body)  # the CLI's cwd
            assert str(api_dir) not in json.dumps(first["hello docs"].body)

            tg.send_text(FORUM, OWNER, "/status", thread_id=docs)
            status = await bot.reply(_in(docs, lambda m: "Session: docs" in m.content), FORUM)
            assert "This topic works in this session." in status.content

        async with running_bot(harness, tmp_path, monkeypatch, tg=tg, **settings) as bot:
            tg.send_text(FORUM, OWNER, "and now?", thread_id=api)
            await bot.reply(_in(api, final_answer(bot, "echo: and now?")), FORUM)
            assert "write api.txt" in harness.fake.main_requests[-1].user_texts()
            intros = [m for m in tg.messages(FORUM, api) if "This topic is session" in m.content]
            assert len(intros) == 1  # the topic kept its session across the restart


async def test_session_commands_in_a_topic_leave_the_chat_alone(
    bot: BotHarness, harness: CliHarness
) -> None:
    harness.fake.script = lambda request: Reply.text(f"echo: {request.last_user_text()}")
    topic = await _topic(bot, "Spike", "spike")
    assert bot.svc.manager.topics[FORUM] == {topic: "spike"}
    bot.tg.send_text(FORUM, OWNER, "/new trial", thread_id=topic)
    await bot.reply(_in(topic, lambda m: "Session trial" in m.content), FORUM)
    sub = harness.workdir / "sub"
    sub.mkdir()
    bot.tg.send_text(FORUM, OWNER, "/cwd sub", thread_id=topic)
    await bot.reply(_in(topic, lambda m: f"trial now works in {sub}" in m.content), FORUM)
    bot.tg.send_text(FORUM, OWNER, "/switch main", thread_id=topic)
    switched = await bot.reply(_in(topic, lambda m: "Session main" in m.content), FORUM)
    assert "is active in this topic" in switched.content
    bot.tg.send_text(FORUM, OWNER, "/switch trial", thread_id=topic)
    await bot.reply(_in(topic, lambda m: "Session trial (" in m.content), FORUM)
    manager = bot.svc.manager
    assert manager.get_active_session_name(FORUM) == "main"
    assert manager.get(FORUM).cwd == str(harness.workdir)  # type: ignore[union-attr]
    assert manager.get(FORUM, "trial").cwd == str(sub)  # type: ignore[union-attr]
    bot.tg.send_text(FORUM, OWNER, "/sessions", thread_id=topic)
    listing = await bot.reply(_in(topic, lambda m: "Sessions:" in m.content), FORUM)
    assert "▶️ trial" in listing.content
    assert "▫️ main" in listing.content


async def test_renaming_a_topic_renames_its_session_unless_you_named_it(bot: BotHarness) -> None:
    topic = await _topic(bot, "Spike", "spike")
    bot.tg.rename_topic(FORUM, topic, "Spike v2", by=OWNER)
    await bot.reply(_in(topic, lambda m: "spike is now spike-v2" in m.content), FORUM)
    bot.tg.send_text(FORUM, OWNER, "/rename spike-v2 mine", thread_id=topic)
    await bot.reply(_in(topic, lambda m: "is now mine" in m.content), FORUM)
    bot.tg.rename_topic(FORUM, topic, "Final", by=OWNER)
    titles = bot.svc.manager.topic_titles
    await bot.tg.wait_for(lambda: titles.get((FORUM, topic)) == "Final", TIMEOUT)
    assert bot.svc.manager.topics[FORUM] == {topic: "mine"}
    assert len([t for t in bot.bot_texts(FORUM) if "like its topic" in t]) == 1


async def test_a_spoken_yes_decides_the_request_of_its_own_topic(
    bot: BotHarness, harness: CliHarness
) -> None:
    def script(request: Any) -> Reply:
        if request.tool_results():  # the file does not exist: the read ran and failed
            return Reply.text("Finished.")
        topic = request.last_user_text().split()[-1]
        return Reply.tool_use("Read", {"file_path": f"/etc/voice-agent-test-{topic}"})

    harness.fake.script = script
    first = bot.tg.create_topic(FORUM, "First", by=OWNER)
    second = bot.tg.create_topic(FORUM, "Second", by=OWNER)
    for topic, name in ((first, "first"), (second, "second")):
        bot.tg.send_text(FORUM, OWNER, f"read {name}", thread_id=topic)
        await bot.reply(_in(topic, lambda m: "Approval #1" in m.content), FORUM)
    bot.tg.send_voice(FORUM, OWNER, voice_note("yes"), duration=1, thread_id=second)
    await bot.reply(_in(second, lambda m: "approved #1" in m.content), FORUM)
    await bot.reply(_in(second, final_answer(bot, "Finished.")), FORUM)
    first_session = bot.svc.manager.get(FORUM, "first")
    assert first_session is not None
    assert len(first_session.permission_handler.pending_requests()) == 1
    bot.tg.send_text(FORUM, OWNER, "/cancel", thread_id=first)
    await bot.reply(_in(first, final_answer(bot, "")), FORUM)


async def test_a_shared_session_asks_where_its_running_turn_came_from(
    bot: BotHarness, harness: CliHarness
) -> None:
    release = threading.Event()
    target = harness.workdir / "shared.txt"
    write = Reply.tool_use("Write", {"file_path": str(target), "content": "x"})
    harness.fake.enqueue(
        dataclasses.replace(write, hang=release), Reply.text("Written."), Reply.text("Hello.")
    )
    topic = await _topic(bot, "Docs", "docs")
    bot.tg.send_text(FORUM, OWNER, "/switch docs")  # General uses the topic's session too
    await bot.reply(_in(None, lambda m: "Session docs" in m.content), FORUM)
    bot.tg.send_text(FORUM, OWNER, "write it", thread_id=topic)
    await harness.fake.main_request(1)
    bot.tg.send_text(FORUM, OWNER, "hello")  # waits for the session behind "write it"
    await bot.reply(_in(None, lambda m: "session docs is busy elsewhere" in m.content), FORUM)
    await bot.tg.wait_for(lambda: len(bot.svc.desk.threads.get(_key(bot), [])) == 2, TIMEOUT)
    release.set()
    prompt = await bot.reply(lambda m: m.from_bot and "Approval #1" in m.content, FORUM)
    assert prompt.thread_id == topic
    await _press(bot, prompt, "Approve")
    await bot.reply(_in(topic, final_answer(bot, "Written.")), FORUM)
    await bot.reply(_in(None, final_answer(bot, "Hello.")), FORUM)


def _key(bot: BotHarness) -> int:
    session = bot.svc.manager.get(FORUM, "docs")
    assert session is not None
    return session.key
