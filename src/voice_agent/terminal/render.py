"""Writing to the terminal: a flushing console, and a turn's events as text."""

from __future__ import annotations

from typing import TextIO

from voice_agent.agent.events import (
    AgentEvent,
    TextBlockDone,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnError,
    TurnResult,
)
from voice_agent.terminal.approval_text import printable

__all__ = ["Console", "TurnPrinter", "footer"]

_OUTPUT_WIDTH = 120


class Console:
    """Writes to an output stream, flushing each write, and knows where the cursor is.

    Attributes:
        stream: The output.
        echoes_input: Whether typed lines appear on the output by themselves (a
            terminal echoes them, Enter included); if not, :meth:`typed` writes them,
            so the output reads as a transcript.
    """

    def __init__(self, stream: TextIO, *, echoes_input: bool = False) -> None:
        """Write to ``stream``.

        Args:
            stream: ``sys.stdout``, an ``io.StringIO``…
            echoes_input: Whether typed lines appear on ``stream``.
        """
        self.stream = stream
        self.echoes_input = echoes_input
        self._at_line_start = True

    def typed(self, line: str) -> None:
        """Show a line just read from the input, unless the terminal already echoed it.

        Args:
            line: The line, without its newline.
        """
        if self.echoes_input:
            self._at_line_start = True
        else:
            self.write(printable(line) + "\n")

    def write(self, text: str) -> None:
        """Write ``text`` as is and flush.

        Args:
            text: Any text (an empty string writes nothing).
        """
        if not text:
            return
        self.stream.write(text)
        self.stream.flush()
        self._at_line_start = text.endswith("\n")

    def end_line(self) -> None:
        """Start a new line unless the cursor is at the start of one."""
        if not self._at_line_start:
            self.write("\n")

    def line(self, text: str = "") -> None:
        """Write ``text`` on a line of its own.

        Args:
            text: The line(s), without a final newline.
        """
        self.end_line()
        self.write(text + "\n")


class TurnPrinter:
    """Prints one turn's events: streamed text, tool lines, and a footer or an error."""

    def __init__(self, console: Console) -> None:
        """Print to ``console``.

        Args:
            console: Where to write.
        """
        self._console = console
        self._streamed = False

    def show(self, event: AgentEvent) -> None:
        """Print one event.

        Args:
            event: The next event of the turn.
        """
        if isinstance(event, TextDelta):
            self._streamed = True
            self._console.write(printable(event.text))
        elif isinstance(event, TextBlockDone):
            if not self._streamed:  # the CLI sent no deltas for this block
                self._console.write(printable(event.text))
            self._streamed = False
        elif isinstance(event, ToolStarted):
            self._console.line(_one_line(f"🔧 {event.name}: {event.summary}"))
        elif isinstance(event, ToolFinished):
            self._console.line(_finished(event))
        elif isinstance(event, TurnResult):
            self._console.line(footer(event))
        elif isinstance(event, TurnError):
            self._console.line(f"⚠ {printable(event.message)}")


def footer(result: TurnResult) -> str:
    """The line printed when a turn ends, e.g. ``— 2.4 s · $0.0132``.

    Args:
        result: The turn's result.

    Returns:
        Duration, cost when known, and whether it was interrupted or failed.
    """
    parts = [f"{result.duration_ms / 1000:.1f} s"]
    if result.cost_usd is not None:
        parts.append(f"${result.cost_usd:.4f}")
    if result.interrupted:
        parts.append("interrupted")
    elif result.is_error:
        parts.append("error: " + ("; ".join(result.errors) or result.result or "unknown"))
    return _one_line("— " + " · ".join(parts))


def _finished(event: ToolFinished) -> str:
    name = event.name or "tool"
    if not event.is_error:
        return "  " + _one_line(f"✓ {name}")
    first = next((line for line in event.output.splitlines() if line.strip()), "")
    return "  " + _one_line(f"✗ {name}: {first}" if first else f"✗ {name}")


def _one_line(text: str) -> str:
    flat = printable(" ".join(text.split()), keep_newlines=False)
    return flat if len(flat) <= _OUTPUT_WIDTH else flat[: _OUTPUT_WIDTH - 1] + "…"
