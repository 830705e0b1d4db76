"""Several machines as a user runs them: a real nats-server, the hub and workers as processes.

The hub is the installed ``voice-agent run`` with ``NATS_URL`` (on the fake Bot
API), each worker the installed ``voice-agent worker`` with its own data
directory and working directory; every Claude Code CLI talks to the one
scripted model. The test watches NATS with the hub's credentials (a heartbeat
is an event it can wait for) and Telegram through the fake.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import psutil
from nats.aio.client import Client
from nats.aio.msg import Msg

from tests.e2e.conftest import CliHarness
from tests.e2e.console import VOICE_AGENT, user_env
from tests.fakes.nats_server import NatsServer
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from voice_agent.machines.protocol import Beat, machine_of

OWNER = 1001
WAIT = 60.0
"""Upper bound for anything to show up (the machine is shared and slow)."""
HEARTBEAT = {"HEARTBEAT_INTERVAL": "0.3", "HEARTBEAT_TIMEOUT": "3"}


@dataclass
class Proc:
    """One ``voice-agent`` process, its output in files (never a full pipe)."""

    name: str
    args: list[str]
    env: dict[str, str]
    cwd: Path
    process: asyncio.subprocess.Process | None = None

    @property
    def log_path(self) -> Path:
        return self.cwd / f"{self.name}.log"

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def wait_for_log(self, text: str) -> None:
        """Wait until ``text`` is in the output (fails if the process ends or WAIT passes)."""
        deadline = time.monotonic() + WAIT
        while text not in self.log:
            assert self.process is not None
            assert self.process.returncode is None, self.log
            assert time.monotonic() < deadline, self.log
            await asyncio.sleep(0.1)

    async def start(self) -> None:
        out = self.log_path.open("ab")  # the child writes to it; ours closes at once
        try:
            self.process = await asyncio.create_subprocess_exec(
                str(VOICE_AGENT),
                *self.args,
                env=self.env,
                cwd=self.cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )
        finally:
            out.close()

    def descendants(self) -> list[psutil.Process]:
        """What the process started and is still running (its Claude Code CLIs)."""
        return self._tree()

    def _tree(self) -> list[psutil.Process]:
        if self.process is None:
            return []
        with contextlib.suppress(psutil.NoSuchProcess):
            return psutil.Process(self.process.pid).children(recursive=True)
        return []

    async def kill(self) -> None:
        """``kill -9`` the process; what it started is killed after it (as a crash leaves it)."""
        if self.process is None or self.process.returncode is not None:
            return
        children = self._tree()
        self.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.process.wait(), WAIT)
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()

    async def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it does not end in time."""
        if self.process is None:
            return None
        if self.process.returncode is None:
            children = self._tree()
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), WAIT)
            except TimeoutError:
                await self.kill()
            for child in children:
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
        return self.process.returncode

    async def exited(self) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), WAIT)


@dataclass
class World:
    """The NATS server, the fake Telegram, the hub and the workers."""

    nats_server: NatsServer
    tg: FakeTelegram
    cli: CliHarness
    hub: Proc
    workers: dict[str, Proc]
    dirs: dict[str, Path]
    watcher: Client
    beats: dict[str, list[Beat]] = field(default_factory=dict)
    _beat: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def on_beat(self, msg: Msg) -> None:
        async with self._beat:
            self.beats.setdefault(machine_of(msg.subject), []).append(Beat.decode(msg.data))
            self._beat.notify_all()

    async def wait_beat(self, machine: str, after_boot: str | None = None) -> Beat:
        """The next heartbeat of ``machine`` (of a run other than ``after_boot``)."""
        async with self._beat, asyncio.timeout(WAIT):
            seen = len(self.beats.get(machine, []))
            while True:
                fresh = self.beats.get(machine, [])[seen:]
                found = next((b for b in fresh if b.boot != after_boot), None)
                if found is not None:
                    return found
                await self._beat.wait()

    def say(self, text: str) -> None:
        self.tg.send_text(OWNER, None, text)

    async def reply(self, match: Any, since: float | None = None) -> Any:
        return await self.tg.wait_for_message(OWNER, match, WAIT, since=since)

    def bot_texts(self) -> list[str]:
        return [m.content for m in self.tg.messages(OWNER) if m.from_bot and not m.deleted]

    async def machines_online(self, *names: str) -> None:
        """Ask /machines until it lists every one of ``names`` online."""
        async with asyncio.timeout(WAIT):
            while True:
                since = time.monotonic()
                self.say("/machines")
                listing = await self.reply("🖥 Machines", since=since)
                if all(f"{n}: online" in listing.content for n in names):
                    return
                await self.wait_beat(names[-1])  # one more heartbeat, then ask again


def worker_proc(
    tmp_path: Path,
    cli: CliHarness,
    server: NatsServer,
    name: str,
    *,
    user: str | None = None,
    **env: str,
) -> Proc:
    """``voice-agent worker`` as machine ``name``, as NATS user ``user`` (default: its own)."""
    home = tmp_path / name
    home.mkdir(exist_ok=True)
    work = home / "work"
    work.mkdir(exist_ok=True)
    values = {
        **user_env(home, harness=cli),
        **server.env(user or name),
        "MACHINE_NAME": name,
        "DEFAULT_CWD": str(work),
        "LOG_LEVEL": "INFO",
        **HEARTBEAT,
        **env,
    }
    return Proc(name, ["worker"], values, home)


def hub_proc(
    tmp_path: Path, cli: CliHarness, server: NatsServer, tg: FakeTelegram, **env: str
) -> Proc:
    home = tmp_path / "hub"
    home.mkdir(exist_ok=True)
    work = home / "work"
    work.mkdir(exist_ok=True)
    values = {
        **user_env(home, harness=cli, tg=tg),
        **server.env(None),
        "MACHINE_NAME": "hub-box",
        "DEFAULT_CWD": str(work),
        "ALLOWED_USER_IDS": str(OWNER),
        "STREAM_MODE": "edit",
        "LOG_LEVEL": "INFO",
        **HEARTBEAT,
        **env,
    }
    return Proc("hub", ["run"], values, home)


@asynccontextmanager
async def machines_world(
    tmp_path: Path,
    cli: CliHarness,
    names: tuple[str, ...] = ("alpha", "beta"),
    hub_env: dict[str, str] | None = None,
    worker_env: dict[str, dict[str, str]] | None = None,
) -> AsyncIterator[World]:
    """The NATS server, the hub (with ``hub_env`` too) and a worker per name, all online.

    ``worker_env`` adds to a worker's environment, by name.
    """
    with NatsServer(tmp_path / "nats", [*names, "stranger"]) as server:
        async with FakeTelegram(token=DEFAULT_TOKEN) as tg:
            tg.private_chat(OWNER, "Ada")
            watcher = await nats.connect(
                server.url, user="hub", password=server.hub_password, inbox_prefix="_INBOX.hub"
            )
            more = worker_env or {}
            workers = {n: worker_proc(tmp_path, cli, server, n, **more.get(n, {})) for n in names}
            hub = hub_proc(tmp_path, cli, server, tg, **(hub_env or {}))
            world = World(
                server,
                tg,
                cli,
                hub,
                workers,
                {n: w.cwd / "work" for n, w in workers.items()} | {"hub-box": hub.cwd / "work"},
                watcher,
            )
            await watcher.subscribe("va.m.*.beat", cb=world.on_beat)
            await watcher.flush()
            try:
                await hub.start()
                for worker in workers.values():
                    await worker.start()
                for name in names:
                    await world.wait_beat(name)
                await world.machines_online(*names)
                yield world
            finally:
                for worker in workers.values():
                    await worker.stop()
                await hub.stop()
                await watcher.close()


def dump(world: World) -> str:
    """Every log, for a failing assertion's message."""
    parts = [f"--- {p.name}\n{p.log[-6000:]}" for p in [world.hub, *world.workers.values()]]
    return "\n".join(parts)
