"""Lines typed at the terminal, read without blocking the event loop.

A terminal or a pipe is watched with ``loop.add_reader`` and read with ``os.read``
when it has data: no thread, and nothing is left blocked on stdin at exit. Other
streams (``io.StringIO``, a regular file, a loop without ``add_reader``) never
block for long and are read by a daemon thread. Either way the lines wait in a
buffer until :meth:`LineReader.readline` takes them, one at a time, in order.

Given ``on_interrupt``, a terminal is read key by key (see
:mod:`voice_agent.terminal.tty`) and edited by
:class:`~voice_agent.terminal.editor.LineEditor`, which echoes to the terminal:
no line-length cap, a paste (bracketed by the terminal, which is asked to) is one
line with its newlines, and Ctrl-C drops the line being typed and calls
``on_interrupt`` at once. Pipes, files and other streams are read line by line.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import io
import os
import select
import stat
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TextIO

from voice_agent.terminal import tty
from voice_agent.terminal.editor import PASTE_OFF, PASTE_ON, Key, LineEditor

__all__ = ["LineReader"]

_CHUNK = 65536
_FLUSH_WAIT = 5.0
"""Seconds a line's echo may wait for a terminal nobody reads before it is dropped."""


class LineReader:
    """Reads a text stream line by line for asyncio code.

    Call :meth:`start` from the event loop, :meth:`close` when done.
    """

    def __init__(self, stream: TextIO, *, on_interrupt: Callable[[], None] | None = None) -> None:
        """Prepare to read ``stream`` (nothing is read before :meth:`start`).

        Args:
            stream: The input: ``sys.stdin``, a pipe opened as text, ``io.StringIO``…
            on_interrupt: Called when Ctrl-C is typed at a terminal input (which then
                sends no SIGINT, and is edited by this reader); None leaves the
                terminal as it is, read line by line.
        """
        self._stream = stream
        self._on_interrupt = on_interrupt
        self._saved_tty: list[Any] | None = None
        self._editor: LineEditor | None = None
        self._tty_out: _TerminalOutput | None = None  # the echo: to the input's terminal
        self._echoes = False
        self._lines: deque[str] = deque()
        self._ready = asyncio.Event()
        self._eof = False
        self._aborted = False
        self._fd: int | None = None
        self._partial = ""
        encoding = getattr(stream, "encoding", None) or "utf-8"
        self._encoding = encoding
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
            self._saved_tty = tty.read_keys(fd)
        if fd is not None and self._saved_tty is not None:
            self._editor = LineEditor(erase=tty.erase_key(self._saved_tty))
            self._echoes = tty.echoes(self._saved_tty)
            self._tty_out = _TerminalOutput.open(self._loop, fd)
            self._write(PASTE_ON)
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
            self._write(PASTE_OFF)
            if self._tty_out is not None:
                self._tty_out.close()
            tty.restore(self._fd, self._saved_tty)
            self._saved_tty = None
        self._tty_out, self._editor = None, None
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
        if self._editor is None:
            self._push(text)
            return
        keys = self._editor.feed(text)
        if self._echoes:
            self._write(self._editor.take_echo())
        else:
            self._editor.take_echo()
        self._take_keys(fd, keys)

    def _take_keys(self, fd: int, keys: list[Key]) -> None:
        """Queue the lines the editor made; act on Ctrl-C and on Ctrl-D (the end)."""
        if keys and self._tty_out is not None:
            self._tty_out.flush()  # the echo of the line shows before what it leads to
        for key in keys:
            if key.kind == "line":
                self._lines.append(key.text)
            elif key.kind == "interrupt":
                assert self._on_interrupt is not None
                self._on_interrupt()
            else:
                assert self._loop is not None
                self._loop.remove_reader(fd)
                self._eof = True
        self._ready.set()

    def _write(self, text: str) -> None:
        """Write ``text`` to the input's terminal (its echo, its modes)."""
        if self._tty_out is not None and text:
            self._tty_out.write(text.encode(self._encoding, errors="replace"))

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


class _TerminalOutput:
    """Writes to a terminal without blocking the event loop.

    The echo of what is typed must never stop the reading: a program pasting 100 KB
    into the terminal may read the screen only once it has written all of it. So
    what the terminal cannot take at once waits, and is written when it can; only
    :meth:`flush` waits for it, and for at most :data:`_FLUSH_WAIT` seconds (then
    the rest of the echo is dropped, never the input).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, *, owned: bool) -> None:
        self._loop = loop
        self._fd = fd
        self._owned = owned
        self._pending = bytearray()
        self._watching = False

    @classmethod
    def open(cls, loop: asyncio.AbstractEventLoop, fd: int) -> _TerminalOutput | None:
        """A non-blocking writer to terminal ``fd`` (None when it cannot be written).

        The terminal is opened again, so that only this writer's descriptor is
        non-blocking (not the standard output sharing ``fd``'s); failing that, ``fd``
        itself is written, blocking, when it is open for writing.
        """
        with contextlib.suppress(OSError):
            flags = os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK
            return cls(loop, os.open(os.ttyname(fd), flags), owned=True)
        try:
            import fcntl

            if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE != os.O_RDONLY:
                return cls(loop, fd, owned=False)
        except (ImportError, OSError):
            pass
        return None

    def write(self, data: bytes) -> None:
        """Write ``data`` now, or as soon as the terminal takes it."""
        self._pending += data
        self._drain()

    def flush(self) -> None:
        """Wait until everything is written (or :data:`_FLUSH_WAIT` has passed)."""
        deadline = time.monotonic() + _FLUSH_WAIT
        self._drain()
        while self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                self._pending.clear()  # nobody reads the terminal: drop the echo
                break
            with contextlib.suppress(OSError, ValueError):
                select.select([], [self._fd], [], left)
            self._drain()
        self._unwatch()

    def close(self) -> None:
        """Flush, then close the descriptor if it was opened here."""
        self.flush()
        if self._owned:
            with contextlib.suppress(OSError):
                os.close(self._fd)

    def _drain(self) -> None:
        while self._pending:
            try:
                written = os.write(self._fd, self._pending)
            except BlockingIOError:
                if not self._watching:
                    self._watching = True
                    self._loop.add_writer(self._fd, self._drain)
                return
            except OSError:  # the terminal is gone
                self._pending.clear()
                break
            del self._pending[:written]
        self._unwatch()

    def _unwatch(self) -> None:
        if self._watching:
            self._watching = False
            self._loop.remove_writer(self._fd)
