"""The Telegram bot end to end: a phone user's texts and button presses, the real CLI."""

from __future__ import annotations

import asyncio
import copy
import itertools
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CliHarness
from tests.e2e.helpers import cli_processes
from tests.e2e.telegram_harness import OWNER, BotHarness, running_bot, team_bot
from tests.fakes.anthropic import Reply
from tests.fakes.telegram_types import StoredMessage
from voice_agent.sessions import StickyApproval
from voice_agent.telegram.app import NOT_RUN, STOPPED_MID_TURN
from voice_agent.telegram.callbacks import Kind, encode
from voice_agent.telegram.prompts import EDITS_IGNORED

pytestmark = pytest.mark.e2e

_query_ids = itertools.count(9_000_000_001)


@pytest.fixture
async def bot(harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    async with running_bot(harness, tmp_path, monkeypatch) as running:
        yield running


FOOTER = re.compile(r"(?:^|· )\d+ s(?: ·|$)")


def final_answer(bot: BotHarness, text: str) -> Any:
    """A predicate: a bot message containing ``text`` whose turn is over (footer shown)."""
    return lambda m: (
        m.from_bot and text in m.content and bool(FOOTER.search(m.content.splitlines()[-1]))
    )


async def test_stranger_gets_nothing_and_starts_nothing(bot: BotHarness) -> None:
    bot.tg.private_chat(666, "Mallory")
    bot.tg.send_text(666, None, "run rm -rf / please")
    bot.tg.send_text(666, None, "/help")
    bot.tg.send_text(OWNER, None, "/help")
    await bot.reply("voice-agent drives Claude Code")
    assert [m for m in bot.tg.messages(666) if m.from_bot] == []
    assert bot.cli.fake.requests == []
    assert cli_processes() == []


async def test_pairing_makes_the_first_user_the_owner(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(harness, tmp_path, monkeypatch, allowed_user_ids=frozenset()) as bot:
        code = bot.svc.gate.pairing_code
        assert code is not None
        bot.tg.private_chat(555, "Eve")
        bot.tg.send_text(555, None, "/pair WRONGCODE")
        bot.tg.send_text(OWNER, None, f"/pair {code}")
        await bot.reply("Paired")
        bot.tg.send_text(555, None, f"/pair {code}")  # used up
        bot.tg.send_text(OWNER, None, "/help")
        await bot.reply("voice-agent drives Claude Code")
        assert [m for m in bot.tg.messages(555) if m.from_bot] == []
        assert bot.cli.fake.requests == []  # /pair is never sent to Claude as a prompt
        assert bot.svc.workers.waiting(OWNER) == 0
    assert bot.svc.manager.storage is not None
    assert bot.svc.manager.storage.owners.list() == [OWNER]


async def test_text_prompt_streams_a_formatted_reply(bot: BotHarness) -> None:
    bot.cli.fake.enqueue(Reply.text("Hello **world**, all `tests` pass.", chunk_size=5))
    bot.tg.send_text(OWNER, None, "say hello")
    answer = await bot.reply(final_answer(bot, "Hello world"))
    assert [e["type"] for e in answer.entities if e["type"] != "italic"] == ["bold", "code"]
    assert (await bot.cli.fake.main_request(1)).last_user_text() == "say hello"
    statuses = [
        m
        for m in bot.messages()
        if m.from_bot and "Thinking" in (m.history[0].text if m.history else m.content)
    ]
    assert all(m.deleted for m in statuses)
    assert any(a.action == "typing" for a in bot.tg.chat_actions)


async def _write_turn(bot: BotHarness, name: str, number: int = 1) -> StoredMessage:
    target = bot.cli.workdir / name
    bot.cli.fake.enqueue(
        Reply.tool_use("Write", {"file_path": str(target), "content": "line one\nline two\n"}),
        Reply.text("Finished."),
    )
    bot.tg.send_text(OWNER, None, f"create {name}")
    return await bot.approval_prompt(number)


async def test_approve_by_button(bot: BotHarness) -> None:
    prompt = await _write_turn(bot, "notes.txt")
    assert "notes.txt" in prompt.content
    assert "line one" in prompt.content
    assert await bot.press(prompt, "Approve") == ""
    await bot.reply(final_answer(bot, "Finished."))
    assert (bot.cli.workdir / "notes.txt").read_text() == "line one\nline two\n"
    edited = bot.tg.message(OWNER, prompt.message_id)
    assert "Approved by Ada" in edited.content
    assert edited.callback_data == []


async def test_a_prompt_refused_for_its_formatting_is_shown_plain(bot: BotHarness) -> None:
    bot.tg.fail_next(
        "sendMessage",
        400,
        description="Bad Request: can't parse entities: unsupported start tag",
        when=lambda p: "Approval" in str(p.get("text", "")),
    )
    prompt = await _write_turn(bot, "plain.txt")
    assert await bot.press(prompt, "Approve") == ""
    await bot.reply(final_answer(bot, "Finished."))
    assert (bot.cli.workdir / "plain.txt").exists()


async def test_a_prompt_that_cannot_be_shown_denies_and_says_so(bot: BotHarness) -> None:
    target = bot.cli.workdir / "hidden.txt"
    bot.cli.fake.enqueue(
        Reply.tool_use("Write", {"file_path": str(target), "content": "x\n"}),
        Reply.text("Finished."),
    )
    bot.tg.fail_next("sendMessage", 500, when=lambda p: "Approval" in str(p.get("text", "")))
    bot.tg.send_text(OWNER, None, "create hidden.txt")
    said = await bot.reply(
        lambda m: m.from_bot and "approval prompt could not be shown" in m.content
    )
    assert "Write (#1)" in said.content
    await bot.reply(final_answer(bot, "Finished."))
    assert not target.exists()


async def test_closing_a_session_with_a_pending_request_ends_its_prompt(
    bot: BotHarness,
) -> None:
    prompt = await _write_turn(bot, "closed.txt")
    bot.tg.send_text(OWNER, None, "/new other")
    await bot.reply("Session other")
    bot.tg.send_text(OWNER, None, "/close main")
    await bot.tg.wait_for(lambda: not bot.tg.message(OWNER, prompt.message_id).callback_data, 30)
    assert not (bot.cli.workdir / "closed.txt").exists()


async def test_reject_by_button(bot: BotHarness) -> None:
    prompt = await _write_turn(bot, "nope.txt")
    await bot.press(prompt, "Reject")
    await bot.reply(final_answer(bot, "Finished."))
    assert not (bot.cli.workdir / "nope.txt").exists()
    assert "Rejected by Ada" in bot.tg.message(OWNER, prompt.message_id).content
    second = await bot.cli.fake.main_request(2)
    assert second.tool_results()[0].is_error


async def test_always_approves_the_next_similar_call(bot: BotHarness) -> None:
    bot.cli.fake.enqueue(
        Reply.tool_use("Bash", {"command": "touch a.txt"}),
        Reply.text("one"),
        Reply.tool_use("Bash", {"command": "touch b.txt"}),
        Reply.text("two"),
    )
    bot.tg.send_text(OWNER, None, "touch a")
    prompt = await bot.approval_prompt()
    assert await bot.press(prompt, "Always") == "How far should “Always” go?"
    choice = bot.tg.message(OWNER, prompt.message_id)
    await bot.press(choice, "Back")
    assert "Approve" in str(bot.tg.message(OWNER, prompt.message_id).buttons)
    await bot.press(bot.tg.message(OWNER, prompt.message_id), "Always")
    await bot.press(bot.tg.message(OWNER, prompt.message_id), "♾ This session")
    await bot.reply(final_answer(bot, "one"))
    assert "Always approved" in bot.tg.message(OWNER, prompt.message_id).content
    bot.tg.send_text(OWNER, None, "touch b")
    await bot.reply(final_answer(bot, "two"))
    assert (bot.cli.workdir / "b.txt").exists()
    prompts = [m for m in bot.messages() if m.from_bot and "Approval #" in m.content]
    assert len(prompts) == 1
    bot.tg.send_text(OWNER, None, "/approvals")
    listing = await bot.reply("Sticky approvals in session main")
    assert "touch" in listing.content
    await bot.press(listing, "Revoke all")
    assert bot.svc.manager.get(OWNER).permission_handler.get_sticky_approvals() == []  # type: ignore[union-attr]


async def test_unanswered_prompt_times_out_and_says_so(bot: BotHarness) -> None:
    bot.svc.manager.get_or_create(OWNER).permission_handler.timeout = 1
    prompt = await _write_turn(bot, "late.txt")
    await bot.reply(final_answer(bot, "Finished."))
    assert "Timed out" in bot.tg.message(OWNER, prompt.message_id).content
    assert not (bot.cli.workdir / "late.txt").exists()


async def _bot_message_with_button(bot: BotHarness, chat_id: int, data: str) -> StoredMessage:
    """A message with one button, as an earlier run of the bot could have left it."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    sent = await bot.app.bot.send_message(
        chat_id,
        "an old prompt",
        reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("✅ Approve", callback_data=data)]]
        ),
    )
    return bot.tg.message(chat_id, sent.message_id)


async def test_stale_button_is_refused_and_changes_nothing(bot: BotHarness) -> None:
    prompt = await _write_turn(bot, "once.txt")
    request_id = prompt.callback_data[0].split(":", 1)[1]
    await bot.press(prompt, "Approve")
    await bot.reply(final_answer(bot, "Finished."))
    old = await _bot_message_with_button(bot, OWNER, encode(Kind.REJECT, request_id))
    assert await bot.press(old, "Approve") == "This request is no longer pending."
    assert (bot.cli.workdir / "once.txt").exists()
    assert "Approved by Ada" in bot.tg.message(OWNER, prompt.message_id).content
    forged = await _bot_message_with_button(bot, OWNER, "ok:not-a-request")
    assert await bot.press(forged, "Approve") == "This request is no longer pending."


async def test_button_for_another_chats_request_is_refused(bot: BotHarness) -> None:
    other = 2002
    bot.tg.private_chat(other, "Bob")
    bot.svc.gate._users = bot.svc.gate._users | {other}
    prompt = await _write_turn(bot, "mine.txt")
    request_id = prompt.callback_data[0].split(":", 1)[1]
    foreign = await _bot_message_with_button(bot, other, encode(Kind.APPROVE, request_id))
    assert (
        await bot.press(foreign, "Approve", chat_id=other) == "This request is no longer pending."
    )
    assert bot.svc.manager.get(OWNER).permission_handler.get_request(request_id) is not None  # type: ignore[union-attr]
    await bot.press(prompt, "Reject")
    await bot.reply(final_answer(bot, "Finished."))
    assert not (bot.cli.workdir / "mine.txt").exists()


async def test_two_chats_run_concurrently(bot: BotHarness) -> None:
    other = 2002
    bot.tg.private_chat(other, "Bob")
    bot.svc.gate._users = bot.svc.gate._users | {other}  # allow a second user
    release = threading.Event()

    def script(request: Any) -> Reply:
        if "slow" in request.last_user_text():
            return Reply.text("slow answer", hang=release)
        return Reply.text("fast answer")

    bot.cli.fake.script = script
    bot.tg.send_text(OWNER, None, "slow please")
    await bot.cli.fake.main_request(1)
    bot.tg.send_text(other, None, "fast please")
    try:
        await bot.reply(final_answer(bot, "fast answer"), chat_id=other)
    finally:
        release.set()
    await bot.reply(final_answer(bot, "slow answer"))


async def test_prompts_in_one_chat_queue_in_order(bot: BotHarness) -> None:
    release = threading.Event()
    bot.cli.fake.enqueue(Reply.text("first", hang=release), Reply.text("second"))
    bot.tg.send_text(OWNER, None, "one")
    await bot.cli.fake.main_request(1)
    bot.tg.send_text(OWNER, None, "two")
    await bot.reply("Queued")
    release.set()
    await bot.reply(final_answer(bot, "second"))
    assert (await bot.cli.fake.main_request(2)).last_user_text() == "two"


async def test_stop_button_interrupts_the_turn(bot: BotHarness) -> None:
    release = threading.Event()
    bot.cli.fake.enqueue(Reply.text("never ends " * 30, chunk_size=8, hang=release))
    bot.tg.send_text(OWNER, None, "talk")
    status = await bot.reply(lambda m: m.from_bot and "Stop" in str(m.buttons))
    await bot.reply("never en")  # the answer is streaming
    try:
        await bot.press(status, "Stop")
        await bot.reply(lambda m: m.from_bot and "Stopped" in m.content)
    finally:
        release.set()
    bot.cli.fake.enqueue(Reply.text("back"))
    bot.tg.send_text(OWNER, None, "again")
    await bot.reply(final_answer(bot, "back"))


async def test_sessions_dialog(bot: BotHarness) -> None:
    bot.tg.send_text(OWNER, None, "/new api")
    await bot.reply("Session api")
    bot.tg.send_text(OWNER, None, "/new web")
    await bot.reply("Session web")
    bot.tg.send_text(OWNER, None, "/sessions")
    dialog = await bot.reply("Sessions:")
    assert "▶️ web" in dialog.content
    await bot.press(dialog, "➡️ api")
    assert bot.svc.manager.get_active_session_name(OWNER) == "api"
    dialog = bot.tg.message(OWNER, dialog.message_id)
    await bot.press(dialog, "🗑 web")
    confirm = bot.tg.message(OWNER, dialog.message_id)
    assert "Close session web?" in confirm.content
    await bot.press(confirm, "Yes, close web")
    assert bot.svc.manager.get(OWNER, "web") is None
    bot.tg.send_text(OWNER, None, "/rename api work")
    await bot.reply("Session api is now work")
    bot.cli.fake.enqueue(Reply.text("named"))
    bot.tg.send_text(OWNER, None, "/new other")
    await bot.reply("Session other")
    bot.tg.send_text(OWNER, None, "hi")
    answer = await bot.reply(final_answer(bot, "named"))
    assert "other" in answer.content.splitlines()[-1]  # replies name the session
    bot.tg.send_text(OWNER, None, f"/cwd {bot.cli.workdir}/nowhere")
    await bot.reply("is not a directory")


async def test_formatting_refused_falls_back_to_plain_text(bot: BotHarness) -> None:
    bot.tg.fail_next(
        "sendMessage", status=400, description="Bad Request: can't parse entities: test", times=1
    )
    bot.cli.fake.enqueue(Reply.text("Some **bold** words."))
    bot.tg.send_text(OWNER, None, "format")
    answer = await bot.reply(final_answer(bot, "Some bold words."))
    assert answer.content.startswith("Some bold words.")


async def test_long_answer_is_split_and_attached(bot: BotHarness) -> None:
    paragraph = "word " * 200 + "\n\n"  # 20 paragraphs: over 20,000 characters
    bot.cli.fake.enqueue(Reply.text(paragraph * 20, chunk_size=2000))
    bot.tg.send_text(OWNER, None, "write a lot")
    document = await bot.reply(lambda m: m.from_bot and m.document is not None)
    assert document.document is not None
    texts = [
        m.content for m in bot.messages() if m.from_bot and not m.deleted and "word" in m.content
    ]
    assert len(texts) >= 5
    assert all(len(t.encode("utf-16-le")) // 2 <= 4096 for t in texts)
    assert sum(t.count("word") for t in texts) == 200 * 20
    assert bot.tg.download(document.document.file_id).decode().count("word") == 200 * 20


@pytest.mark.parametrize("status", [429, 500])
async def test_telegram_errors_mid_stream_lose_nothing(bot: BotHarness, status: int) -> None:
    bot.cli.fake.enqueue(
        Reply.text("part one. " * 40 + "the end.", chunk_size=40, chunk_delay=0.05)
    )
    bot.tg.fail_next(
        "editMessageText", status=status, retry_after=1 if status == 429 else None, times=2
    )
    bot.tg.fail_next(
        "sendMessage", status=status, retry_after=1 if status == 429 else None, times=1
    )
    bot.tg.send_text(OWNER, None, "stream")
    answer = await bot.reply(final_answer(bot, "the end."))
    assert answer.content.count("part one.") == 40


async def test_unknown_command_goes_to_claude_code(bot: BotHarness) -> None:
    bot.tg.send_text(OWNER, None, "/compact keep the tests")
    # Claude Code itself answers its /compact (there is nothing to compact yet).
    await bot.reply(final_answer(bot, "No messages to compact"))


async def test_photo_prompt_reaches_claude_as_image(bot: BotHarness) -> None:
    import base64

    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
    bot.cli.fake.enqueue(Reply.text("a dot"))
    bot.tg.send_document(OWNER, None, png, "dot.png", "image/png", caption="what is this?")
    await bot.reply(final_answer(bot, "a dot"))
    request = await bot.cli.fake.main_request(1)
    assert request.images(latest_only=True)[0].media_type == "image/png"
    assert request.last_user_text() == "what is this?"


async def test_project_switch_by_phrase(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = tmp_path / "api"
    api.mkdir()
    async with running_bot(harness, tmp_path, monkeypatch, projects={"api": api}) as bot:
        bot.cli.fake.enqueue(Reply.text("tests pass"))
        bot.tg.send_text(OWNER, None, "on api: run the tests")
        await bot.reply(final_answer(bot, "tests pass"))
        session = bot.svc.manager.get(OWNER)
        assert session is not None
        assert (session.name, session.cwd) == ("api", str(api))
        assert (await bot.cli.fake.main_request(1)).last_user_text() == "run the tests"
        bot.tg.send_text(OWNER, None, "work on api")
        await bot.reply("Working on api")
    await asyncio.sleep(0)


async def test_session_commands(bot: BotHarness) -> None:
    bot.cli.fake.script = lambda request: Reply.text(f"echo: {request.last_user_text()}")
    bot.tg.send_text(OWNER, None, "remember pelican")
    await bot.reply(final_answer(bot, "echo: remember pelican"))
    bot.tg.send_text(OWNER, None, "/status")
    status = await bot.reply("Session: main")
    assert "Messages: 1" in status.content
    bot.tg.send_text(OWNER, None, "/mode acceptEdits")
    await bot.reply("Permission mode of main is now acceptEdits")
    bot.tg.send_text(OWNER, None, "/mode")
    await bot.reply("Permission mode of main: acceptEdits")
    bot.tg.send_text(OWNER, None, "/restart")
    await bot.reply("restarts with the next prompt")
    bot.tg.send_text(OWNER, None, "still there?")
    await bot.reply(final_answer(bot, "echo: still there?"))
    assert "remember pelican" in bot.cli.fake.main_requests[-1].user_texts()  # context kept
    bot.tg.send_text(OWNER, None, "/clear")
    await bot.reply("context is cleared")
    bot.tg.send_text(OWNER, None, "fresh?")
    await bot.reply(final_answer(bot, "echo: fresh?"))
    assert "remember pelican" not in bot.cli.fake.main_requests[-1].user_texts()
    bot.tg.send_text(OWNER, None, "/new side")
    await bot.reply("Session side")
    bot.tg.send_text(OWNER, None, "/switch main")
    await bot.reply("Session main")
    bot.tg.send_text(OWNER, None, "/close side")
    await bot.reply("Closed session side")
    bot.tg.send_text(OWNER, None, "/switch nowhere")
    await bot.reply("No session nowhere")
    bot.tg.send_text(OWNER, None, "/cancel")
    await bot.reply("Nothing to cancel")


async def test_resume_picks_an_earlier_conversation(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", bot.cli.env["CLAUDE_CONFIG_DIR"])
    bot.cli.fake.script = lambda request: Reply.text(f"echo: {request.last_user_text()}")
    bot.tg.send_text(OWNER, None, "the password is swordfish")
    await bot.reply(final_answer(bot, "echo: the password is swordfish"))
    first = bot.svc.manager.get(OWNER).claude_session_id  # type: ignore[union-attr]
    bot.tg.send_text(OWNER, None, "/clear")
    await bot.reply("context is cleared")
    bot.tg.send_text(OWNER, None, "/resume")
    menu = await bot.reply("Resume which conversation")
    await bot.press(menu, "swordfish")
    bot.tg.send_text(OWNER, None, "what was it?")
    await bot.reply(final_answer(bot, "echo: what was it?"))
    assert "the password is swordfish" in bot.cli.fake.main_requests[-1].user_texts()
    assert bot.svc.manager.get(OWNER).claude_session_id == first  # type: ignore[union-attr]


async def test_group_serves_only_allowed_users(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = -100500
    async with running_bot(
        harness, tmp_path, monkeypatch, allowed_chat_ids=frozenset({group})
    ) as bot:
        bot.tg.supergroup(group, "team")
        bot.tg.user(777, "Stranger")
        bot.tg.send_text(group, 777, "/help")
        bot.tg.send_text(group, OWNER, "/help")
        await bot.reply("voice-agent drives Claude Code", chat_id=group)
        replies = [m for m in bot.tg.messages(group) if m.from_bot]
        assert len(replies) == 1


async def test_photo_with_caption(bot: BotHarness) -> None:
    import base64

    jpeg = base64.b64decode(
        "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////"
        "////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQAB"
        "PxA="
    )
    bot.cli.fake.enqueue(Reply.text("a photo"))
    bot.tg.send_photo(OWNER, None, jpeg, caption="describe")
    await bot.reply(final_answer(bot, "a photo"))
    request = await bot.cli.fake.main_request(1)
    assert request.images(latest_only=True)[0].media_type == "image/jpeg"
    assert request.last_user_text() == "describe"


async def test_draft_streaming_in_private_chats(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(harness, tmp_path, monkeypatch, stream_mode="auto") as bot:
        bot.cli.fake.enqueue(Reply.text("drafted answer " * 20, chunk_size=30, chunk_delay=0.1))
        bot.tg.send_text(OWNER, None, "draft it")
        answer = await bot.reply(final_answer(bot, "drafted answer"))
        assert bot.tg.drafts, "the answer streamed as native drafts"
        assert answer.content.count("drafted answer") == 20
        assert not answer.edited


async def _chatter_press(
    bot: BotHarness, chat: int, user: int, message: StoredMessage, label: str
) -> str:
    """``user`` presses a button of ``message``; returns the callback answer text."""
    button = next(b for b in message.buttons if label in str(b.get("text")))
    injected = bot.tg.press_button(chat, user, message.message_id, str(button["callback_data"]))
    answer = await bot.tg.wait_for(
        lambda: next(
            (
                a
                for a in bot.tg.callback_answers
                if a.callback_query_id == injected.callback_query_id
            ),
            None,
        ),
        30,
    )
    return str(answer.text or "")


GROUP, CHATTER = -100777, 3003


@pytest.fixture
async def team(harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A group where the owner approves and Carol may only chat."""
    async with team_bot(harness, tmp_path, monkeypatch, GROUP, CHATTER) as bot:
        yield bot


def _refused(bot: BotHarness) -> list[tuple[int | None, str]]:
    assert bot.svc.manager.storage is not None
    refused = [e for e in bot.svc.manager.storage.audit.entries() if e.decision == "refused"]
    assert {e.chat_id for e in refused} <= {GROUP}
    return [(e.user_id, e.input_summary) for e in refused]


async def test_chatter_cannot_approve(team: BotHarness) -> None:
    bot = team
    target = bot.cli.workdir / "team.txt"
    bot.cli.fake.enqueue(
        Reply.tool_use("Write", {"file_path": str(target), "content": "x\n"}),
        Reply.text("Written."),
    )
    bot.tg.send_text(GROUP, CHATTER, "create team.txt")  # a chatter may prompt
    prompt = await bot.approval_prompt(chat_id=GROUP)
    answer = await _chatter_press(bot, GROUP, CHATTER, prompt, "Approve")
    assert answer == "Only an approver can decide tool calls here."
    bot.tg.send_text(GROUP, CHATTER, "yes", reply_to=prompt.message_id)  # nor in words
    await bot.reply(
        lambda m: m.from_bot and m.content == "Only an approver can decide tool calls here.",
        GROUP,
    )
    assert not target.exists()
    assert _refused(bot) == [
        (CHATTER, "decision by button refused"),
        (CHATTER, "decision by text refused"),
    ]
    await _chatter_press(bot, GROUP, OWNER, prompt, "Approve")
    await bot.reply(final_answer(bot, "Written."), chat_id=GROUP)
    assert target.exists()


async def test_chatter_cannot_widen_what_runs_unasked(team: BotHarness) -> None:
    bot = team
    workdir = str(bot.cli.workdir)
    (bot.cli.workdir / "notes.txt").write_text("mine")
    manager = bot.svc.manager
    storage = manager.storage
    assert storage is not None
    session = manager.get_or_create(GROUP)
    npm_test = StickyApproval("Bash", r"npm test(\s.*)?", "command", label="npm test")
    session.permission_handler.add_sticky_approval(npm_test)
    for command, refusal in [
        ("/mode acceptEdits", "Only an approver can change the permission mode."),
        ("/cwd /", "Only an approver can change the working directory."),
        ("/get notes.txt", "Only an approver can fetch files."),
        ("/mcp enable all", "Only an approver can send Claude Code its own /commands."),
    ]:
        bot.tg.send_text(GROUP, CHATTER, command)
        await bot.reply(lambda m, r=refusal: m.from_bot and m.content.startswith(r), GROUP)
    bot.tg.send_text(GROUP, CHATTER, "/approvals")  # looking is fine
    listing = await bot.reply(lambda m: m.from_bot and "Sticky approvals" in m.content, GROUP)
    assert "npm test" in listing.content
    answer = await _chatter_press(bot, GROUP, CHATTER, listing, "Revoke all")
    assert answer == "Only an approver can revoke rules."

    # Nothing changed, in the live session or in the store.
    assert (session.permission_mode, session.cwd) == ("default", workdir)
    assert storage.get_permission_mode(GROUP, "main") == "default"
    stored = storage.get_session(GROUP, "main")
    assert stored is not None
    assert stored.cwd == workdir
    assert session.permission_handler.get_sticky_approvals() == [npm_test]
    assert not [m for m in bot.tg.messages(GROUP) if m.from_bot and m.document is not None]
    assert _refused(bot) == [
        (CHATTER, "/mode acceptEdits refused"),
        (CHATTER, "/cwd / refused"),
        (CHATTER, "/get notes.txt refused"),
        (CHATTER, "/mcp enable all refused"),
        (CHATTER, "revoke all rules refused"),
    ]
    assert cli_processes() == []  # nothing reached Claude Code

    # The approver may do all of it.
    bot.tg.send_text(GROUP, OWNER, "/mode acceptEdits")
    await bot.reply(lambda m: m.from_bot and "is now acceptEdits" in m.content, GROUP)
    bot.tg.send_text(GROUP, OWNER, "/get notes.txt")
    sent = await bot.reply(lambda m: m.from_bot and m.document is not None, GROUP)
    assert sent.document is not None
    assert bot.tg.download(sent.document.file_id) == b"mine"
    assert storage.get_permission_mode(GROUP, "main") == "acceptEdits"


async def test_a_typed_decision_replying_to_a_prompt_decides_it(bot: BotHarness) -> None:
    bot.cli.fake.enqueue(
        Reply.tool_uses(
            *(("Read", {"file_path": f"/etc/voice-agent-test-{n}"}) for n in ("a", "b"))
        ),
        Reply.text("Done reading."),
    )
    bot.tg.send_text(OWNER, None, "read them")
    first, second = await bot.approval_prompt(1), await bot.approval_prompt(2)
    bot.tg.send_text(OWNER, None, "approve #7")
    await bot.reply("No request #7 is waiting here (waiting: #1, #2)")
    bot.tg.send_text(OWNER, None, "approve 1", reply_to=second.message_id)
    await bot.reply("You replied to #2 but said #1; nothing was decided.")
    bot.tg.send_text(OWNER, None, "yes", reply_to=second.message_id)
    await bot.reply(lambda m: m.from_bot and m.content == "✅ approved #2")
    session = bot.svc.manager.get(OWNER)
    assert session is not None
    assert [r.number for r in session.permission_handler.pending_requests()] == [1]
    bot.tg.send_text(OWNER, None, "no")  # the only one left
    await bot.reply(lambda m: m.from_bot and m.content == "❌ rejected #1")
    await bot.reply(final_answer(bot, "Done reading."))
    assert "Rejected by Ada" in bot.tg.message(OWNER, first.message_id).content
    assert len(bot.cli.fake.main_requests) == 2  # none of the decisions became a prompt


async def test_a_long_command_arrives_whole_as_a_file(bot: BotHarness) -> None:
    command = "echo " + "x" * 5000 + " > long.txt"
    bot.cli.fake.enqueue(Reply.tool_use("Bash", {"command": command}), Reply.text("Wrote it."))
    bot.tg.send_text(OWNER, None, "write a long line")
    prompt = await bot.approval_prompt()
    assert "The whole command is in the attached file." in prompt.content
    assert "characters not shown" in prompt.content
    assert "> long.txt" in prompt.content  # the end of the command is shown too
    assert len(prompt.content) < 4096
    document = bot.tg.message(OWNER, prompt.reply_to_message_id or 0)
    assert document.document is not None
    assert document.document.filename == "approval-1.sh"
    assert bot.tg.download(document.document.file_id).decode() == command
    assert "Approval #1" in (document.caption or "")
    assert [b["text"] for b in prompt.buttons] == ["✅ Approve", "♾ Always", "❌ Reject"]
    bot.tg.send_text(OWNER, None, "yes", reply_to=document.message_id)  # the file is the prompt's
    await bot.reply(lambda m: m.from_bot and m.content == "✅ approved #1")
    await bot.reply(final_answer(bot, "Wrote it."))
    assert (bot.cli.workdir / "long.txt").read_text() == "x" * 5000 + "\n"


async def test_hidden_characters_in_a_command_are_shown_escaped(bot: BotHarness) -> None:
    command = "touch \u202etxt.exe"
    bot.cli.fake.enqueue(Reply.tool_use("Bash", {"command": command}), Reply.text("Not done."))
    bot.tg.send_text(OWNER, None, "touch it")
    prompt = await bot.approval_prompt()
    assert "⚠ contains hidden characters" in prompt.content
    assert "touch \\u202etxt.exe" in prompt.content
    assert "\u202e" not in prompt.content
    await bot.press(prompt, "Reject")
    await bot.reply(final_answer(bot, "Not done."))
    assert not list(bot.cli.workdir.glob("*txt.exe"))


async def test_files_both_ways(bot: BotHarness, tmp_path: Path) -> None:
    bot.cli.fake.script = lambda request: Reply.text(f"got: {request.last_user_text()[:60]}")
    bot.tg.send_document(
        OWNER, None, b"a,b\n1,2\n", "../../report.csv", "text/csv", caption="sum it"
    )
    await bot.reply("Saved as uploads/report.csv")
    assert (bot.cli.workdir / "uploads" / "report.csv").read_bytes() == b"a,b\n1,2\n"
    await bot.reply(final_answer(bot, "got: I sent you the file uploads/report.csv"))
    assert "sum it" in bot.cli.fake.main_requests[-1].last_user_text()
    bot.tg.send_text(OWNER, None, "/get uploads/report.csv")
    sent = await bot.reply(lambda m: m.from_bot and m.document is not None)
    assert sent.document is not None
    assert bot.tg.download(sent.document.file_id) == b"a,b\n1,2\n"
    outside = tmp_path / "outside.txt"
    outside.write_text("private")
    bot.tg.send_text(OWNER, None, f"/get {outside}")
    await bot.reply("outside the session's working directory")
    (bot.cli.workdir / ".env").write_text("TOKEN=1")
    bot.tg.send_text(OWNER, None, "/get .env")
    await bot.reply("looks like a secret")
    bot.tg.send_text(OWNER, None, "/get " + "d/" * 2045)  # 4,090 characters
    refused = await bot.reply(lambda m: m.from_bot and m.content.startswith("I won't send d/d/"))
    assert "…: " in refused.content


async def test_an_upload_never_goes_through_a_planted_link(bot: BotHarness, tmp_path: Path) -> None:
    # A repository carries uploads/notes.txt -> ~/.ssh/authorized_keys (not there yet).
    bot.cli.fake.script = lambda request: Reply.text("ok")
    outside = tmp_path / "home" / ".ssh" / "authorized_keys"
    outside.parent.mkdir(parents=True)
    uploads = bot.cli.workdir / "uploads"
    uploads.mkdir()
    (uploads / "notes.txt").symlink_to(outside)
    bot.tg.send_document(OWNER, None, b"ssh-ed25519 AAAA attacker", "notes.txt", "text/plain")
    await bot.reply("Saved as uploads/notes-2.txt")
    assert not outside.exists()
    assert (uploads / "notes-2.txt").read_bytes() == b"ssh-ed25519 AAAA attacker"
    long_name = "漢" * 130 + ".txt"  # 390 bytes: more than a file name may hold
    bot.tg.send_document(OWNER, None, b"text", long_name, "text/plain")
    saved = await bot.reply(lambda m: m.from_bot and "Saved as uploads/" in m.content)
    assert ".txt in main" in saved.content
    (uploads / "notes-2.txt").unlink()
    (uploads / "notes.txt").unlink()
    uploads.rmdir()
    uploads.symlink_to(bot.cli.workdir / ".git", target_is_directory=True)
    bot.tg.send_document(OWNER, None, b"#!/bin/sh\n", "config", "text/plain")
    await bot.reply("is a symbolic link, so nothing is written through it")


async def test_an_edited_message_runs_nothing_again(bot: BotHarness) -> None:
    bot.cli.fake.enqueue(Reply.text("first answer"), Reply.text("second answer"))
    sent = bot.tg.send_text(OWNER, None, "delete the build dir")
    await bot.reply(final_answer(bot, "first answer"))
    (bot.cli.workdir / "a.txt").write_text("hello")
    get = bot.tg.send_text(OWNER, None, "/get a.txt")
    await bot.reply(lambda m: m.from_bot and m.document is not None)
    for count, (message, text) in enumerate(
        ((sent, "delete the build dir please"), (get, "/get a.txt")), start=1
    ):
        edited = {**copy.deepcopy(message.message), "text": text, "edit_date": 1_900_000_000}
        bot.tg.inject_update({"edited_message": edited})
        await bot.tg.wait_for(lambda n=count: bot.bot_texts().count(EDITS_IGNORED) == n, 30)
    assert len(bot.cli.fake.main_requests) == 1  # the prompt was not sent again
    assert len(bot.tg.calls("sendDocument")) == 1  # nor the file


async def test_a_streamed_answer_deleted_on_the_phone_goes_on_in_a_new_message(
    bot: BotHarness,
) -> None:
    body = "The important result is 42. " + "more detail " * 40 + "FINAL LINE"
    bot.cli.fake.enqueue(Reply.text(body, chunk_size=20, chunk_delay=0.05))
    bot.tg.send_text(OWNER, None, "go")
    streamed = await bot.reply(lambda m: m.from_bot and "important" in m.content)
    bot.tg.message(OWNER, streamed.message_id).deleted = True  # the user deleted it
    answer = await bot.reply(final_answer(bot, "FINAL LINE"))
    assert answer.message_id != streamed.message_id
    assert "The important result is 42." in answer.content  # nothing of it is lost


async def test_changed_files_are_listed_with_fetch_buttons(bot: BotHarness) -> None:
    target = bot.cli.workdir / "made.txt"
    bot.cli.fake.enqueue(
        Reply.tool_use("Write", {"file_path": str(target), "content": "made by claude\n"}),
        Reply.text("Made it."),
    )
    bot.svc.manager.set_permission_mode(OWNER, "acceptEdits")
    bot.tg.send_text(OWNER, None, "make a file")
    listing = await bot.reply("Files changed: made.txt")
    await bot.press(listing, "made.txt")
    sent = await bot.reply(lambda m: m.from_bot and m.document is not None)
    assert sent.document is not None
    assert bot.tg.download(sent.document.file_id) == b"made by claude\n"


async def test_footer_totals_and_toggle(bot: BotHarness) -> None:
    bot.cli.fake.script = lambda request: Reply.text(f"echo {request.last_user_text()}")
    bot.tg.send_text(OWNER, None, "one")
    answer = await bot.reply(final_answer(bot, "echo one"))
    last = answer.content.splitlines()[-1]
    assert "tokens" in last
    assert "context" in last
    assert "$" in last
    bot.tg.send_text(OWNER, None, "/status")
    status = await bot.reply("This session:")
    assert "This session: 1 turns" in status.content
    assert "Today in this chat: 1 turns" in status.content
    bot.tg.send_text(OWNER, None, "/footer off")
    await bot.reply("footer is off")
    bot.tg.send_text(OWNER, None, "two")
    await bot.cli.fake.main_request(2)
    await bot.tg.wait_for(lambda: bot.svc.workers.waiting(OWNER) == 0, 30)  # the turn is over
    plain = await bot.reply(lambda m: m.from_bot and m.content == "echo two")
    assert plain.content == "echo two"


async def test_daily_budget_stops_new_turns(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(harness, tmp_path, monkeypatch, daily_budget_usd=0.00001) as bot:
        bot.cli.fake.script = lambda request: Reply.text("spent")
        bot.tg.send_text(OWNER, None, "first")
        await bot.reply(final_answer(bot, "spent"))
        bot.tg.send_text(OWNER, None, "second")
        await bot.reply("budget for this chat")
        assert len(bot.cli.fake.main_requests) == 1


async def test_a_stop_mid_turn_says_what_was_cut_off_and_not_run(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram

    release = threading.Event()
    harness.fake.enqueue(Reply.text("partial answer " * 20, chunk_size=8, hang=release))
    try:
        async with FakeTelegram(token=DEFAULT_TOKEN) as tg:
            tg.private_chat(OWNER, "Ada")
            async with running_bot(harness, tmp_path, monkeypatch, tg=tg) as bot:
                bot.tg.send_text(OWNER, None, "long job")
                await bot.reply(lambda m: m.from_bot and "partial" in m.content)
                bot.tg.send_text(OWNER, None, "and then this")
                await bot.reply("Queued")
            said = [m.content for m in tg.messages(OWNER) if m.from_bot]
    finally:
        release.set()
    assert f"{STOPPED_MID_TURN}\n{NOT_RUN.format(1)}" in said
    assert [r.last_user_text() for r in harness.fake.main_requests] == ["long job"]


async def test_pending_approval_lapses_across_a_restart(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram

    target = harness.workdir / "restart.txt"
    harness.fake.enqueue(Reply.tool_use("Write", {"file_path": str(target), "content": "x\n"}))
    async with FakeTelegram(token=DEFAULT_TOKEN) as tg:
        tg.private_chat(OWNER, "Ada")
        async with running_bot(harness, tmp_path, monkeypatch, tg=tg) as bot:
            bot.tg.send_text(OWNER, None, "write it")
            prompt = await bot.approval_prompt()
            old_data = prompt.callback_data[0]
            tg.fail_next("editMessageText", status=500, times=50)  # unreachable at stop
        tg.clear_failures()
        assert not target.exists()
        harness.fake.script = lambda request: Reply.text("fresh start")
        async with running_bot(harness, tmp_path, monkeypatch, tg=tg) as bot:
            edited = await bot.reply(lambda m: m.from_bot and "Lapsed" in m.content)
            assert edited.message_id == prompt.message_id
            assert edited.callback_data == []
            old = await _bot_message_with_button(bot, OWNER, old_data)
            assert await bot.press(old, "Approve") == "This request is no longer pending."
            bot.tg.send_text(OWNER, None, "what happened?")
            await bot.reply(final_answer(bot, "fresh start"))
            history = bot.cli.fake.main_requests[-1]
            assert "write it" in history.user_texts()  # the same conversation resumed
            assert any(
                block.get("type") == "tool_result" and block.get("is_error")
                for message in history.messages
                if isinstance(message.get("content"), list)
                for block in message["content"]
            ), "the model is told the call was not run"
    assert not target.exists()


async def test_long_change_comes_with_a_picture(bot: BotHarness) -> None:
    code = "".join(f"def f{i}(x: int) -> int:\n    return x + {i}\n\n" for i in range(12))
    target = bot.cli.workdir / "many.py"
    bot.cli.fake.enqueue(
        Reply.tool_use("Write", {"file_path": str(target), "content": code}),
        Reply.text("Wrote many functions."),
    )
    bot.tg.send_text(OWNER, None, "write many functions")
    prompt = await bot.approval_prompt()
    picture = await bot.reply(lambda m: m.from_bot and m.photo is not None)
    assert picture.reply_to_message_id == prompt.message_id
    assert picture.photo is not None
    assert bot.tg.download(picture.photo.file_id)[:8] == b"\x89PNG\r\n\x1a\n"
    await bot.press(prompt, "Approve")
    await bot.reply(final_answer(bot, "Wrote many functions."))
    short = await _write_turn(bot, "short.txt", 2)  # two lines: no picture; numbers go on
    await bot.press(short, "Approve")
    await bot.reply(
        lambda m: m.from_bot and m.message_id > short.message_id and "Finished." in m.content
    )
    assert len([m for m in bot.messages() if m.from_bot and m.photo is not None]) == 1


async def test_always_for_the_project_for_an_hour(bot: BotHarness) -> None:
    bot.cli.fake.enqueue(
        Reply.tool_use("Bash", {"command": "touch p1.txt"}),
        Reply.text("first"),
        Reply.tool_use("Bash", {"command": "touch p2.txt"}),
        Reply.text("second"),
    )
    bot.tg.send_text(OWNER, None, "touch p1")
    prompt = await bot.approval_prompt()
    await bot.press(prompt, "Always")
    await bot.press(bot.tg.message(OWNER, prompt.message_id), "Project, 1 hour")
    await bot.reply(final_answer(bot, "first"))
    bot.tg.send_text(OWNER, None, "/new sibling")  # same directory: the project rule applies
    await bot.reply("Session sibling")
    bot.tg.send_text(OWNER, None, "touch p2")
    await bot.reply(final_answer(bot, "second"))
    assert (bot.cli.workdir / "p2.txt").exists()
    assert len([m for m in bot.messages() if m.from_bot and "Approval #" in m.content]) == 1
    edited = bot.tg.message(OWNER, prompt.message_id)
    assert "project" in edited.content
    assert "until" in edited.content
    bot.tg.send_text(OWNER, None, "/approvals")
    listing = await bot.reply("Sticky approvals in session sibling")
    assert "project" in listing.content
    assert "until" in listing.content
    await bot.press(listing, "Revoke 1")
    session = bot.svc.manager.get(OWNER)
    assert session is not None
    assert session.permission_handler.project_rules() == []


async def test_claude_question_becomes_buttons(bot: BotHarness) -> None:
    questions = [
        {
            "question": "Which database should the service use?",
            "header": "Database",
            "options": [
                {"label": "SQLite", "description": "a file, no server"},
                {"label": "Postgres", "description": "a server"},
            ],
            "multiSelect": False,
        }
    ]
    bot.cli.fake.enqueue(
        Reply.tool_use("AskUserQuestion", {"questions": questions}),
        Reply.text("Postgres it is."),
    )
    bot.tg.send_text(OWNER, None, "set up the database")
    asked = await bot.reply(lambda m: m.from_bot and "Claude asks" in m.content)
    assert "Which database" in asked.content
    assert "a server" in asked.content
    await bot.press(asked, "Postgres")
    await bot.reply(final_answer(bot, "Postgres it is."))
    (result,) = (await bot.cli.fake.main_request(2)).tool_results()
    assert "Postgres" in result.content
    assert not result.is_error
    assert "Answered by Ada: Postgres" in bot.tg.message(OWNER, asked.message_id).content


async def test_multi_select_question_takes_several_options(bot: BotHarness) -> None:
    questions = [
        {
            "question": "Which extras should the service get?",
            "header": "Extras",
            "options": [
                {"label": "Cache", "description": "Redis"},
                {"label": "Metrics", "description": "Prometheus"},
                {"label": "Tracing", "description": "OpenTelemetry"},
            ],
            "multiSelect": True,
        }
    ]
    bot.cli.fake.enqueue(
        Reply.tool_use("AskUserQuestion", {"questions": questions}),
        Reply.text("Adding them."),
    )
    bot.tg.send_text(OWNER, None, "set up the extras")
    asked = await bot.reply(lambda m: m.from_bot and "Claude asks" in m.content)
    assert await bot.press(asked, "Done") == "Pick at least one option first."
    for label in ("Tracing", "Cache", "Metrics", "Metrics", "Metrics"):
        await bot.press(bot.tg.message(OWNER, asked.message_id), label)
    shown = bot.tg.message(OWNER, asked.message_id)
    assert {str(b["text"]) for b in shown.buttons} >= {"✅ Cache", "✅ Metrics", "✅ Tracing"}
    await bot.press(shown, "Done")
    await bot.reply(final_answer(bot, "Adding them."))
    (result,) = (await bot.cli.fake.main_request(2)).tool_results()
    assert "Cache, Metrics, Tracing" in result.content
    assert not result.is_error


async def test_plan_arrives_formatted_with_plan_buttons(bot: BotHarness) -> None:
    plan = "1. Add a **cache** layer\n2. Write tests for it"
    bot.cli.fake.enqueue(
        Reply.tool_use("ExitPlanMode", {"plan": plan}),
        Reply.text("Keeping on planning."),
    )
    bot.tg.send_text(OWNER, None, "/mode plan")
    await bot.reply("now plan")
    bot.tg.send_text(OWNER, None, "plan the cache")
    shown = await bot.reply(lambda m: m.from_bot and "Claude's plan" in m.content)
    assert [b["text"] for b in shown.buttons] == ["✅ Approve plan", "✏️ Keep planning"]
    await bot.press(shown, "Keep planning")
    await bot.reply(final_answer(bot, "Keeping on planning."))
    (result,) = (await bot.cli.fake.main_request(2)).tool_results()
    assert result.is_error
    assert "Keep planning" in result.content
