"""Diffs you can read on a phone: a unified diff drawn like a code review.

:func:`render_diff` draws one file's unified diff: a header with the file's name
and its ``+added −removed`` count, then each hunk under its ``@@`` line, every
line with its old and new line numbers in a gutter, added lines on green and
removed ones on red, the words that changed within a changed line on a stronger
tint (:class:`difflib.SequenceMatcher` on the removed/added line pair, for lines
up to ``MARKED_CHARS`` long), and the
code in the file's own syntax colours (the Pygments lexer for its name). The
picture is ``MIN_COLUMNS`` to ``MAX_COLUMNS`` characters wide (at least about
1,000 pixels, in DejaVu Sans Mono at ``FONT_SIZE``, readable when Telegram shows it
across a phone); longer lines wrap, with a ``↪`` in the gutter; after
``MAX_ROWS`` rows it stops with "… N more lines".

:func:`diff_png` draws the change of a long Edit, MultiEdit or Write for its
approval prompt. Drawing blocks (tens of milliseconds): call it off the event
loop. Any drawing problem (no font, no Pillow) just means no picture.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from io import BytesIO
from typing import Any, Literal

from pygments.lexer import Lexer
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.styles import get_style_by_name
from pygments.token import _TokenType
from pygments.util import ClassNotFound

from voice_agent.edit_preview import planned_diff, snippet_diff, split_lines
from voice_agent.visible import reveal

logger = logging.getLogger(__name__)

MIN_LINES = 8
"""An approval's change gets a picture when it adds and removes more lines than this."""
FONT_NAME = "DejaVu Sans Mono"
FONT_SIZE = 20
MIN_COLUMNS = 80
"""Code columns the picture is at least wide (about 1,100 pixels with the gutter)."""
MAX_COLUMNS = 100
"""Code columns after which a line wraps."""
MAX_ROWS = 70
"""Rows drawn (hunk headers and wrapped pieces count); the rest is "… N more lines"."""
MARKED_CHARS = 1000
"""Longest line whose changed words are marked (comparing words costs quadratic time)."""
TAB = 4
STYLE = "default"

_PAD = 12
_LINE = int(FONT_SIZE * 1.45)
_TEXT = (31, 35, 40)
_MUTED = (101, 109, 118)
_BACKGROUND = (255, 255, 255)
_HEADER = (246, 248, 250)
_BORDER = (208, 215, 222)
_HUNK = (221, 244, 255)
_TINTS = {  # (line, gutter, changed words)
    "add": ((230, 255, 236), (204, 255, 216), (171, 242, 188)),
    "del": ((255, 235, 233), (255, 215, 213), (255, 184, 179)),
    "ctx": (_BACKGROUND, _BACKGROUND, _BACKGROUND),
}
_WORDS = re.compile(r"\w+|\s+|[^\w\s]")

RowKind = Literal["ctx", "add", "del", "hunk", "note"]


@dataclass
class Row:
    r"""One line of the picture.

    Attributes:
        kind: ``ctx`` (unchanged), ``add``, ``del``, ``hunk`` (an ``@@`` line) or
            ``note`` (``\ No newline at end of file``, a binary file…).
        text: The line's text (hidden characters written out, tabs expanded).
        old: Its line number in the old file (None: not there).
        new: Its line number in the new file.
        marks: Character spans ``(start, end)`` of words that changed.
        colours: ``(text, RGB, bold)`` pieces of the line in syntax colours.
    """

    kind: RowKind
    text: str
    old: int | None = None
    new: int | None = None
    marks: list[tuple[int, int]] = field(default_factory=list)
    colours: list[tuple[str, tuple[int, int, int], bool]] = field(default_factory=list)


@dataclass
class ParsedDiff:
    """One file's diff, read from its unified diff text.

    Attributes:
        name: The file's name (from the ``+++``/``---`` lines, else as given).
        rows: Its lines.
        added: Lines added.
        removed: Lines removed.
    """

    name: str
    rows: list[Row]
    added: int = 0
    removed: int = 0


_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")


def _shown(text: str) -> str:
    return reveal(text.expandtabs(TAB), keep_newlines=False).text


def _file_name(line: str) -> str | None:
    name = line[4:].split("\t")[0].strip()
    if name == "/dev/null":
        return None
    return name[2:] if name.startswith(("a/", "b/")) else name


def parse_diff(text: str, name: str = "") -> ParsedDiff:
    """Read one file's unified diff (git's headers allowed) into rows.

    Args:
        text: The diff.
        name: The file's name, when the diff does not say it.
    """
    parsed = ParsedDiff(name, [])
    old = new = 0
    old_left = new_left = 0  # lines of the hunk still to come, each side
    for line in split_lines(text):
        header = _HUNK_HEADER.match(line)  # never a hunk's line: those start with " +-\\"
        if line.startswith("diff --git "):
            old_left = new_left = 0
        in_hunk = old_left > 0 or new_left > 0
        if header:
            old, new = int(header.group(1)), int(header.group(3))
            old_left = int(header.group(2) or 1)
            new_left = int(header.group(4) or 1)
            parsed.rows.append(Row("hunk", _shown(line)))
        elif line.startswith("\\"):
            parsed.rows.append(Row("note", _shown(line)))
        elif not in_hunk:
            if line.startswith(("+++ ", "--- ")):
                parsed.name = _file_name(line) or parsed.name
            elif line.startswith("Binary files") or line.startswith(("new file", "deleted file")):
                parsed.rows.append(Row("note", _shown(line)))
        elif line.startswith("+"):
            parsed.rows.append(Row("add", _shown(line[1:]), new=new))
            parsed.added += 1
            new, new_left = new + 1, new_left - 1
        elif line.startswith("-"):
            parsed.rows.append(Row("del", _shown(line[1:]), old=old))
            parsed.removed += 1
            old, old_left = old + 1, old_left - 1
        else:
            parsed.rows.append(Row("ctx", _shown(line[1:]), old=old, new=new))
            old, new = old + 1, new + 1
            old_left, new_left = old_left - 1, new_left - 1
    _mark_words(parsed.rows[:MAX_ROWS])  # a row past those is never drawn
    return parsed


def _spans(pieces: Sequence[str], ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    starts = [0]
    for piece in pieces:
        starts.append(starts[-1] + len(piece))
    return [(starts[i], starts[j]) for i, j in ranges if j > i]


def _mark_pair(removed: Row, added: Row) -> None:
    """Mark the words that differ between a removed line and the added line replacing it."""
    if max(len(removed.text), len(added.text)) > MARKED_CHARS:
        return
    before, after = _WORDS.findall(removed.text), _WORDS.findall(added.text)
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    if matcher.ratio() < 0.3:  # a different line, not an edited one: no word marks
        return
    codes = [c for c in matcher.get_opcodes() if c[0] != "equal"]
    removed.marks = _spans(before, ((i1, i2) for _, i1, i2, _, _ in codes))
    added.marks = _spans(after, ((j1, j2) for _, _, _, j1, j2 in codes))


def _mark_words(rows: list[Row]) -> None:
    """Pair each run of removed lines with the added lines right after it, line by line."""
    i = 0
    while i < len(rows):
        if rows[i].kind != "del":
            i += 1
            continue
        start = i
        while i < len(rows) and rows[i].kind == "del":
            i += 1
        added = i
        while i < len(rows) and rows[i].kind == "add":
            i += 1
        for removed_row, added_row in zip(rows[start:added], rows[added:i], strict=False):
            _mark_pair(removed_row, added_row)


@cache
def _lexer(name: str) -> Lexer:
    try:
        return get_lexer_for_filename(os.path.basename(name) or "x.txt", stripnl=False)
    except ClassNotFound:
        return TextLexer(stripnl=False)


@cache
def _token_style(token: _TokenType) -> tuple[tuple[int, int, int], bool]:
    style = get_style_by_name(STYLE).style_for_token(token)
    colour = style.get("color")
    rgb = _TEXT if not colour else tuple(int(colour[k : k + 2], 16) for k in (0, 2, 4))
    return rgb, bool(style.get("bold"))  # type: ignore[return-value]


def _colour(rows: Sequence[Row], lexer: Lexer) -> None:
    """Give ``rows`` (one side of a hunk, in order) their syntax colours, lexed together."""
    if not rows:
        return
    source = "\n".join(row.text for row in rows) + "\n"
    index = 0
    pieces: list[tuple[str, tuple[int, int, int], bool]] = []
    for token, value in lexer.get_tokens(source):
        rgb, bold = _token_style(token)
        for n, part in enumerate(value.split("\n")):
            if n:
                if index < len(rows):
                    rows[index].colours = pieces
                pieces = []
                index += 1
            if part:
                pieces.append((part, rgb, bold))
    if index < len(rows) and pieces:
        rows[index].colours = pieces


def _syntax(rows: list[Row], name: str) -> None:
    lexer = _lexer(name)
    hunk: list[Row] = []
    for row in [*rows, Row("hunk", "")]:
        if row.kind in ("hunk", "note"):
            # Each side is lexed as the file reads on that side, so a changed line
            # inside a docstring or a bracket keeps the colours of its context.
            _colour([r for r in hunk if r.kind != "add"], lexer)
            _colour([r for r in hunk if r.kind != "del"], lexer)
            hunk = []
        else:
            hunk.append(row)


@cache
def _fonts() -> tuple[Any, Any]:
    from pygments.formatters.img import FontManager

    manager = FontManager(FONT_NAME, FONT_SIZE)
    return manager.get_font(False, False), manager.get_font(True, False)


def _wrapped(row: Row, columns: int) -> list[tuple[int, int]]:
    """The ``(start, end)`` character ranges of ``row``'s pieces when wrapped at ``columns``."""
    length = len(row.text)
    return [(s, min(s + columns, length)) for s in range(0, max(length, 1), columns)]


def render_diff(text: str, name: str = "") -> bytes | None:
    """A PNG of one file's unified diff, drawn like a code review (see the module).

    Args:
        text: The diff (git's ``diff --git`` headers allowed; one file).
        name: The file's name, when the diff does not say it (also picks the colours).

    Returns:
        PNG bytes, or None when the diff has no lines of a file to draw (a binary
        file, an empty new one) or drawing fails (no font, no Pillow).
    """
    parsed = parse_diff(text, name)
    if not any(row.kind in ("ctx", "add", "del") for row in parsed.rows):
        return None
    try:
        return _draw(parsed)
    except Exception as error:  # no Pillow, no font: the text is enough
        logger.info("could not draw the diff: %s", error)
        return None


def _draw(parsed: ParsedDiff) -> bytes:
    from PIL import Image, ImageDraw

    regular, bold = _fonts()
    char = regular.getlength("M")
    code_rows = [r for r in parsed.rows if r.kind in ("ctx", "add", "del")]
    _syntax(parsed.rows[:MAX_ROWS], parsed.name)  # a row past those is never drawn
    longest = max((len(r.text) for r in code_rows), default=0)
    columns = min(max(longest, MIN_COLUMNS), MAX_COLUMNS)
    numbers = [n for r in code_rows for n in (r.old, r.new) if n is not None]
    digits = max(len(str(max(numbers, default=1))), 3)
    number_width = (digits + 1) * char
    gutter = _PAD + 2 * number_width + 2 * char
    width = int(gutter + columns * char + _PAD)
    lines: list[tuple[Row, int, int, bool]] = []  # row, start, end, first piece
    for row in parsed.rows:
        if row.kind in ("hunk", "note"):
            lines.append((row, 0, len(row.text), True))
            continue
        for n, (start, end) in enumerate(_wrapped(row, columns)):
            lines.append((row, start, end, n == 0))
    shown, cut = lines[:MAX_ROWS], lines[MAX_ROWS:]
    hidden = len({id(row) for row, *_ in cut} - {id(row) for row, *_ in shown})
    title = int(_LINE * 1.5)
    height = title + _LINE * (len(shown) + (1 if cut else 0)) + _PAD
    image = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, title - 1), fill=_HEADER)
    draw.line((0, title - 1, width, title - 1), fill=_BORDER)
    stats = f"+{parsed.added} −{parsed.removed}"
    stats_x = width - _PAD - bold.getlength(stats)
    name_room = int((stats_x - 2 * _PAD) / char)
    shown_name = _shown(parsed.name or "diff")
    if len(shown_name) > name_room:
        shown_name = "…" + shown_name[-(name_room - 1) :]
    middle = (title - FONT_SIZE) // 2 - 2
    draw.text((_PAD, middle), shown_name, font=bold, fill=_TEXT)
    draw.text((stats_x, middle), f"+{parsed.added}", font=bold, fill=(26, 127, 55))
    minus_x = stats_x + bold.getlength(f"+{parsed.added} ")
    draw.text((minus_x, middle), f"−{parsed.removed}", font=bold, fill=(207, 34, 46))
    y = title
    for row, start, end, first in shown:
        _draw_line(draw, row, start, end, first, y, (width, gutter, number_width, char))
        y += _LINE
    if cut:
        more = f"… {hidden} more line{'s' if hidden != 1 else ''}"
        draw.rectangle((0, y, width, y + _LINE - 1), fill=_HEADER)
        draw.text((gutter, y + 3), more, font=regular, fill=_MUTED)
    out = BytesIO()
    image.save(out, format="PNG", compress_level=1)  # fast: Telegram re-encodes photos
    return out.getvalue()


def _draw_line(
    draw: Any,
    row: Row,
    start: int,
    end: int,
    first: bool,
    y: int,
    geometry: tuple[int, float, float, float],
) -> None:
    width, gutter, number_width, char = geometry
    regular, bold = _fonts()
    text_y = y + (_LINE - FONT_SIZE) // 2 - 2
    if row.kind in ("hunk", "note"):
        draw.rectangle((0, y, width, y + _LINE - 1), fill=_HUNK if row.kind == "hunk" else _HEADER)
        draw.text((_PAD, text_y), row.text, font=regular, fill=_MUTED)
        return
    line_tint, gutter_tint, word_tint = _TINTS[row.kind]
    draw.rectangle((0, y, gutter - char, y + _LINE - 1), fill=gutter_tint)
    draw.rectangle((gutter - char, y, width, y + _LINE - 1), fill=line_tint)
    if first:
        for n, x in ((row.old, _PAD), (row.new, _PAD + number_width)):
            if n is not None:
                label = str(n)
                right = x + number_width - char
                left = right - regular.getlength(label)
                draw.text((left, text_y), label, font=regular, fill=_MUTED)
        sign = {"add": "+", "del": "−"}.get(row.kind, "")
        draw.text((_PAD + 2 * number_width, text_y), sign, font=regular, fill=_MUTED)
    else:
        draw.text((_PAD + 2 * number_width, text_y), "↪", font=regular, fill=_MUTED)
    for mark_start, mark_end in row.marks:
        a, b = max(mark_start, start), min(mark_end, end)
        if b > a:
            x0 = gutter + (a - start) * char
            draw.rectangle((x0, y + 2, gutter + (b - start) * char, y + _LINE - 3), fill=word_tint)
    column = 0
    for piece, rgb, is_bold in row.colours or [(row.text, _TEXT, False)]:
        a, b = max(column, start), min(column + len(piece), end)
        if b > a:
            part = piece[a - column : b - column]
            x = gutter + (a - start) * char
            draw.text((x, text_y), part, font=bold if is_bold else regular, fill=rgb)
        column += len(piece)


def diff_png(
    tool_name: str,
    data: Mapping[str, Any],
    cwd: str | None,
    file_text: str | None = None,
    placed: str | None = None,
) -> bytes | None:
    """A PNG of the change an Edit, MultiEdit or Write would make, when it is long.

    Args:
        tool_name: The tool.
        data: Its input.
        cwd: The session's working directory (paths are shown relative to it).
        file_text: The file's current text (:func:`voice_agent.edit_preview.read_target`):
            the picture then shows the change where it is in the file.
        placed: The change already placed where the file is (another machine).

    Returns:
        PNG bytes, or None for short changes, other tools, or when drawing fails.
    """
    path = str(data.get("file_path") or "")
    if tool_name not in ("Edit", "MultiEdit", "Write") or not path:
        return None
    shown = os.path.relpath(path, cwd) if cwd and os.path.isabs(path) else path
    text = placed or planned_diff(tool_name, data, shown, file_text)
    if text is None and tool_name != "Write":
        edits = [data] if tool_name == "Edit" else data.get("edits", [])
        text = "\n".join(
            snippet_diff(shown, str(e.get("old_string", "")), str(e.get("new_string", "")))
            for e in edits
            if isinstance(e, Mapping)
        )
    if not text:
        return None
    parsed = parse_diff(text, shown)
    if parsed.added + parsed.removed <= MIN_LINES:
        return None
    return render_diff(text, shown)
