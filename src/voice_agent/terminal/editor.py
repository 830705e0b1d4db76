r"""The line editor of a terminal in non-canonical mode: keys in, lines and echo out.

In canonical mode the kernel edits the line, and caps it at 4,095 bytes (the rest
of a long paste is silently lost although the screen shows it). So the chat turns
canonical mode off (see :mod:`voice_agent.terminal.tty`) and :class:`LineEditor`
does the editing: it is fed the decoded keys as they arrive and gives back what
they mean (a line, Ctrl-C, Ctrl-D) and what to echo.

- Enter ends the line; there is no length limit.
- A paste is one line with its newlines. A terminal in bracketed-paste mode sends it
  between ``ESC[200~`` and ``ESC[201~``; a terminal without it sends it as it is,
  and an Enter followed by more text in the same read (typed faster than a person
  types) is taken as a newline of the paste. ``\r\n`` and a lone ``\r`` in a paste
  are newlines.
- Backspace, Delete, Left, Right, Home, End, Ctrl-A, Ctrl-E, Ctrl-U, Ctrl-K and
  Ctrl-W edit the line on screen; the cursor stays on the last line of a multi-line
  paste. Other escape sequences (Up, Down, function keys) and control characters are
  dropped, never put into the line.
- Ctrl-C drops the line (``^C`` is echoed); Ctrl-D on an empty line is the end of
  the input, elsewhere it deletes the character under the cursor.

The editor writes nothing itself: :meth:`LineEditor.take_echo` gives what to write
to the terminal.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

__all__ = ["PASTE_OFF", "PASTE_ON", "Key", "LineEditor"]

PASTE_ON = "\x1b[?2004h"
"""Asks the terminal to bracket pastes (``ESC[200~`` … ``ESC[201~``)."""
PASTE_OFF = "\x1b[?2004l"
"""Turns bracketed-paste mode off again."""

_ESC = "\x1b"
_CTRL_A, _CTRL_C, _CTRL_D, _CTRL_E = "\x01", "\x03", "\x04", "\x05"
_CTRL_H, _CTRL_K, _CTRL_U, _CTRL_W = "\x08", "\x0b", "\x15", "\x17"
_DEL = "\x7f"
_ENTER = frozenset("\r\n")
_KEPT_IN_PASTE = frozenset("\t\n\r")
_HOME_KEYS = frozenset({"H", "1~", "7~"})
_END_KEYS = frozenset({"F", "4~", "8~"})


@dataclass(frozen=True)
class Key:
    """What the keys fed to the editor meant, in order.

    Attributes:
        kind: ``line`` (Enter: :attr:`text` is the line, without a line ending),
            ``interrupt`` (Ctrl-C: the line being typed was dropped) or ``eof``
            (Ctrl-D on an empty line).
        text: The line, for ``line``.
    """

    kind: Literal["line", "interrupt", "eof"]
    text: str = ""


class LineEditor:
    """One line being typed at a terminal that does not edit it itself."""

    def __init__(self, *, erase: str = _DEL) -> None:
        """Edit with ``erase`` as Backspace (the terminal's ``VERASE``; Ctrl-H works too).

        Args:
            erase: The character the terminal's Backspace key sends.
        """
        self._erase = frozenset({erase, _DEL, _CTRL_H})
        self._text = ""
        self._cursor = 0
        self._echo: list[str] = []
        self._escape: str | None = None  # an escape sequence read so far, from ESC on
        self._pasting = False
        self._paste: list[str] = []
        self._after_cr = False  # the last key was \r: a \n right after it is the same Enter

    @property
    def text(self) -> str:
        """The line typed so far (not yet ended by Enter)."""
        return self._text

    def take_echo(self) -> str:
        """What to write to the terminal for the keys fed since the last call."""
        echo = "".join(self._echo)
        self._echo.clear()
        return echo

    def feed(self, keys: str) -> list[Key]:
        """Edit with the keys read at once from the terminal.

        Args:
            keys: Decoded input, as one read returned it (an escape sequence may be
                split between two reads).

        Returns:
            The lines, interrupts and end of input the keys made, in order.
        """
        found: list[Key] = []
        last_text = _last_printable(keys)
        run_start: int | None = None  # a run of plain characters, inserted at once
        for index, char in enumerate(keys):
            if self._escape is None and not self._pasting and _plain(char):
                self._after_cr = False
                if run_start is None:
                    run_start = index
                continue
            if run_start is not None:
                self._insert(keys[run_start:index])
                run_start = None
            self._key(char, more_text=index < last_text, found=found)
            if found and found[-1].kind == "eof":
                return found
        if run_start is not None:
            self._insert(keys[run_start:])
        return found

    # -- one key -----------------------------------------------------------------------

    def _key(self, char: str, *, more_text: bool, found: list[Key]) -> None:
        """Act on one key that is not plain text (or any key of a paste)."""
        if char == _CTRL_C:
            self._interrupt(found)
            return
        if self._escape is not None and self._escaped(char):
            return
        if char == _ESC:
            self._escape = _ESC
        elif self._pasting:
            self._pasted(char)
        elif char in _ENTER:
            if char == "\n" and self._after_cr:
                self._after_cr = False
                return
            self._after_cr = char == "\r"
            if more_text:  # more text came with it: a paste without brackets
                self._insert("\n")
            else:
                found.append(Key("line", self._text))
                self._echo.append("\n")
                self._text, self._cursor = "", 0
        else:
            self._after_cr = False
            if _plain(char):  # a key right after a lone ESC
                self._insert(char)
            else:
                self._control(char, found)

    def _control(self, char: str, found: list[Key]) -> None:
        if char in self._erase:
            self._backspace()
        elif char == _CTRL_D:
            if not self._text:
                found.append(Key("eof"))
            else:
                self._delete()
        elif char == _CTRL_A:
            self._home()
        elif char == _CTRL_E:
            self._end()
        elif char == _CTRL_U:
            self._kill_back(self._line_start())
        elif char == _CTRL_W:
            self._kill_back(self._word_start())
        elif char == _CTRL_K:
            self._text = self._text[: self._cursor]
            self._echo.append("\x1b[K")
        elif char == "\t":
            self._insert(char)
        # any other control character is dropped

    def _interrupt(self, found: list[Key]) -> None:
        self._text, self._cursor = "", 0
        self._pasting, self._paste, self._escape = False, [], None
        self._echo.append("^C")
        found.append(Key("interrupt"))

    def _pasted(self, char: str) -> None:
        """A key inside a bracketed paste: kept, with every line break made a newline."""
        if char == "\n" and self._after_cr:
            self._after_cr = False
            return
        self._after_cr = char == "\r"
        if char == "\r":
            char = "\n"
        if _plain(char) or char in _KEPT_IN_PASTE:
            self._paste.append(char)

    def _escaped(self, char: str) -> bool:
        """One more character of an escape sequence; acts on it once it is complete.

        Returns:
            False when ``char`` ends no sequence (ESC and a key, as Alt-key sends
            it): the key is then read on its own.
        """
        assert self._escape is not None
        sequence = self._escape + char
        if len(sequence) == 2 and char not in "[O":
            self._escape = None
            return False
        if len(sequence) == 2 or (sequence[1] == "[" and "\x20" <= char <= "\x3f"):
            self._escape = sequence  # the parameters and intermediates of ESC [
            return True
        self._escape = None
        self._sequence(sequence[1], sequence[2:])
        return True

    def _sequence(self, kind: str, body: str) -> None:
        """A complete ``ESC [ …`` or ``ESC O x`` sequence (``body`` after the ``[``)."""
        if kind == "[" and body == "200~":
            self._pasting, self._paste = True, []
            return
        if kind == "[" and body == "201~":
            if self._pasting:
                self._pasting = False
                self._insert("".join(self._paste))
                self._paste = []
            return
        if self._pasting:
            return
        final = body[-1:]
        params = body[:-1].split(";")[0]
        key = final if params in {"", "1"} and final.isalpha() else f"{params}{final}"
        if key == "D":
            self._left()
        elif key == "C":
            self._right()
        elif key in _HOME_KEYS:
            self._home()
        elif key in _END_KEYS:
            self._end()
        elif key == "3~":
            self._delete()
        # any other key (Up, Down, F1…) does nothing

    # -- editing, and its echo ---------------------------------------------------------

    def _insert(self, text: str) -> None:
        if not text:
            return
        rest = self._text[self._cursor :]
        self._text = self._text[: self._cursor] + text + rest
        if "\n" in text:  # the cursor stays on the last line: at the end
            self._cursor = len(self._text)
            self._echo.append(text + rest)
        else:
            self._cursor += len(text)
            self._echo.append(text + rest + _left(_width(rest)))

    def _backspace(self) -> None:
        if self._cursor == 0 or self._text[self._cursor - 1] == "\n":
            return
        self._kill_back(self._cursor - 1)

    def _kill_back(self, start: int) -> None:
        """Remove the text from ``start`` to the cursor."""
        if start >= self._cursor:
            return
        gone = self._text[start : self._cursor]
        rest = self._text[self._cursor :]
        self._text = self._text[:start] + rest
        self._cursor = start
        self._echo.append(_left(_width(gone)) + rest + "\x1b[K" + _left(_width(rest)))

    def _delete(self) -> None:
        if self._cursor >= len(self._text):
            return
        rest = self._text[self._cursor + 1 :]
        self._text = self._text[: self._cursor] + rest
        self._echo.append(rest + "\x1b[K" + _left(_width(rest)))

    def _left(self) -> None:
        if self._cursor > 0 and self._text[self._cursor - 1] != "\n":
            self._cursor -= 1
            self._echo.append(_left(_width(self._text[self._cursor])))

    def _right(self) -> None:
        if self._cursor < len(self._text):
            self._echo.append(self._text[self._cursor])
            self._cursor += 1

    def _home(self) -> None:
        start = self._line_start()
        self._echo.append(_left(_width(self._text[start : self._cursor])))
        self._cursor = start

    def _end(self) -> None:
        self._echo.append(self._text[self._cursor :])
        self._cursor = len(self._text)

    def _line_start(self) -> int:
        return self._text.rfind("\n", 0, self._cursor) + 1

    def _word_start(self) -> int:
        """Where the word before the cursor starts (spaces before the cursor included)."""
        start, index = self._line_start(), self._cursor
        while index > start and self._text[index - 1].isspace():
            index -= 1
        while index > start and not self._text[index - 1].isspace():
            index -= 1
        return index


def _plain(char: str) -> bool:
    """Whether ``char`` is text to insert (not a control character)."""
    return char >= " " and char != _DEL and not "\x80" <= char <= "\x9f"


def _last_printable(keys: str) -> int:
    """The index of the last plain character of ``keys`` (-1 if none)."""
    for index in range(len(keys) - 1, -1, -1):
        if _plain(keys[index]):
            return index
    return -1


def _width(text: str) -> int:
    """How many columns ``text`` takes on a terminal (wide characters take two)."""
    columns = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) == "Cf":
            continue
        columns += 2 if unicodedata.east_asian_width(char) in {"W", "F"} else 1
    return columns


def _left(columns: int) -> str:
    return f"\x1b[{columns}D" if columns > 0 else ""
