"""Lifecycle end to end: a CLI that never answers, a consumer that stops early, a bot that stops.

The same guarantees on fake SDK clients are in ``tests/unit/test_lifecycle.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import psutil
import pytest

from tests.e2e.conftest import TURN_TIMEOUT, CliHarness, RequestLog
from tests.e2e.helpers import collect, final, text_of
from tests.e2e.telegram_harness import OWNER, running_bot
from tests.e2e.test_cli_run import _env
from tests.fakes.anthropic import Reply
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from voice_agent.agent.events import TextDelta, TurnError
from voice_agent.agent.options import AgentSettings
from voice_agent.sessions import SessionManager, SessionStorage
from voice_agent.store.lock import StoreInUse

pytestmark = pytest.mark.e2e

CHAT = 1001
START_TIMEOUT = 1.5


def _bundled_cli() -> str:
    import claude_agent_sdk

    return str(Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude")


def _hangs_once(tmp_path: Path) -> Path:
    """A CLI that never answers on its first start (and ignores stdin), then is the real one."""
    script = tmp_path / "claude-hangs-once"
    marker = tmp_path / "started-once"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ ! -e "{marker}" ]; then : > "{marker}"; exec sleep 600; fi\n'
        f'exec "{_bundled_cli()}" "$@"\n'
    )
    script.chmod(0o755)
    return script


def _sleepers() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            if child.status() != psutil.STATUS_ZOMBIE and child.cmdline()[:2] == ["sleep", "600"]:
                found.append(child)
    return found


async def test_a_cli_that_never_answers_ends_the_turn_in_time_and_the_pool_goes_on(
    harness: CliHarness, tmp_path: Path
) -> None:
    settings = AgentSettings(
        cli_path=str(_hangs_once(tmp_path)),
        env=harness.env,
        setting_sources=(),
        max_live_clients=1,
        idle_timeout=None,
        start_timeout=START_TIMEOUT,
    )
    manager = SessionManager(
        default_cwd=str(harness.workdir),
        storage=SessionStorage(tmp_path / "sessions.db"),
        agent=settings,
    )
    harness.fake.script = lambda request: Reply.text(f"echo: {request.last_user_text()}")
    try:
        started = time.monotonic()
        events = await collect(manager.stream(CHAT, "hello?"))
        took = time.monotonic() - started
        error = final(events)
        assert isinstance(error, TurnError)
        assert error.kind == "cli-start"
        assert f"did not start within {START_TIMEOUT:g} s" in error.message
        assert took < START_TIMEOUT + 1.0
        # The one slot is usable again: the next turn starts a working CLI.
        events = await collect(manager.stream(CHAT, "and now?"))
        assert text_of(events) == "echo: and now?"
        assert manager.live_clients == 1
    finally:
        await asyncio.wait_for(manager.aclose(), TURN_TIMEOUT)
    assert _sleepers() == []  # the CLI that never answered was stopped


async def test_a_consumer_that_stops_early_frees_the_session_at_once(
    harness: CliHarness, managed: tuple[SessionManager, RequestLog]
) -> None:
    manager, _ = managed
    release = threading.Event()
    harness.fake.enqueue(
        Reply.text("A long answer " * 30, chunk_size=10, hang=release), Reply.text("Next.")
    )
    try:
        async with asyncio.timeout(TURN_TIMEOUT):
            async with contextlib.aclosing(manager.stream(CHAT, "tell me a lot")) as events:
                async for event in events:
                    if isinstance(event, TextDelta):
                        break
            session = manager.get(CHAT)
            assert session is not None
            # Closing the stream closed the turn inside it, in this task, before returning.
            assert not session.busy
    finally:
        release.set()
    events = await collect(manager.stream(CHAT, "next"))
    assert text_of(events) == "Next."


async def test_a_bot_stopped_mid_answer_leaves_no_task_pending(
    harness: CliHarness, tmp_path: Path
) -> None:
    release = threading.Event()
    harness.fake.enqueue(Reply.text("Streaming words " * 40, chunk_size=8, hang=release))
    async with FakeTelegram(token=DEFAULT_TOKEN) as tg:
        tg.private_chat(OWNER, "Ada")
        bot = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "voice-agent"),
            "run",
            env=_env(tmp_path, harness, tg, ALLOWED_USER_IDS=str(OWNER)),
            cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            tg.send_text(OWNER, None, "hello")
            # The answer is being streamed into the chat when the bot is stopped.
            await tg.wait_for_message(OWNER, lambda m: m.from_bot and "Stream" in m.content, 60)
        finally:
            bot.send_signal(signal.SIGINT)
            _, err = await asyncio.wait_for(bot.communicate(), 60)
            release.set()
    log = err.decode()
    assert bot.returncode == 0, log
    assert "Task was destroyed but it is pending" not in log
    assert "Traceback" not in log
    assert "closed the store" in log


async def test_a_stopped_bot_has_closed_its_store(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.fake.enqueue(Reply.text("Hello."))
    async with running_bot(harness, tmp_path, monkeypatch) as bot:
        bot.tg.send_text(OWNER, None, "hello")
        await bot.reply("Hello.")
        storage = bot.svc.manager.storage
        assert storage is not None
        wal = storage.db_path.with_name(storage.db_path.name + "-wal")
        assert wal.exists()  # open, in WAL mode
        refused = pytest.raises(StoreInUse, match="the bot is running")
        with closing(SessionStorage(storage.db_path)) as outside, refused, outside.exclusively():
            pytest.fail("changed the store under a running bot")
        assert bot.app.post_shutdown is not None
        shutdown = bot.app.post_shutdown
    await shutdown(bot.app)  # run_polling's last step, after the application has shut down
    assert storage.closed
    assert not wal.exists()  # the last connection closed and checkpointed it
    with closing(SessionStorage(storage.db_path)) as outside, outside.exclusively():
        # The bot let go of the store, and what it stored is there.
        assert outside.get_session(OWNER, "main") is not None
