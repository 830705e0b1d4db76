r"""A terminal read key by key: Ctrl-C as a key, no line-length cap, no kernel echo.

The Claude Code processes run in the chat's process group, and a terminal sends
SIGINT for Ctrl-C to the whole foreground group: the processes would die with
the turn instead of being interrupted. So while the chat reads a terminal, the
terminal's signal keys are turned off (``ISIG``): Ctrl-C reaches the reader as
``\x03``, and only the chat acts on it. Ctrl-Z and Ctrl-\ do nothing meanwhile.

Canonical mode is turned off too (``ICANON``, with ``ECHO`` and ``IEXTEN``): in it
the kernel caps a line at 4,095 bytes and silently drops the rest of a longer
paste, although its echo shows all of it. The chat's own line editor
(:mod:`voice_agent.terminal.editor`) then edits and echoes the line. Enter is read
as it is sent (``\r``, no ``ICRNL``) so that a pasted ``\r\n`` is one newline.

The settings are restored on exit.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

__all__ = ["echoes", "erase_key", "read_keys", "restore"]

try:
    import termios
except ImportError:  # pragma: no cover - not POSIX
    termios = None  # type: ignore[assignment]


def read_keys(fd: int) -> list[Any] | None:
    """Make terminal ``fd`` hand over every key at once, Ctrl-C included, unechoed.

    Args:
        fd: A file descriptor, usually stdin.

    Returns:
        The previous terminal settings, for :func:`restore`; None when ``fd`` is
        not a terminal (nothing was changed).
    """
    if termios is None or not os.isatty(fd):
        return None
    try:
        saved = termios.tcgetattr(fd)
        changed = termios.tcgetattr(fd)
        changed[0] &= ~(termios.ICRNL | termios.INLCR | termios.IGNCR)
        changed[3] &= ~(termios.ISIG | termios.ICANON | termios.ECHO | termios.IEXTEN)
        changed[6][termios.VMIN] = 1
        changed[6][termios.VTIME] = 0
        termios.tcsetattr(fd, termios.TCSANOW, changed)
    except (termios.error, OSError):
        return None
    return saved


def echoes(saved: list[Any]) -> bool:
    """Whether the terminal echoed typed keys before :func:`read_keys` (``stty echo``).

    Args:
        saved: The settings :func:`read_keys` returned.
    """
    return bool(saved[3] & termios.ECHO)


def erase_key(saved: list[Any]) -> str:
    """The character the terminal's Backspace sends (``VERASE``, usually DEL).

    Args:
        saved: The settings :func:`read_keys` returned.
    """
    erase = saved[6][termios.VERASE]
    if isinstance(erase, bytes) and len(erase) == 1 and erase != b"\x00":
        return erase.decode("latin-1")
    return "\x7f"


def restore(fd: int, saved: list[Any]) -> None:
    """Put back the terminal settings :func:`read_keys` returned.

    Args:
        fd: The terminal.
        saved: Its settings from before.
    """
    with contextlib.suppress(termios.error, OSError):
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
