"""``voice-agent chat --machine NAME``: the terminal front end in a session on a worker."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import nats
import pytest
from nats.aio.msg import Msg

from tests.e2e.conftest import CliHarness
from tests.e2e.console import Terminal, user_env
from tests.e2e.machines_world import WAIT, Proc, worker_proc
from tests.fakes.anthropic import Reply
from tests.fakes.nats_server import NatsServer

pytestmark = pytest.mark.e2e

ALLOW = "Allow? [y]es / [n]o / [a]lways: "


async def connected_worker(
    tmp_path: Path, harness: CliHarness, server: NatsServer, name: str
) -> tuple[Proc, Msg]:
    """``name``'s worker, started, and its first heartbeat (it is connected)."""
    watcher = await nats.connect(
        server.url, user="hub", password=server.hub_password, inbox_prefix="_INBOX.hub"
    )
    try:
        beat = await watcher.subscribe(f"va.m.{name}.beat", max_msgs=1)
        await watcher.flush()
        worker = worker_proc(tmp_path, harness, server, name)
        await worker.start()
        try:
            return worker, await beat.next_msg(timeout=WAIT)
        except BaseException:
            await worker.stop()
            raise
    finally:
        await watcher.close()


async def test_the_terminal_attaches_to_a_session_on_a_worker(
    harness: CliHarness, tmp_path: Path
) -> None:
    with NatsServer(tmp_path / "nats", ["alpha"]) as server:
        worker, _ = await connected_worker(tmp_path, harness, server, "alpha")
        work = worker.cwd / "work"
        target = work / "from-the-terminal.txt"
        harness.fake.enqueue(
            Reply.text("Hello from alpha, over NATS"),
            Reply.tool_use("Write", {"file_path": str(target), "content": "typed here\n"}),
            Reply.text("Wrote it on alpha"),
        )
        (tmp_path / "console").mkdir()
        env = {**user_env(tmp_path / "console", harness=harness), **server.env(None)}
        try:

            def converse() -> tuple[str, str, list[str], int]:
                with Terminal(["chat", "--machine", "alpha"], env, tmp_path) as chat:
                    banner = chat.expect("> ", timeout=WAIT)
                    chat.type("who are you?")
                    answer = chat.expect("Hello from alpha, over NATS", timeout=WAIT)
                    chat.expect("> ", timeout=WAIT)
                    chat.type("write a file")
                    asked = chat.expect(ALLOW, timeout=WAIT)
                    assert not target.exists()  # nothing written before the terminal answers
                    chat.type("a")  # always: the rule is kept (and applied) on alpha
                    chat.expect("Wrote it on alpha", timeout=WAIT)
                    chat.expect("> ", timeout=WAIT)
                    rules = []
                    for line in ("/approvals", "/approvals clear", "/approvals"):
                        chat.type(line)
                        rules.append(chat.expect("> ", timeout=WAIT))
                    chat.type("/quit")
                    return banner + answer, asked, rules, chat.wait(WAIT)

            # The terminal is driven from a thread: this loop keeps serving the worker.
            shown, asked, rules, status = await asyncio.to_thread(converse)
        finally:
            await worker.stop()
    assert status == 0
    listed, cleared, after = rules
    assert "1. " in listed, listed  # the worker's rule, not this process's (it has none)
    assert "from-the-terminal.txt" in listed or "Write" in listed, listed
    assert "kept on 🖥 alpha" in listed, listed
    assert "Removed 1 rule(s) on 🖥 alpha." in cleared, cleared
    assert 'No "always" rules for alpha on 🖥 alpha.' in after, after
    assert "Attached to 🖥 alpha" in shown
    assert f"in {work}" in shown  # the session works in alpha's directory
    assert "from-the-terminal.txt" in asked
    assert target.read_text() == "typed here\n"
    assert str(work) in str(harness.fake.main_requests[0].body)


async def test_chat_on_a_machine_without_nats_says_what_is_missing(tmp_path: Path) -> None:
    from tests.e2e.console import run

    done = await run(["chat", "--machine", "alpha"], user_env(tmp_path), tmp_path)
    assert done.status == 2
    assert "NATS_URL" in done.err


def _certificate(directory: Path) -> dict[str, str]:
    """A self-signed certificate for 127.0.0.1 (its own CA), made with openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = directory / "server.pem", directory / "server-key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=voice-agent test"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return {"cert_file": str(cert), "key_file": str(key)}


async def test_a_worker_connects_over_tls_only_with_the_servers_ca(tmp_path: Path) -> None:
    from tests.e2e.console import run

    tls = _certificate(tmp_path)
    with NatsServer(tmp_path / "nats", ["alpha"], tls=tls) as server:
        env = {**user_env(tmp_path), **server.env("alpha"), "MACHINE_NAME": "alpha"}
        trusted = await run(["doctor"], {**env, "NATS_TLS_CA": tls["cert_file"]}, tmp_path)
        untrusted = await run(["doctor"], env, tmp_path)
    assert "✓ NATS (worker alpha)" in trusted.out, trusted.out + trusted.err
    assert server.url.startswith("tls://")
    line = next(x for x in untrusted.out.splitlines() if "NATS (worker alpha)" in x)
    assert line.startswith("✗"), line
    assert "certificate of the NATS server" in line, line
    assert "NATS_TLS_CA" in line


async def test_a_worker_logs_in_with_an_nkey_seed_and_only_with_its_own(
    harness: CliHarness, tmp_path: Path
) -> None:
    import os

    import nkeys

    from tests.e2e.console import run

    with NatsServer(tmp_path / "nats", [], nkey_machines=("alpha",)) as server:
        env = {**user_env(tmp_path), **server.env("alpha"), "MACHINE_NAME": "alpha"}
        assert "NATS_USER" not in env  # the seed alone
        checked = await run(["doctor"], env, tmp_path)

        other = tmp_path / "other.nk"
        other.write_bytes(nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER))
        other.chmod(0o600)
        wrong = await run(["doctor"], {**env, "NATS_NKEY_SEED_FILE": str(other)}, tmp_path)

        worker, heard = await connected_worker(tmp_path, harness, server, "alpha")
        await worker.stop()  # alpha served, logged in by NKey
    assert "✓ NATS (worker alpha)" in checked.out, checked.out + checked.err
    assert "permissions are tight" in checked.out
    line = next(x for x in wrong.out.splitlines() if "NATS (worker alpha)" in x)
    assert line.startswith("✗"), line
    for done in (checked, wrong):
        assert server.seeds["alpha"].decode() not in done.out + done.err
    assert b'"boot"' in heard.data
