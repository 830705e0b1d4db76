"""Lines typed at the terminal, read without blocking the event loop.

A terminal or a pipe is watched with ``loop.add_reader`` and read with ``os.read``
when it has data: no thread, and nothing is left blocked on stdin at exit. Other
streams (``io.StringIO``, a regular file, a loop without ``add_reader``) never
block for long and are read by a daemon thread. Either way the lines wait in a
buffer until :meth:`LineReader.readline` takes them, one at a time, in order.

Given ``on_interrupt``, a terminal's Ctrl-C is read as a key (see
:mod:`voice_agent.terminal.tty`): it drops the line being typed and calls
``on_interrupt`` at once.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import io
import os
import stat
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TextIO

from voice_agent.terminal import tty

__all__ = ["LineReader"]

_CHUNK = 65536


class LineReader:
    """Reads a text stream line by line for asyncio code.

    Call :meth:`start` from the event loop, :meth:`close` when done.
    """

    def __init__(self, stream: TextIO, *, on_interrupt: Callable[[], None] | None = None) -> None:
        """Prepare to read ``stream`` (nothing is read before :meth:`start`).

        Args:
            stream: The input: ``sys.stdin``, a pipe opened as text, ``io.StringIO``…
            on_interrupt: Called when Ctrl-C is typed at a terminal input (which then
                sends no SIGINT); None leaves the terminal as it is.
        """
        self._stream = stream
        self._on_interrupt = on_interrupt
        self._saved_tty: list[Any] | None = None
        self._lines: deque[str] = deque()
        self._ready = asyncio.Event()
        self._eof = False
        self._aborted = False
        self._fd: int | None = None
        self._partial = ""
        encoding = getattr(stream, "encoding", None) or "utf-8"
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Start reading in the background; call from the running event loop."""
        self._loop = asyncio.get_running_loop()
        fd = _watchable_fd(self._stream)
        if fd is not None:
            try:
                self._loop.add_reader(fd, self._on_readable, fd)
            except (NotImplementedError, OSError, ValueError):
                fd = None
        if fd is not None and self._on_interrupt is not None:
            self._saved_tty = tty.catch_ctrl_c(fd)
        self._fd = fd
        if fd is None:
            threading.Thread(
                target=self._read_in_thread, name="terminal-input", daemon=True
            ).start()

    def close(self) -> None:
        """Stop watching the input (a reading thread ends at the stream's end)."""
        if self._fd is not None and self._loop is not None:
            self._loop.remove_reader(self._fd)
        if self._fd is not None and self._saved_tty is not None:
            tty.restore(self._fd, self._saved_tty)
            self._saved_tty = None
        self._fd = None
        self._aborted = True
        self._ready.set()

    def abort(self) -> None:
        """Make :meth:`readline` return None from now on, e.g. after Ctrl-C at the prompt."""
        self._aborted = True
        self._ready.set()

    @property
    def at_eof(self) -> bool:
        """Whether the input ended (or was aborted) and every line was taken."""
        return self._aborted or (self._eof and not self._lines)

    async def readline(self) -> str | None:
        """The next line, without its line ending; None at the end of the input.

        Cancelling a waiting call loses no line.
        """
        while not self._lines and not self.at_eof:
            self._ready.clear()
            await self._ready.wait()
        if self._aborted or not self._lines:
            return None
        return self._lines.popleft()

    def unread(self, line: str) -> None:
        """Put ``line`` back: the next :meth:`readline` returns it.

        Args:
            line: A line taken by :meth:`readline`.
        """
        self._lines.appendleft(line)
        self._ready.set()

    # -- feeding the buffer (always on the event loop's thread) -------------------

    def _push(self, text: str | None) -> None:
        """Add decoded text (None at the end of the input) and split it into lines."""
        if text is None:
            text = self._partial + self._decoder.decode(b"", final=True)
            self._partial = ""
            if text:
                self._lines.append(text.rstrip("\r"))
            self._eof = True
        else:
            *complete, self._partial = (self._partial + text).split("\n")
            self._lines.extend(line.rstrip("\r") for line in complete)
        self._ready.set()

    def _on_readable(self, fd: int) -> None:
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            assert self._loop is not None
            self._loop.remove_reader(fd)
            self._push(None)
            return
        text = self._decoder.decode(data)
        if self._saved_tty is not None:
            text = self._take_interrupts(text)
        self._push(text)

    def _take_interrupts(self, text: str) -> str:
        """Act on each Ctrl-C in ``text`` (dropping the line typed before it); the rest."""
        assert self._on_interrupt is not None
        while tty.CTRL_C in text:
            before, _, text = text.partition(tty.CTRL_C)
            *complete, _dropped = (self._partial + before).split("\n")
            self._lines.extend(line.rstrip("\r") for line in complete)
            self._partial = ""
            self._on_interrupt()
        return text

    def _read_in_thread(self) -> None:
        assert self._loop is not None
        loop = self._loop
        try:
            while line := self._stream.readline():
                loop.call_soon_threadsafe(self._push, line)
        except (OSError, ValueError):
            pass  # closed under us: treat as the end
        with contextlib.suppress(RuntimeError):  # the loop may be closed already
            loop.call_soon_threadsafe(self._push, None)


def _watchable_fd(stream: TextIO) -> int | None:
    """The stream's file descriptor when the loop can watch it (a tty, pipe or socket)."""
    try:
        fd = stream.fileno()
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return None
    return None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else fd
