"""State never comes back wrong: what a user closed, cleared, moved or deleted stays so.

The real Claude Code CLI runs each turn against the scripted model; a turn is
held in the middle (the model's answer hangs after its first words) while the
user acts, then released, and the store is read again, also by a new manager
as after a restart.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import TURN_TIMEOUT, CliHarness, RequestLog, make_manager
from tests.e2e.helpers import collect, final, text_of
from tests.e2e.telegram_harness import OWNER, running_bot
from tests.e2e.test_cli_run import _env
from tests.fakes.anthropic import Reply
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from voice_agent.agent.events import AgentEvent, TextDelta, TurnError, TurnResult
from voice_agent.sessions import SessionManager, SessionStorage
from voice_agent.sessions.session import SessionBusy

pytestmark = pytest.mark.e2e

CHAT = 1001


async def _mid_turn(
    manager: SessionManager,
    harness: CliHarness,
    act: Callable[[], Any],
    prompt: str = "tell me a lot",
) -> list[AgentEvent]:
    """Run a turn whose answer hangs after its first words until ``act`` has run."""
    release = threading.Event()
    harness.fake.enqueue(Reply.text("A long answer " * 20, chunk_size=10, hang=release))
    acted = False

    async def on_event(event: AgentEvent) -> None:
        nonlocal acted
        if isinstance(event, TextDelta) and not acted:
            acted = True
            maybe = act()
            if asyncio.iscoroutine(maybe):
                await maybe
            release.set()  # the answer goes on (unless the act stopped the turn)

    try:
        events = await collect(manager.stream(CHAT, prompt), on_event)
    finally:
        release.set()
    assert acted, "the turn ended before the user acted"
    return events


def _restarted(harness: CliHarness, db: Path) -> tuple[SessionManager, RequestLog]:
    return make_manager(harness, db)


async def test_a_session_closed_during_its_turn_does_not_come_back(
    harness: CliHarness, tmp_path: Path
) -> None:
    db = tmp_path / "sessions.db"
    manager, _ = make_manager(harness, db)
    try:
        manager.get_or_create(CHAT)  # main, active
        manager.create_new(CHAT, name="other")
        manager.switch_session(CHAT, "main")
        await _mid_turn(manager, harness, lambda: manager.close_session_async(CHAT, "main"))
        assert manager.get(CHAT, "main") is None
        assert manager.storage is not None
        assert manager.storage.get_session(CHAT, "main") is None  # the turn's result wrote nothing
    finally:
        await manager.aclose()
    again, _ = _restarted(harness, db)
    try:
        assert [s.name for s in again.list_sessions(CHAT)] == ["other"]
    finally:
        await again.aclose()


async def test_a_prompt_waiting_for_a_session_that_is_closed_is_not_run(
    harness: CliHarness, managed: tuple[SessionManager, RequestLog]
) -> None:
    manager, _ = managed
    waiting: list[asyncio.Task[list[AgentEvent]]] = []

    async def queue_then_close() -> None:
        session = manager.get(CHAT)
        assert session is not None
        waiting.append(asyncio.create_task(collect(manager.stream(CHAT, "and then?"))))
        await asyncio.sleep(0)  # one step of the new task: it counts the prompt, then waits
        assert session.message_count == 2  # counted: it now waits for the turn lock
        await manager.close_session_async(CHAT, "main")

    await _mid_turn(manager, harness, queue_then_close)
    (queued,) = waiting
    events = await queued
    error = final(events)
    assert isinstance(error, TurnError)
    assert error.kind == "closed"
    assert len(harness.fake.main_requests) == 1  # only the first turn reached the model
    assert manager.storage is not None
    assert manager.storage.get_session(CHAT, "main") is None


async def test_clear_during_a_turn_is_not_undone_by_its_result(
    harness: CliHarness, tmp_path: Path
) -> None:
    db = tmp_path / "sessions.db"
    manager, _ = make_manager(harness, db)
    try:
        await _mid_turn(manager, harness, lambda: manager.clear_context(CHAT), "remember pelican")
        session = manager.get(CHAT)
        assert session is not None
        assert session.claude_session_id is None
        assert manager.storage is not None
        stored = manager.storage.get_session(CHAT, "main")
        assert stored is not None
        assert stored.claude_session_id is None
        harness.fake.enqueue(Reply.text("Fresh."))
        events = await collect(manager.stream(CHAT, "what did I say?"))
        assert text_of(events) == "Fresh."
        assert "remember pelican" not in harness.fake.main_requests[-1].user_texts()
        new_id = manager.get(CHAT).claude_session_id  # type: ignore[union-attr]
        assert new_id is not None
    finally:
        await manager.aclose()
    again, _ = _restarted(harness, db)
    try:
        assert again.get(CHAT).claude_session_id == new_id  # type: ignore[union-attr]
    finally:
        await again.aclose()


async def test_resume_during_a_turn_is_not_undone_by_its_result(
    harness: CliHarness, managed: tuple[SessionManager, RequestLog]
) -> None:
    manager, _ = managed
    harness.fake.enqueue(Reply.text("Noted."))
    await collect(manager.stream(CHAT, "remember pelican"))
    earlier = manager.get(CHAT).claude_session_id  # type: ignore[union-attr]
    assert earlier is not None
    await manager.clear_context(CHAT)

    async def resume() -> None:  # what /resume does
        await manager.restart(CHAT)
        manager.set_claude_session_id(CHAT, earlier)

    await _mid_turn(manager, harness, resume, "something else")
    assert manager.get(CHAT).claude_session_id == earlier  # type: ignore[union-attr]
    harness.fake.enqueue(Reply.text("Pelican."))
    events = await collect(manager.stream(CHAT, "what did I ask you to remember?"))
    assert text_of(events) == "Pelican."
    assert "remember pelican" in harness.fake.main_requests[-1].user_texts()


async def test_cwd_is_refused_while_a_turn_runs_and_applies_after_it(
    harness: CliHarness, managed: tuple[SessionManager, RequestLog], tmp_path: Path
) -> None:
    manager, _ = managed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    refusals: list[str] = []

    def move() -> None:
        with pytest.raises(SessionBusy) as refused:
            manager.set_cwd(CHAT, str(elsewhere))
        refusals.append(str(refused.value))

    events = await _mid_turn(manager, harness, move)
    assert isinstance(final(events), TurnResult)
    (refusal,) = refusals
    assert "running a turn" in refusal
    session = manager.get(CHAT)
    assert session is not None
    # Neither the session nor its checker moved while the CLI ran in the old directory.
    assert session.cwd == str(harness.workdir)
    assert session.permission_handler.cwd == str(harness.workdir)
    assert manager.storage is not None
    assert manager.storage.get_session(CHAT, "main").cwd == str(harness.workdir)  # type: ignore[union-attr]
    manager.set_cwd(CHAT, str(elsewhere))  # the turn is over: now it moves
    assert session.permission_handler.cwd == str(elsewhere)
    harness.fake.enqueue(Reply.text("Moved."))
    events = await collect(manager.stream(CHAT, "where are you?"))
    assert text_of(events) == "Moved."
    assert str(elsewhere) in harness.fake.main_requests[-1].all_text()


async def test_telegram_cwd_during_a_turn_says_it_waits_for_the_turn(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    release = threading.Event()
    harness.fake.enqueue(Reply.text("Working on it " * 20, chunk_size=10, hang=release))
    async with running_bot(harness, tmp_path, monkeypatch) as bot:
        try:
            bot.tg.send_text(OWNER, None, "do some work")
            await bot.reply(lambda m: m.from_bot and "Working" in m.content)
            bot.tg.send_text(OWNER, None, f"/cwd {elsewhere}")
            refusal = await bot.reply(lambda m: m.from_bot and "running a turn" in m.content)
        finally:
            release.set()
        assert str(harness.workdir) in refusal.content
        session = bot.svc.manager.get(OWNER)
        assert session is not None
        assert session.cwd == str(harness.workdir)
        assert "Something went wrong" not in "".join(bot.bot_texts())


# -- voice-agent sessions delete while the bot runs -------------------------------


def _script(name: str) -> str:
    return str(Path(sys.executable).parent / name)


async def _voice_agent(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        _script("voice-agent"),
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(process.communicate(), TURN_TIMEOUT)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_sessions_delete_is_refused_while_the_bot_runs(
    harness: CliHarness, tmp_path: Path
) -> None:
    store = tmp_path / "data" / "sessions.db"
    async with FakeTelegram(token=DEFAULT_TOKEN) as tg:
        tg.private_chat(CHAT, "Ada")
        env = _env(tmp_path, harness, tg, ALLOWED_USER_IDS=str(CHAT))
        delete = ("sessions", "delete", str(CHAT), "main", "--yes")
        harness.fake.enqueue(Reply.text("Hello from Claude"))
        bot = await asyncio.create_subprocess_exec(
            _script("voice-agent"),
            "run",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            tg.send_text(CHAT, None, "hello")
            await tg.wait_for_message(CHAT, "Hello from Claude", 60)
            status, out = await _voice_agent(env, tmp_path, *delete)
        finally:
            bot.send_signal(signal.SIGINT)
            _, err = await asyncio.wait_for(bot.communicate(), 60)
    assert bot.returncode == 0, err.decode()
    assert status == 1
    assert f"the bot is running (pid {bot.pid}); stop it first" in out
    with closing(SessionStorage(store)) as storage:
        assert storage.get_session(CHAT, "main") is not None
    # Once the bot has stopped, the same command deletes it.
    status, out = await _voice_agent(env, tmp_path, *delete)
    assert status == 0, out
    with closing(SessionStorage(store)) as storage:
        assert storage.get_session(CHAT, "main") is None
