"""The directory keyboard of /cwd and /new: tap through directories, never out of the roots."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CliHarness
from tests.e2e.telegram_harness import OWNER, TIMEOUT, BotHarness, running_bot, team_bot
from tests.fakes.anthropic import Reply
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from tests.fakes.telegram_types import StoredMessage
from voice_agent.telegram.dir_picker import PROJECTS
from voice_agent.telegram.offers import STALE

pytestmark = pytest.mark.e2e

USE = "✅ Use this directory"


def _tree(work: Path, outside: Path) -> None:
    """A working directory with what may and may not be offered."""
    for name in ("alpha/deep", "beta", ".hidden/inner", "secrets", "node", *_many()):
        (work / name).mkdir(parents=True)
    (work / "notes.txt").write_text("a file, not a directory")
    outside.mkdir()
    (work / "escape").symlink_to(outside)  # points out of the roots
    (work / "beta-link").symlink_to(work / "beta")  # stays inside


def _many() -> list[str]:
    return [f"many/d{n:02}" for n in range(10)]


def labels(message: StoredMessage) -> list[str]:
    return [str(b.get("text")) for b in message.buttons]


async def tap(
    bot: BotHarness, message: StoredMessage, label: str, *, chat: int = OWNER, user: int = OWNER
) -> tuple[str, StoredMessage]:
    """Press the button labelled exactly ``label``; the answer and the message afterwards."""
    current = bot.tg.message(chat, message.message_id)
    button = next(b for b in current.buttons if b.get("text") == label)
    injected = bot.tg.press_button(chat, user, current.message_id, str(button["callback_data"]))
    answer = await bot.tg.wait_for(
        lambda: next(
            (
                a
                for a in bot.tg.callback_answers
                if a.callback_query_id == injected.callback_query_id
            ),
            None,
        ),
        TIMEOUT,
    )
    return str(answer.text or ""), bot.tg.message(chat, message.message_id)


@pytest.fixture
async def bot(harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    api = tmp_path / "api"
    (api / "src").mkdir(parents=True)
    _tree(harness.workdir, tmp_path / "outside")
    async with running_bot(harness, tmp_path, monkeypatch, projects={"api": api}) as running:
        yield running


async def test_cwd_keyboard_navigates_pages_and_chooses(bot: BotHarness) -> None:
    work = bot.cli.workdir.resolve()
    bot.tg.send_text(OWNER, None, "/cwd")
    menu = await bot.reply(lambda m: m.from_bot and "Choose its new directory" in m.content)
    assert f"main works in {bot.cli.workdir}" in menu.content
    assert f"Here: {work}" in menu.content
    shown = labels(menu)
    assert {"📌 api", "📁 alpha", "📁 beta", "📁 beta-link", "📁 many", "📁 node", USE} <= set(
        shown
    )
    for hidden in (".hidden", "secrets", "escape", "notes.txt"):
        assert not any(hidden in label for label in shown), hidden
    assert "⬆️ .." not in shown  # DEFAULT_CWD is a root: nothing above it
    data = [str(b["callback_data"]) for b in menu.buttons]
    assert all(len(d.encode()) <= 64 for d in data)
    assert not any("alpha" in d or str(work) in d for d in data)

    answer, menu = await tap(bot, menu, "📁 alpha")
    assert answer == ""
    assert f"Here: {work / 'alpha'}" in menu.content
    assert labels(menu)[-4:] == ["📁 deep", "⬆️ ..", USE, "Cancel"]
    _, menu = await tap(bot, menu, "⬆️ ..")
    assert menu.content.endswith(f"Here: {work}")
    assert "⬆️ .." not in labels(menu)

    _, menu = await tap(bot, menu, "📁 many")
    assert "Subdirectories 1–8 of 10 (page 1/2)." in menu.content
    assert [x for x in labels(menu) if x.startswith("📁 d")] == [f"📁 d{n:02}" for n in range(8)]
    _, menu = await tap(bot, menu, "Next ▶")
    assert "Subdirectories 9–10 of 10 (page 2/2)." in menu.content
    assert [x for x in labels(menu) if x.startswith("📁 d")] == ["📁 d08", "📁 d09"]
    assert "Next ▶" not in labels(menu)
    _, menu = await tap(bot, menu, "◀ Prev")
    assert "page 1/2" in menu.content
    _, menu = await tap(bot, menu, "📁 d03")
    session = bot.svc.manager.get(OWNER)
    assert session is not None
    assert session.cwd == str(bot.cli.workdir)  # navigating changes nothing

    answer, menu = await tap(bot, menu, USE)
    assert answer == "Directory changed."
    assert menu.content == f"📁 main now works in {work / 'many' / 'd03'}"
    assert menu.buttons == []
    assert session.cwd == str(work / "many" / "d03")
    storage = bot.svc.manager.storage
    assert storage is not None
    stored = storage.get_session(OWNER, "main")
    assert stored is not None
    assert stored.cwd == str(work / "many" / "d03")


async def test_the_keyboard_does_not_move_a_session_during_its_turn(bot: BotHarness) -> None:
    release = threading.Event()
    bot.cli.fake.enqueue(Reply.text("thinking", hang=release))
    bot.tg.send_text(OWNER, None, "think hard")
    await bot.cli.fake.main_request(1)
    try:
        bot.tg.send_text(OWNER, None, "/cwd")
        menu = await bot.reply(lambda m: m.from_bot and "Choose its new directory" in m.content)
        _, menu = await tap(bot, menu, "📁 beta")
        answer, menu = await tap(bot, menu, USE)
        assert answer.startswith("⏳ main is running a turn in")
        session = bot.svc.manager.get(OWNER)
        assert session is not None
        assert session.cwd == str(bot.cli.workdir)
    finally:
        release.set()
    async with asyncio.timeout(TIMEOUT), session.turn_lock:  # the turn is over
        pass
    answer, _ = await tap(bot, menu, USE)  # the same keyboard, once the turn is over
    assert answer == "Directory changed."
    assert session.cwd == str(bot.cli.workdir.resolve() / "beta")


async def test_a_symlink_inside_opens_its_target_and_a_project_is_a_root(bot: BotHarness) -> None:
    work = bot.cli.workdir.resolve()
    bot.tg.send_text(OWNER, None, "/cwd")
    menu = await bot.reply(lambda m: m.from_bot and "Choose its new directory" in m.content)
    _, menu = await tap(bot, menu, "📁 beta-link")
    assert f"Here: {work / 'beta'}" in menu.content
    _, menu = await tap(bot, menu, "📌 api")
    assert "📁 src" in labels(menu)
    assert "⬆️ .." not in labels(menu)  # a project's directory is a root too


async def test_new_via_the_keyboard_and_a_keyboard_from_before_a_restart(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = tmp_path / "api"
    api.mkdir()
    _tree(harness.workdir, tmp_path / "outside")
    async with FakeTelegram(token=DEFAULT_TOKEN) as tg:
        tg.private_chat(OWNER, "Ada")
        async with running_bot(harness, tmp_path, monkeypatch, tg=tg, projects={"api": api}) as bot:
            bot.tg.send_text(OWNER, None, "/status")  # the session main, in DEFAULT_CWD
            await bot.reply(lambda m: m.from_bot and "Session: main" in m.content)
            bot.tg.send_text(OWNER, None, "/new")
            menu = await bot.reply(lambda m: m.from_bot and "of a new session" in m.content)
            _, menu = await tap(bot, menu, "📌 api")
            answer, menu = await tap(bot, menu, USE)
            assert answer == "Created session-2."
            assert menu.content == f"🆕 Session session-2 in {api.resolve()} is active."
            session = bot.svc.manager.get(OWNER)
            assert session is not None
            assert (session.name, session.cwd) == ("session-2", str(api.resolve()))

            bot.tg.send_text(OWNER, None, "/new")
            second = await bot.reply(
                lambda m: (
                    m.from_bot
                    and "of a new session" in m.content
                    and m.message_id != menu.message_id
                )
            )
            assert f"Here: {api.resolve()}" in second.content  # opens where the session works
            assert f"🕘 {harness.workdir.name}" in labels(second)  # main's directory, recent
        async with running_bot(harness, tmp_path, monkeypatch, tg=tg, projects={"api": api}) as bot:
            answer, _ = await tap(bot, second, f"🕘 {harness.workdir.name}")
            assert answer == STALE
            assert sorted(bot.svc.manager.sessions_of(OWNER)) == ["main", "session-2"]


GROUP, CHATTER = -100780, 3006


async def test_a_chatter_may_look_but_not_choose(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(harness.workdir, tmp_path / "outside")
    async with team_bot(harness, tmp_path, monkeypatch, GROUP, CHATTER) as bot:
        bot.tg.send_text(GROUP, CHATTER, "/cwd")
        menu = await bot.reply(
            lambda m: m.from_bot and "Choose its new directory" in m.content, GROUP
        )
        _, menu = await tap(bot, menu, "📁 alpha", chat=GROUP, user=CHATTER)  # looking is fine
        answer, menu = await tap(bot, menu, USE, chat=GROUP, user=CHATTER)
        assert answer == "Only an approver can change the working directory."
        session = bot.svc.manager.get(GROUP)
        assert session is not None
        assert session.cwd == str(harness.workdir)
        assert USE in labels(menu)  # the keyboard stays for an approver

        bot.tg.send_text(GROUP, CHATTER, "/new")  # a new session where main works: as before
        new = await bot.reply(lambda m: m.from_bot and "of a new session" in m.content, GROUP)
        _, new = await tap(bot, new, "📁 beta", chat=GROUP, user=CHATTER)
        answer, _ = await tap(bot, new, USE, chat=GROUP, user=CHATTER)
        assert answer == "Only an approver can change the working directory."
        _, new = await tap(bot, new, "⬆️ ..", chat=GROUP, user=CHATTER)
        answer, _ = await tap(bot, new, USE, chat=GROUP, user=CHATTER)
        assert answer == "Created session-2."

        answer, menu = await tap(bot, menu, USE, chat=GROUP, user=OWNER)  # the approver may
        assert answer == "Directory changed."
        assert session.cwd == str(harness.workdir.resolve() / "alpha")
        storage = bot.svc.manager.storage
        assert storage is not None
        refused = [e.input_summary for e in storage.audit.entries() if e.decision == "refused"]
        assert refused == [
            f"/cwd {harness.workdir.resolve() / 'alpha'} (keyboard) refused",
            f"/new in {harness.workdir.resolve() / 'beta'} refused",
        ]


async def test_a_hundred_projects_still_give_a_keyboard(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    projects = {f"p{n:03}": tmp_path / "projects" / f"p{n:03}" for n in range(100)}
    for path in projects.values():
        path.mkdir(parents=True)
    async with running_bot(harness, tmp_path, monkeypatch, projects=projects) as bot:
        bot.tg.send_text(OWNER, None, "/cwd")
        menu = await bot.reply(lambda m: m.from_bot and "Choose its new directory" in m.content)
        assert len(menu.buttons) <= 100  # Telegram's most (more is "reply markup is too long")
        assert f"📌 The first {PROJECTS} of 100 projects; /project name goes to any." in (
            menu.content
        )
        pinned = [label for label in labels(menu) if label.startswith("📌")]
        assert pinned == [f"📌 p{n:03}" for n in range(PROJECTS)]
        _, menu = await tap(bot, menu, "📌 p007")
        assert f"Here: {projects['p007'].resolve()}" in menu.content


async def test_a_deep_directory_busy_session_gets_an_answer_telegram_accepts(
    bot: BotHarness,
) -> None:
    deep = bot.cli.workdir / "services" / ("payments-" * 12) / "api"
    deep.mkdir(parents=True)
    bot.svc.manager.set_cwd(OWNER, str(deep))
    release = threading.Event()
    bot.cli.fake.enqueue(Reply.text("thinking", hang=release))
    bot.tg.send_text(OWNER, None, "think hard")
    await bot.cli.fake.main_request(1)
    try:
        bot.tg.send_text(OWNER, None, "/cwd")
        menu = await bot.reply(lambda m: m.from_bot and "Choose its new directory" in m.content)
        _, menu = await tap(bot, menu, "⬆️ ..")
        answer, _ = await tap(bot, menu, USE)
        assert answer.startswith("⏳ main is running a turn in")
        assert len(answer) <= 200  # Telegram's most for a button's answer
    finally:
        release.set()
    await bot.reply(lambda m: m.from_bot and "thinking" in m.content)
