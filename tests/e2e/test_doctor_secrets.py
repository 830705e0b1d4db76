"""No configured secret reaches the terminal or the log, whatever a server echoes back.

The installed ``voice-agent`` in a subprocess: ``doctor`` against a speech server
that answers 401 quoting the request's ``Authorization`` header and path, against
unreachable servers whose URLs hold a password, and ``doctor``, ``worker`` and
``run`` (the hub) on a real nats-server with the credentials in ``NATS_URL``.
"""

from __future__ import annotations

import base64
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.console import run, user_env
from tests.e2e.machines_world import Proc
from tests.fakes.nats_server import NatsServer
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.e2e

API_KEY = "sk-proj-DoctorSecretKey123"
URL_PASSWORD = "UrlPassword77"
QUERY_SECRET = "QuerySecret999"


class _Echo401(http.server.BaseHTTPRequestHandler):
    """Refuses every upload, quoting the credentials it was sent (as some servers do)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        auth = self.headers.get("Authorization")
        message = f"invalid credentials {auth} for {self.path}"
        body = json.dumps({"error": {"message": message}, "auth": auth}).encode()
        self.send_response(401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def _echo_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo401)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("url", "extra", "secrets"),
    [
        (
            "http://127.0.0.1:{port}/v1/audio/transcriptions?key=" + QUERY_SECRET,
            {"STT_API_KEY": API_KEY},
            [API_KEY, QUERY_SECRET],
        ),
        (
            f"http://stt-user:{URL_PASSWORD}@127.0.0.1:{{port}}/v1/audio/transcriptions",
            {},
            [URL_PASSWORD, _basic("stt-user", URL_PASSWORD)],
        ),
    ],
    ids=["bearer-key-and-query-key", "password-in-the-url"],
)
async def test_doctor_never_prints_what_a_refusing_speech_server_echoes(
    tmp_path: Path, url: str, extra: dict[str, str], secrets: list[str]
) -> None:
    with _echo_server() as port:
        env = user_env(
            tmp_path,
            STT_BACKEND="http",
            STT_PROTOCOL="openai",
            WHISPER_URL=url.format(port=port),
            **extra,
        )
        done = await run(["doctor"], env, tmp_path)
    shown = done.out + done.err
    leaked = [secret for secret in secrets if secret in shown]
    assert leaked == [], shown
    assert "✗ Speech-to-text: http: The speech server answered 401: invalid credentials" in shown


async def test_doctor_masks_the_passwords_of_unreachable_servers(tmp_path: Path) -> None:
    stt, nats = _closed_port(), _closed_port()
    env = user_env(
        tmp_path,
        STT_BACKEND="http",
        WHISPER_URL=f"http://stt-user:{URL_PASSWORD}@127.0.0.1:{stt}/inference",
        NATS_URL=f"nats://alpha:NatsPassword55@127.0.0.1:{nats}",
        NATS_REQUEST_TIMEOUT="0.5",
        MACHINE_NAME="alpha",
    )
    done = await run(["doctor"], env, tmp_path)
    shown = done.out + done.err
    assert URL_PASSWORD not in shown
    assert "NatsPassword55" not in shown
    assert f"reach the speech server at http://stt-user:***@127.0.0.1:{stt}/inference" in shown
    assert f"cannot reach the NATS server nats://alpha:***@127.0.0.1:{nats}" in shown


async def test_nats_credentials_in_the_url_are_masked_by_doctor_the_worker_and_the_hub(
    tmp_path: Path,
) -> None:
    with NatsServer(tmp_path / "nats", ["alpha"]) as server:
        address = server.url.removeprefix("nats://")
        worker_url = f"nats://alpha:{server.machines['alpha']}@{address}"
        hub_url = f"nats://hub:{server.hub_password}@{address}"
        home = tmp_path / "alpha"
        home.mkdir()
        worker_env = user_env(
            home, NATS_URL=worker_url, MACHINE_NAME="alpha", DEFAULT_CWD=str(home)
        )
        worker = Proc("alpha", ["worker"], {**worker_env, "LOG_LEVEL": "DEBUG"}, home)
        async with FakeTelegram() as tg:
            hub_home = tmp_path / "hub"
            hub_home.mkdir()
            hub_env = user_env(
                hub_home,
                tg=tg,
                NATS_URL=hub_url,
                MACHINE_NAME="hub-box",
                DEFAULT_CWD=str(hub_home),
                ALLOWED_USER_IDS="1001",
                LOG_LEVEL="DEBUG",
            )
            hub = Proc("hub", ["run"], hub_env, hub_home)
            try:
                await worker.start()
                await hub.start()
                await worker.wait_for_log("serving")
                await hub.wait_for_log("hub connected to")
            finally:
                await worker.stop()
                await hub.stop()
        for proc, password in ((worker, server.machines["alpha"]), (hub, server.hub_password)):
            assert password not in proc.log
        assert f"through nats://alpha:***@{address}" in worker.log
        assert f"hub connected to nats://hub:***@{address}" in hub.log
        done = await run(["doctor"], worker_env, home)
    assert server.machines["alpha"] not in done.out + done.err
    assert f"✓ NATS (worker alpha): alpha connected to nats://alpha:***@{address}" in done.out
