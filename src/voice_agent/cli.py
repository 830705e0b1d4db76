"""The ``voice-agent`` command."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the ``voice-agent`` command line.

    Args:
        argv: Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The process exit status.
    """
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in {"--version", "version"}:
        from voice_agent import __version__

        print(f"voice-agent {__version__}")
        return 0
    print("voice-agent: the Telegram front end is not built yet (see issue 3).", file=sys.stderr)
    return 2
