r"""Text that shows every character that matters: hidden ones are written out as escapes.

An approval prompt must show what will run. Some characters do not show what they do:
a right-to-left override (U+202E) reverses the text after it on screen, a zero-width
space (U+200B) or a word joiner is invisible, a carriage return lets a terminal draw
over the start of a line, an escape sequence recolours or clears the screen, a
no-break space looks like a space but does not split shell words. :func:`reveal`
writes each of them as an escape (``\u202e``, ``\u200b``, ``\r``, ``\x1b``,
``\u00a0``) and says whether it found any, so a prompt can add
:data:`HIDDEN_NOTE`. Both front ends (the terminal and Telegram) use it for
everything an approval prompt shows. :func:`printable` is the lighter form for
running text on a terminal: the chat's answers and what ``voice-agent sessions``
and ``voice-agent audit`` print from the store.

Pure functions: no I/O.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["HIDDEN_NOTE", "Revealed", "escape_char", "has_hidden", "printable", "reveal"]

HIDDEN_NOTE = "⚠ contains hidden characters (shown as \\u… escapes)"
"""The note a prompt adds when what it shows had hidden characters."""

_NAMED = {"\t": "\\t", "\r": "\\r", "\n": "\\n"}
# Characters whose category looks harmless but that show as nothing (or as a space).
_INVISIBLE = frozenset(
    {
        "\u034f",  # combining grapheme joiner
        "\u115f",  # Hangul choseong filler
        "\u1160",  # Hangul jungseong filler
        "\u17b4",  # Khmer vowel inherent aq
        "\u17b5",  # Khmer vowel inherent aa
        "\u2800",  # braille pattern blank
        "\u3164",  # Hangul filler
        "\uffa0",  # halfwidth Hangul filler
    }
)
# Categories never shown as they are: controls, format characters (zero-width and
# bidi controls among them), line and paragraph separators, private use,
# surrogates and unassigned code points.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"})


@dataclass(frozen=True)
class Revealed:
    """Text with its hidden characters written out.

    Attributes:
        text: The text, every hidden character replaced by its escape.
        hidden: Whether any character other than a tab was escaped (a tab is only
            written out so that it is not mistaken for spaces).
    """

    text: str
    hidden: bool


def _variation_selector(code: int) -> bool:
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF


def escape_char(char: str) -> str | None:
    r"""The escape a character is shown as, or None when it shows as itself.

    Args:
        char: One character.

    Returns:
        ``\t``, ``\r`` or ``\n`` for those; ``\xNN`` for other control characters
        below U+0100; ``\uNNNN`` (``\UNNNNNNNN`` above the Basic Multilingual Plane)
        for format, bidi and zero-width characters, separators other than the plain
        space, fillers, variation selectors, private-use, surrogate and unassigned
        code points. None for every other character.
    """
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    category = unicodedata.category(char)
    if (
        category in _HIDDEN_CATEGORIES
        or (category == "Zs" and char != " ")
        or char in _INVISIBLE
        or _variation_selector(code)
    ):
        if code < 0x100:
            return f"\\x{code:02x}"
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return None


def reveal(text: str, *, keep_newlines: bool = True) -> Revealed:
    r"""``text`` with every hidden character written out as an escape.

    Args:
        text: Any text (a command, a path, a diff, a file's content).
        keep_newlines: Keep ``\n`` as a line break (else it is written ``\n``).

    Returns:
        The text as shown, and whether it had hidden characters.

    Example:
        >>> reveal("ls \u202ecod.exe")
        Revealed(text='ls \\u202ecod.exe', hidden=True)
    """
    out: list[str] = []
    hidden = False
    for char in text:
        escape = None if (char == "\n" and keep_newlines) else escape_char(char)
        if escape is None:
            out.append(char)
            continue
        out.append(escape)
        hidden = hidden or char != "\t"
    return Revealed("".join(out), hidden)


def printable(text: str, *, keep_newlines: bool = True) -> str:
    r"""``text`` with control characters made visible, so it cannot redraw the screen.

    Escape sequences in model output could otherwise move the cursor or recolour
    the terminal and fake what an approval prompt says. This is for running text
    (answers, notes); approval prompts show calls with the stricter
    :func:`reveal`.

    Args:
        text: Any text.
        keep_newlines: Keep ``\n`` as a line break (else it is shown as ``\n``).

    Returns:
        The text with tabs as spaces and every other control or format character
        escaped as :func:`escape_char` writes it (the zero-width
        joiner of emoji sequences stays).
    """
    out: list[str] = []
    for char in text:
        if char == "\n" and keep_newlines:
            out.append(char)
        elif char == "\t":
            out.append("    ")
        elif unicodedata.category(char) in {"Cc", "Cf"} and char != "\u200d":
            out.append(escape_char(char) or char)
        else:
            out.append(char)
    return "".join(out)


def has_hidden(value: object) -> bool:
    """Whether any text in ``value`` (a string, or strings inside lists and mappings) hides some.

    Args:
        value: A tool call's input, or any part of it.
    """
    if isinstance(value, str):
        return any(escape_char(c) is not None for c in value if c not in "\t\n")
    if isinstance(value, Mapping):
        return any(has_hidden(k) or has_hidden(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_hidden(v) for v in value)
    return False
