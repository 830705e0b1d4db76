"""``voice-agent run`` as a user starts it: the installed script, configured by environment."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from tests.e2e.conftest import CliHarness
from tests.e2e.console import run, start, user_env
from tests.fakes.anthropic import Reply
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram

pytestmark = pytest.mark.e2e

OWNER = 1001


def _env(tmp_path: Path, harness: CliHarness, tg: FakeTelegram, **extra: str) -> dict[str, str]:
    return user_env(tmp_path, harness=harness, tg=tg, STREAM_MODE="edit", **extra)


async def _stop(process: asyncio.subprocess.Process, already: bytes = b"") -> str:
    process.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(process.communicate(), 60)
    return (already + err).decode()


async def test_run_serves_the_owner_and_keeps_the_token_out_of_the_log(
    harness: CliHarness, tmp_path: Path
) -> None:
    async with FakeTelegram(token=DEFAULT_TOKEN) as tg:
        tg.private_chat(OWNER, "Ada")
        harness.fake.enqueue(Reply.text("Hello from Claude"))
        process = await start(
            ["run"],
            _env(tmp_path, harness, tg, ALLOWED_USER_IDS=str(OWNER), LOG_LEVEL="DEBUG"),
            tmp_path,
        )
        try:
            tg.send_text(OWNER, None, "hello")
            await tg.wait_for_message(OWNER, "Hello from Claude", 60)
        finally:
            log = await _stop(process)
    assert process.returncode == 0
    assert DEFAULT_TOKEN not in log
    assert DEFAULT_TOKEN.split(":")[1] not in log
    assert (tmp_path / "data" / "sessions.db").exists()


async def test_run_without_allowlist_prints_a_pairing_code(
    harness: CliHarness, tmp_path: Path
) -> None:
    async with FakeTelegram(token=DEFAULT_TOKEN) as tg:
        tg.private_chat(OWNER, "Ada")
        process = await start(["run"], _env(tmp_path, harness, tg), tmp_path)
        assert process.stderr is not None
        seen = b""
        try:
            line = b""
            async with asyncio.timeout(60):
                while b"/pair " not in line:
                    line = await process.stderr.readline()
                    seen += line
                    assert line, "the bot exited before printing a pairing code"
            code = line.decode().split("/pair ", 1)[1].strip()
            tg.send_text(OWNER, None, f"/pair {code}")
            await tg.wait_for_message(OWNER, "Paired", 30)
        finally:
            log = await _stop(process, seen)
    assert process.returncode == 0, log


@pytest.mark.parametrize("args", [["run"], []], ids=["run", "no-command"])
async def test_run_without_token_explains_what_to_do(tmp_path: Path, args: list[str]) -> None:
    done = await run(args, user_env(tmp_path), tmp_path)
    assert done.status == 2
    assert "@BotFather" in done.err


async def test_bad_setting_stops_start_up_naming_it(tmp_path: Path) -> None:
    done = await run(["run"], user_env(tmp_path, MAX_LIVE_CLIENTS="many"), tmp_path)
    assert done.status == 2
    assert "MAX_LIVE_CLIENTS" in done.err
