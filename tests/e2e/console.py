"""The installed ``voice-agent`` command, started as a user starts it.

:data:`VOICE_AGENT` is the console script pip wrote next to this interpreter (not
a Python function, not ``python -m``). :func:`user_env` is a user's environment
with nothing of the developer's voice-agent settings and a temporary home, data
directory and config file; :func:`run` and :func:`start` start the script with
pipes; :class:`Terminal` starts it on a pseudo-terminal and reads what it shows
with ``select`` and a deadline.
"""

from __future__ import annotations

import asyncio
import builtins
import codecs
import contextlib
import fcntl
import os
import pty
import select
import subprocess
import sys
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import psutil

from tests.e2e.conftest import TURN_TIMEOUT, CliHarness
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from voice_agent.config import Settings

VOICE_AGENT = Path(sys.executable).parent / "voice-agent"
"""The console script of the installed package (``[project.scripts]``)."""

COMMAND_TIMEOUT = 60.0
"""Upper bound for one command; the slowest (``doctor``) takes a few seconds."""

_SETTING_NAMES = frozenset(name.upper() for name in Settings.model_fields)


def user_env(
    tmp_path: Path,
    *,
    harness: CliHarness | None = None,
    tg: FakeTelegram | None = None,
    **extra: str,
) -> dict[str, str]:
    """The environment of a user running ``voice-agent`` in a fresh account.

    The test process's environment without any voice-agent setting, with a
    temporary ``HOME``, data directory and (missing) config file under
    ``tmp_path``. With ``harness``, the Claude Code CLI talks to its scripted
    model (its ``HOME`` then) and new sessions work in its working directory;
    with ``tg``, the bot token and Bot API are the fake's.

    Args:
        tmp_path: The test's temporary directory.
        harness: The scripted Anthropic API and the CLI's environment.
        tg: The fake Bot API.
        **extra: More variables, applied last.

    Returns:
        The environment for the subprocess.
    """
    env = {k: v for k, v in os.environ.items() if k.upper() not in _SETTING_NAMES}
    home = tmp_path / "user-home"
    home.mkdir(exist_ok=True)
    env.update(
        {
            "HOME": str(home),
            "VOICE_AGENT_DATA_DIR": str(tmp_path / "data"),
            "VOICE_AGENT_CONFIG": str(tmp_path / "none.toml"),
        }
    )
    if harness is not None:
        env.update(harness.env)  # the CLI's settings reach it through our environment
        env["DEFAULT_CWD"] = str(harness.workdir)
    if tg is not None:
        env.update(
            {
                "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
                "TELEGRAM_API_BASE_URL": tg.base_url,
                "TELEGRAM_API_FILE_URL": tg.base_file_url,
            }
        )
    env.update(extra)
    return env


async def start(
    args: Sequence[str], env: dict[str, str], cwd: Path, *, stdin: int | None = None
) -> asyncio.subprocess.Process:
    """Start ``voice-agent ARGS`` with its output on pipes.

    Args:
        args: The arguments after ``voice-agent``.
        env: Its environment (see :func:`user_env`).
        cwd: Where it starts (its ``.env`` would be read there).
        stdin: Its input (default: none, like ``< /dev/null``).
    """
    return await asyncio.create_subprocess_exec(
        str(VOICE_AGENT),
        *args,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL if stdin is None else stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@dataclass(frozen=True)
class Finished:
    """A command that ran to its end."""

    status: int
    out: str
    err: str


async def run(args: Sequence[str], env: dict[str, str], cwd: Path) -> Finished:
    """Run ``voice-agent ARGS`` to its end (bounded by :data:`COMMAND_TIMEOUT`)."""
    return await _finish(await start(args, env, cwd))


async def run_module(args: Sequence[str], env: dict[str, str], cwd: Path) -> Finished:
    """Run ``python -m voice_agent ARGS`` to its end, the other way to start the command."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voice_agent",
        *args,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return await _finish(process)


async def _finish(process: asyncio.subprocess.Process) -> Finished:
    out, err = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT)
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(), err.decode())


def _take_terminal() -> None:
    """In the child, after ``setsid``: standard input becomes its controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """``voice-agent ARGS`` on a pseudo-terminal: type at it, wait for what it shows.

    Standard input and output are the terminal; standard error goes to a file
    (shown when an expectation fails). :attr:`screen` is everything shown so far,
    with the terminal's ``\\r\\n`` read as ``\\n``.
    """

    def __init__(
        self,
        args: Sequence[str],
        env: dict[str, str],
        cwd: Path,
        *,
        controlling: bool = False,
    ) -> None:
        """Start the command.

        Args:
            args: The arguments after ``voice-agent``.
            env: Its environment (see :func:`user_env`).
            cwd: Where it starts.
            controlling: Make the terminal the command's controlling terminal, as a
                shell does, so that Ctrl-C (``\\x03``) sends it SIGINT; otherwise
                the command has none and Ctrl-C is only a character.
        """
        self._master, slave = pty.openpty()
        self._stderr_path = cwd / f"stderr-{os.getpid()}-{self._master}.log"
        with self._stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [str(VOICE_AGENT), *args],
                stdin=slave,
                stdout=slave,
                stderr=stderr,
                env=env,
                cwd=cwd,
                start_new_session=True,  # its own session, like a login shell's job
                preexec_fn=_take_terminal if controlling else None,
            )
        os.close(slave)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._text = ""
        self._closed = False
        self._mark = 0  # where since_mark() starts: the last key typed

    @property
    def screen(self) -> str:
        """Everything shown so far."""
        return self._text.replace("\r\n", "\n")

    @property
    def stderr(self) -> str:
        """What the command wrote to standard error so far."""
        return self._stderr_path.read_text(errors="replace")

    def since_mark(self) -> str:
        """What was shown since the last key typed."""
        return self._text[self._mark :].replace("\r\n", "\n")

    def press(self, keys: str) -> None:
        """Type ``keys`` as they are (``\\x04`` is Ctrl-D at the start of a line)."""
        self._mark = len(self._text)
        os.write(self._master, keys.encode())

    def type(self, line: str) -> None:
        """Type a line and Enter."""
        self.press(line + "\n")

    def expect(self, text: str, *, count: int = 1, timeout: float = TURN_TIMEOUT) -> str:
        """Wait until ``text`` was shown ``count`` times since the last key typed.

        Returns:
            What was shown since the last key typed.

        Raises:
            AssertionError: When it is not shown in time or the command ended first.
        """
        deadline = time.monotonic() + timeout
        while self.since_mark().count(text) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(self._report(f"{text!r} not shown within {timeout} s"))
            if not self._read(left):
                raise AssertionError(self._report(f"the command ended before showing {text!r}"))
        return self.since_mark()

    def wait(self, timeout: float = TURN_TIMEOUT) -> int:
        """Read the rest of the output and wait for the command to end; its status."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0 and self._read(left):
            pass
        return self.process.wait(max(deadline - time.monotonic(), 0.1))

    def descendants(self) -> list[psutil.Process]:
        """The processes the command started (Claude Code CLIs), still alive."""
        try:
            children: list[psutil.Process] = psutil.Process(self.process.pid).children(
                recursive=True
            )
        except psutil.NoSuchProcess:
            return []
        return children

    def close(self) -> None:
        """Kill the command if it still runs, and close the terminal."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(TURN_TIMEOUT)
        if not self._closed:
            self._closed = True
            os.close(self._master)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _read(self, timeout: float) -> bool:
        """Read what is shown within ``timeout``; False once the terminal is closed."""
        ready, _, _ = select.select([self._master], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self._master, 65536)
        except OSError:  # EIO: every process holding the terminal has ended
            data = b""
        if not data:
            self._text += self._decoder.decode(b"", final=True)
            return False
        self._text += self._decoder.decode(data)
        return True

    def _report(self, problem: str) -> str:
        with contextlib.suppress(OSError):
            return f"{problem}\n--- screen ---\n{self.screen}\n--- stderr ---\n{self.stderr}"
        return problem
