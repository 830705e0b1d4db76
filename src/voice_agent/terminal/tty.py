r"""Ctrl-C at a terminal as a key, not a signal.

The Claude Code processes run in the chat's process group, and a terminal sends
SIGINT for Ctrl-C to the whole foreground group: the processes would die with
the turn instead of being interrupted. So while the chat reads a terminal, the
terminal's signal keys are turned off (``ISIG``) and Ctrl-C is made an
end-of-line character (``VEOL``): typing it hands ``…\x03`` to the reader at
once, and only the chat acts on it. The settings are restored on exit. Ctrl-Z
and Ctrl-\ do nothing meanwhile.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

__all__ = ["CTRL_C", "catch_ctrl_c", "restore"]

CTRL_C = "\x03"

try:
    import termios
except ImportError:  # pragma: no cover - not POSIX
    termios = None  # type: ignore[assignment]


def catch_ctrl_c(fd: int) -> list[Any] | None:
    """Make Ctrl-C on terminal ``fd`` a key the reader sees instead of SIGINT.

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
        changed[3] &= ~termios.ISIG
        changed[6][termios.VEOL] = CTRL_C.encode()
        termios.tcsetattr(fd, termios.TCSANOW, changed)
    except (termios.error, OSError):
        return None
    return saved


def restore(fd: int, saved: list[Any]) -> None:
    """Put back the terminal settings :func:`catch_ctrl_c` returned.

    Args:
        fd: The terminal.
        saved: Its settings from before.
    """
    with contextlib.suppress(termios.error, OSError):
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
