"""An unreachable or mistyped ``NATS_URL``, as the installed ``voice-agent`` meets it.

A command (``doctor``, ``chat --machine``) says in one line that the server
could not be reached, with the password masked, and ends; a mistyped URL is a
settings error before anything connects; a service (``worker``, ``run`` as the
hub) started before its server waits for it with one line, not one per try,
and serves once it is there.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import CliHarness
from tests.e2e.console import run, user_env
from tests.e2e.machines_world import OWNER, WAIT, hub_proc, worker_proc
from tests.fakes.nats_server import NatsServer
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram

pytestmark = pytest.mark.e2e

PASSWORD = "NatsPassword55"
WAITING = "waiting for the NATS server"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _log_lines(text: str, level: str) -> list[str]:
    """The log lines of ``level`` in ``text`` (``… WARNING voice_agent.…: …``)."""
    return [line for line in text.splitlines() if f" {level} voice_agent." in line]


async def test_doctor_says_once_that_the_nats_server_cannot_be_reached(tmp_path: Path) -> None:
    port = _closed_port()
    url = f"nats://alpha:{PASSWORD}@127.0.0.1:{port}"
    env = user_env(tmp_path, NATS_URL=url, MACHINE_NAME="alpha")  # the default 10-s timeout
    done = await run(["doctor"], env, tmp_path)
    shown = done.out + done.err
    assert done.status == 1, shown
    assert (
        f"✗ NATS (worker alpha): cannot reach the NATS server nats://alpha:***@127.0.0.1:{port} "
        "(ConnectionRefusedError" in shown
    )
    assert "is it running, and is NATS_URL right?" in shown
    assert _log_lines(shown, "WARNING") == [], shown  # was one a second for 30 s
    assert PASSWORD not in shown


async def test_chat_on_a_machine_says_once_that_the_nats_server_cannot_be_reached(
    tmp_path: Path,
) -> None:
    port = _closed_port()
    url = f"nats://hub:{PASSWORD}@127.0.0.1:{port}"
    env = user_env(tmp_path, NATS_URL=url)
    done = await run(["chat", "--machine", "box"], env, tmp_path)
    assert done.status == 2, done.err
    message = f"cannot reach the NATS server nats://hub:***@127.0.0.1:{port}"
    assert done.err.startswith(f"voice-agent chat: {message} (ConnectionRefusedError"), done.err
    assert done.err.count(message) == 1, done.err  # not an ERROR line and the message too
    assert _log_lines(done.err, "WARNING") == [], done.err
    assert _log_lines(done.err, "ERROR") == [], done.err
    assert PASSWORD not in done.out + done.err


@pytest.mark.parametrize(
    ("args", "value", "shown"),
    [
        (["worker"], "not-a-url", "'not-a-url'"),
        (["doctor"], "not-a-url", "'not-a-url'"),
        (["chat", "--machine", "box"], "not-a-url", "'not-a-url'"),
        (
            ["worker"],
            f"http://alpha:{PASSWORD}@127.0.0.1:4222",
            "'http://alpha:***@127.0.0.1:4222'",
        ),
        (["worker"], "nats://127.0.0.1:4222,nats://127.0.0.2:4222", "is a list"),
    ],
    ids=["worker", "doctor", "chat-machine", "http-with-password", "a-list"],
)
async def test_a_nats_url_that_is_not_one_is_a_settings_error(
    tmp_path: Path, args: list[str], value: str, shown: str
) -> None:
    env = user_env(tmp_path, NATS_URL=value, MACHINE_NAME="alpha")
    done = await run(args, env, tmp_path)
    assert done.status == 2, done.err
    assert done.err.startswith("voice-agent: invalid settings:\n  NATS_URL: "), done.err
    assert shown in done.err
    assert "expected nats://host:4222" in done.err or "give one server URL" in done.err
    assert "gaierror" not in done.err, done.err  # never tried to connect
    assert "WARNING" not in done.err, done.err
    assert PASSWORD not in done.out + done.err


async def test_a_worker_started_before_its_server_waits_for_it_and_then_serves(
    harness: CliHarness, tmp_path: Path
) -> None:
    server = NatsServer(tmp_path / "nats", ["alpha"])  # its port is chosen, it is not running
    worker = worker_proc(tmp_path, harness, server, "alpha")
    await worker.start()
    try:
        await worker.wait_for_log(WAITING)
        await asyncio.sleep(5)  # a few more tries (one every 2 s; it used to log each)
        assert worker.process is not None
        assert worker.process.returncode is None, worker.log
        warnings = _log_lines(worker.log, "WARNING")
        assert len(warnings) == 1, worker.log
        assert f"{WAITING} {server.url} (ConnectionRefusedError" in warnings[0]
        with server:
            await worker.wait_for_log(f"serving {worker.cwd / 'work'} through {server.url}")
            assert len(_log_lines(worker.log, "WARNING")) == 1, worker.log
            assert await worker.stop() == 0, worker.log
    finally:
        await worker.stop()


async def test_a_worker_waiting_for_its_server_stops_cleanly(
    harness: CliHarness, tmp_path: Path
) -> None:
    server = NatsServer(tmp_path / "nats", ["alpha"])
    worker = worker_proc(tmp_path, harness, server, "alpha")
    await worker.start()
    try:
        await worker.wait_for_log(WAITING)
        assert worker.process is not None
        worker.process.send_signal(signal.SIGTERM)
        assert await worker.exited() == 0, worker.log
        assert "Traceback" not in worker.log, worker.log
    finally:
        await worker.stop()


async def test_the_hub_answers_while_it_waits_for_its_server_and_connects_when_it_is_there(
    harness: CliHarness, tmp_path: Path
) -> None:
    server = NatsServer(tmp_path / "nats", ["alpha"])
    async with FakeTelegram(token=DEFAULT_TOKEN) as tg:
        tg.private_chat(OWNER, "Ada")
        hub = hub_proc(tmp_path, harness, server, tg)
        await hub.start()
        try:
            await hub.wait_for_log(WAITING)
            tg.send_text(OWNER, None, "/machines")
            listing = await tg.wait_for_message(OWNER, "🖥 Machines", WAIT)
            assert f"NATS: {WAITING} {server.url}" in listing.content
            await asyncio.sleep(3)  # a few more tries
            warnings = [line for line in _log_lines(hub.log, "WARNING") if "NATS" in line]
            assert len(warnings) == 1, hub.log
            with server:
                await hub.wait_for_log(f"hub connected to {server.url}")
                since = time.monotonic()
                tg.send_text(OWNER, None, "/machines")
                listing = await tg.wait_for_message(OWNER, "🖥 Machines", WAIT, since=since)
                assert "NATS:" not in listing.content, listing.content
                assert await hub.stop() == 0, hub.log
        finally:
            await hub.stop()
