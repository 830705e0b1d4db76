"""Claude's Markdown as Telegram messages: plain text plus entities, in pieces that fit.

Telegram formats a message either with a markup dialect (``parse_mode``) or with a list of
``MessageEntity`` ranges over plain text. This module produces the second form, which needs no
escaping at all: ``telegramify_markdown`` parses the Markdown (CommonMark plus tables,
strikethrough, task lists and math) and returns the visible text with entities whose offsets
and lengths are counted in UTF-16 code units, as Telegram counts them. Nothing here escapes or
parses Markdown by hand.

Telegram refuses messages over 4,096 UTF-16 code units, and an answer is shown while it is
still being written, so the text is laid out in *chunks*, one per message:

1. The Markdown source is cut into *blocks* at safe places: a line that follows a blank line,
   starts in column 0 and is not inside a fenced code block (or an HTML block that spans blank
   lines). Text written after such a cut cannot change how the source before it is parsed, so
   a block that has a later block after it (a *closed* block) is final. The last block is
   *open*: it may still grow.
2. Consecutive blocks are packed greedily into groups that fit one message. Each group is
   converted on its own with ``telegramify_markdown.convert`` and, when it is still too long
   (a code block or a paragraph longer than one message), split with
   ``telegramify_markdown.split_entities``, which cuts at line breaks when it can and clips
   entities to each piece; a ``pre`` piece keeps its language.
3. Whether the next block still fits a group is decided from the block's size, taken as the
   larger of its source and rendered lengths once it is closed, and as its source length
   while it is open. Both only grow as text is appended, so once a group is full it stays
   full, and its text is final: this is what lets :func:`split_for_streaming` freeze
   messages. The open block is frozen piece by piece only as far as it is *settled*: up
   to its last finished line that opens, continues or closes a code fence. Code is literal
   and a fence ends whatever came before it, so nothing written later re-parses that part;
   a piece is frozen once the settled text covers its whole budget (then more text can move
   neither its end nor its content). Any other open block larger than one message (a long
   table, whose columns may still widen, or a huge list or line, where a ``**`` may still
   close) is not frozen before it is closed.

Each chunk is then trimmed (leading line breaks, trailing whitespace) and whitespace-only
chunks are dropped, since Telegram rejects empty text. Entities become
:class:`telegram.MessageEntity` objects that can be passed straight to ``entities=``; a
``text_link`` whose URL Telegram would refuse (relative paths such as ``src/app.py``, anchors)
keeps its text but loses the link, since Telegram may refuse the whole message over it.

What the library already handles, and what is added here:

* Tables become a ``pre`` block with padded columns (Telegram has no tables).
* An unclosed code fence (the usual state while streaming) is a ``pre`` block running to the
  end, as CommonMark says; unclosed ``**`` or ``[text](url`` stay literal until closed.
* Very long lines are cut at exactly the limit (mid-word) by ``split_entities``; Python
  strings hold whole code points, so a cut never falls inside a surrogate pair. Lone
  surrogates (which Telegram cannot take) are replaced with U+FFFD before anything else.
* If the library raises on some input, that group falls back to :func:`render_plain`.
"""

from __future__ import annotations

import datetime as dtm
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import telegram
import telegramify_markdown
from telegram.error import BadRequest
from telegramify_markdown import MessageEntity as _LibEntity
from telegramify_markdown.config import RenderConfig

__all__ = ["TELEGRAM_LIMIT", "Chunk", "render", "render_plain", "split_for_streaming", "utf16_len"]

TELEGRAM_LIMIT = 4096
"""Telegram's limit for a message's text, in UTF-16 code units."""

# The room kept between two blocks of one group (the blank line the converter puts there).
_SEPARATOR = 2
# Our own symbol tables, so that code changing the library's global config cannot change us.
_CONFIG = RenderConfig.isolated()
# URL schemes Telegram accepts in a text_link entity.
_LINK_SCHEMES = frozenset({"http", "https", "tg", "ton"})

_FENCE_OPEN = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_HTML_BLOCK_OPEN = re.compile(r" {0,3}<(script|pre|style|textarea)(?:\s|>|$)", re.IGNORECASE)
_HTML_BLOCK_MARKERS = (("<!--", "-->"), ("<?", "?>"), ("<![CDATA[", "]]>"))


@dataclass(frozen=True, eq=False)
class Chunk:
    """The text of one Telegram message and its formatting.

    Attributes:
        text: The text, at most the limit in UTF-16 code units and never blank.
        entities: The formatting, as offsets and lengths in UTF-16 code units within ``text``;
            pass them as ``entities=`` (with no ``parse_mode``).
    """

    text: str
    entities: tuple[telegram.MessageEntity, ...] = ()

    def plain(self) -> str:
        """Return the text without formatting (entities carry all of it, so just ``text``)."""
        return self.text

    def _key(self) -> tuple[str, tuple[tuple[tuple[str, Any], ...], ...]]:
        return self.text, tuple(tuple(sorted(e.to_dict().items())) for e in self.entities)

    def __eq__(self, other: object) -> bool:
        # MessageEntity compares only type, offset and length; compare URLs and languages too.
        if not isinstance(other, Chunk):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.text, tuple((e.type, e.offset, e.length) for e in self.entities)))


def utf16_len(text: str) -> int:
    """Return the length of ``text`` in UTF-16 code units, as Telegram counts it.

    Args:
        text: Any string; a character outside the Basic Multilingual Plane (most emoji)
            counts 2, a lone surrogate counts 1.

    Returns:
        The number of UTF-16 code units.
    """
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def render(markdown: str, limit: int = TELEGRAM_LIMIT) -> list[Chunk]:
    """Convert Markdown to Telegram messages.

    Args:
        markdown: Markdown as Claude writes it; it may be partial (still streaming).
        limit: The most UTF-16 code units per message (at least 2).

    Returns:
        The chunks in order, one per message: each non-blank and at most ``limit`` UTF-16
        code units long. Empty or whitespace-only input gives an empty list. The first
        chunks are the ones :func:`split_for_streaming` reports as complete.

    Raises:
        ValueError: ``limit`` is below 2 (an emoji would not fit).
    """
    complete, rest = _layout(_clean(markdown), _checked(limit))
    return complete + rest


def split_for_streaming(
    markdown: str, limit: int = TELEGRAM_LIMIT
) -> tuple[list[Chunk], Chunk | None]:
    """Split a still-growing answer into finished messages and the one being written.

    The contract, for any ``markdown`` and any text ``more`` appended to it later:

    * ``complete`` is a prefix of ``render(markdown, limit)`` and ``tail`` is the chunk right
      after it there (``None`` when there is none). Usually ``tail`` is also the last chunk;
      ``render`` holds more after it only while the end is held back: the piece a code line
      still being written could reach (until that line ends), or an unfinished block that
      overflows one message (see below).
    * Complete chunks are final: ``split_for_streaming(markdown + more)[0]`` starts with
      ``complete``, and so does ``render(markdown + more)``. Chunks are only frozen from
      closed Markdown blocks (a blank line and a new unindented block came after them) and
      from the finished lines of a code block still being written (see the module
      docstring). Known limits, all rare in chat answers: a link reference definition
      (``[x]: url``) does not reach back into frozen text, and the cuts ignore HTML
      block kinds 6-7 and code fences nested more than three spaces deep.
    * While one unfinished block other than a code block is longer than a message (a long
      table or a huge list or line), ``tail`` stays its first message's worth until the
      block ends, then the whole block is frozen at once.

    A bot therefore edits one message with ``tail``, turns it into ``complete[i]`` (and starts
    a new message) when ``complete`` grows, and at the end sends ``render(final)[len(complete):]``.

    Args:
        markdown: The answer so far.
        limit: The most UTF-16 code units per message (at least 2).

    Returns:
        ``(complete, tail)``: the chunks that will not change any more, and the current last
        chunk (``None`` if nothing visible follows the complete ones).

    Raises:
        ValueError: ``limit`` is below 2.
    """
    complete, rest = _layout(_clean(markdown), _checked(limit))
    return complete, (rest[0] if rest else None)


def formatting_refused(error: BadRequest) -> bool:
    """Whether Telegram refused a message for its formatting (its entities), not its content.

    Args:
        error: What Telegram answered.

    Returns:
        True when sending the same text without entities should work.
    """
    text = str(error).lower()
    return "entit" in text or "parse" in text


def render_plain(text: str, limit: int = TELEGRAM_LIMIT) -> list[Chunk]:
    """Split plain text into messages, without any formatting.

    Each cut falls at the last line break that fits, or at the last space when that break
    would leave the chunk less than half full, else at the limit (never inside a surrogate
    pair); the line break or space cut at is dropped. Leading line breaks and trailing
    whitespace of each chunk are trimmed and blank chunks dropped.

    Args:
        text: The text, shown as is.
        limit: The most UTF-16 code units per message (at least 2).

    Returns:
        The chunks in order, each non-blank and at most ``limit`` UTF-16 code units long.

    Raises:
        ValueError: ``limit`` is below 2.
    """
    return _split_plain(_clean(text), _checked(limit))


# -- layout -------------------------------------------------------------------------------


def _checked(limit: int) -> int:
    if limit < 2:
        raise ValueError(f"limit must be at least 2 UTF-16 code units, not {limit}")
    return limit


def _clean(text: str) -> str:
    """Replace lone surrogates (Telegram and the parser cannot take them) with U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Through UTF-16, a surrogate pair held as two code points becomes one character.
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def _layout(markdown: str, limit: int) -> tuple[list[Chunk], list[Chunk]]:
    """Lay the Markdown out as ``(complete chunks, the chunks after them)``."""
    starts, settled = _scan(markdown)
    ends = [*starts[1:], len(markdown)]
    last = len(starts) - 1  # the open block
    complete: list[Chunk] = []
    first = 0
    while True:
        end = first  # the group holds blocks first..end
        size = _rendered(markdown[starts[first] : ends[first]], limit).length
        while end < last:
            candidate = end + 1
            source = markdown[starts[candidate] : ends[candidate]]
            if candidate < last:
                weight = max(utf16_len(source), _rendered(source, limit).length)
                joined = _rendered(markdown[starts[first] : ends[candidate]], limit).length
                fits = size + _SEPARATOR + weight <= limit and joined <= limit
            else:
                fits = size + _SEPARATOR + utf16_len(source) <= limit
            if not fits:
                break
            end = candidate
            size = _rendered(markdown[starts[first] : ends[end]], limit).length
        group = _rendered(markdown[starts[first] : ends[end]], limit)
        if end < last:  # every block of the group is closed: final
            complete += group.chunks
            first = end + 1
            continue
        if first < last:
            return complete, list(group.chunks)
        # The open block alone. Its settled part (up to the last finished line of code) will
        # not be re-parsed, so a piece is final once its whole budget lies inside that part:
        # then more text can move neither its end nor its content. Anything else still open
        # (a huge table, list or line) may yet change (columns widen, ``**`` closes), so it
        # is not frozen before the block is closed.
        stable = _rendered(markdown[starts[last] : settled], limit).length
        frozen = 0
        while frozen < len(group.chunks) - 1 and group.offsets[frozen] + limit < stable:
            frozen += 1
        return complete + list(group.chunks[:frozen]), list(group.chunks[frozen:])


def _scan(markdown: str) -> tuple[list[int], int]:
    """Find where the blocks start, and how far the last block is settled.

    A block starts at 0 and at each line that follows a blank line and starts in column 0,
    outside fenced code blocks and HTML blocks that may hold blank lines. Whether a position
    is a cut depends only on the text up to its first character, so appending text never
    moves or removes a cut.

    The last block is settled up to the end of its last finished line that opens, continues
    or closes a code fence (or else only up to its start): code is literal and a fence
    interrupts whatever came before it, so nothing written later re-parses that part.
    """
    starts = [0]
    settled = 0
    fence: tuple[str, int] | None = None
    html_end: str | None = None
    after_blank = False
    position = 0
    lines = markdown.split("\n")
    for number, line in enumerate(lines):
        line_start, position = position, position + len(line) + 1
        finished = number < len(lines) - 1
        if fence is not None:
            if finished:
                settled = position
            if _closes_fence(line, fence):
                fence = None
            continue
        if html_end is not None:
            if html_end in line.lower():
                html_end = None
            continue
        if not line.strip():
            after_blank = True
            continue
        if after_blank and line_start > 0 and line[0] not in " \t":
            starts.append(line_start)
            settled = line_start
        after_blank = False
        fence = _opens_fence(line)
        if fence is not None and finished:
            settled = position
        if fence is None:
            html_end = _opens_html_block(line)
    return starts, settled


def _opens_fence(line: str) -> tuple[str, int] | None:
    match = _FENCE_OPEN.match(line)
    if match is None:
        return None
    marker, info = match.groups()
    if marker[0] == "`" and "`" in info:
        return None  # an inline code span, not a fence
    return marker[0], len(marker)


def _closes_fence(line: str, fence: tuple[str, int]) -> bool:
    stripped = line.rstrip(" \t\r")
    body = stripped.lstrip(" ")
    char, length = fence
    return len(stripped) - len(body) <= 3 and len(body) >= length and body == char * len(body)


def _opens_html_block(line: str) -> str | None:
    """Return the end marker of an HTML block (kinds 1-5) opened on ``line`` and left open."""
    if "<" not in line:
        return None
    lowered = line.lower()
    stripped = lowered.lstrip(" ")
    if len(lowered) - len(stripped) > 3:
        return None
    match = _HTML_BLOCK_OPEN.match(lowered)
    if match is not None:
        end = f"</{match.group(1)}>"
    else:
        end = next((e for s, e in _HTML_BLOCK_MARKERS if stripped.startswith(s)), "")
        if not end and len(stripped) > 2 and stripped[:2] == "<!" and stripped[2].isalpha():
            end = ">"
        if not end:
            return None
    opener_end = lowered.index("<") + 2
    return None if end in lowered[opener_end:] else end


@dataclass(frozen=True)
class _Rendering:
    """One group of blocks, rendered.

    Attributes:
        chunks: Its chunks.
        offsets: Where each chunk's text starts in the whole rendering, in UTF-16 units.
        length: The whole rendering's length without trailing whitespace, in UTF-16 units.
    """

    chunks: tuple[Chunk, ...]
    offsets: tuple[int, ...]
    length: int


@lru_cache(maxsize=1024)
def _rendered(markdown: str, limit: int) -> _Rendering:
    """Render one group of blocks (cached: a streamed answer re-renders the same groups)."""
    try:
        text, entities = telegramify_markdown.convert(markdown, config=_CONFIG)
        pieces = telegramify_markdown.split_entities(text, entities, limit)
        chunks = tuple(
            chunk
            for piece, piece_entities in pieces
            if (chunk := _chunk(piece, piece_entities)) is not None
        )
    except Exception:
        text = markdown
        chunks = tuple(_split_plain(markdown, limit))
    offsets: list[int] = []
    cursor = 0
    for chunk in chunks:
        found = text.find(chunk.text, cursor)
        if found < 0:  # cannot happen (chunks are slices); if it did, never freeze on it
            found = len(text)
        offsets.append(utf16_len(text[:found]))
        cursor = found + len(chunk.text)
    return _Rendering(chunks, tuple(offsets), utf16_len(text.rstrip()))


def _chunk(text: str, entities: list[_LibEntity]) -> Chunk | None:
    """Trim a piece (leading line breaks, trailing whitespace) and convert its entities."""
    lead = len(text) - len(text.lstrip("\r\n"))
    body = text[lead:].rstrip()
    if not body.strip():
        return None
    end = lead + utf16_len(body)  # the trimmed characters are all one code unit each
    converted: list[telegram.MessageEntity] = []
    for entity in entities:
        start, stop = max(entity.offset, lead), min(entity.offset + entity.length, end)
        if stop > start:
            ptb = _to_telegram(entity, start - lead, stop - start)
            if ptb is not None:
                converted.append(ptb)
    return Chunk(body, tuple(converted))


def _to_telegram(entity: _LibEntity, offset: int, length: int) -> telegram.MessageEntity | None:
    if entity.type == "text_link" and not _sendable_url(entity.url):
        return None
    user = telegram.User.de_json(entity.user) if entity.user else None
    unix_time = (
        dtm.datetime.fromtimestamp(entity.unix_time, tz=dtm.UTC)
        if entity.unix_time is not None
        else None
    )
    return telegram.MessageEntity(
        type=entity.type,
        offset=offset,
        length=length,
        url=entity.url,
        user=user,
        language=entity.language,
        custom_emoji_id=entity.custom_emoji_id,
        date_time_format=entity.date_time_format,
        unix_time=unix_time,
    )


def _sendable_url(url: str | None) -> bool:
    """Whether Telegram takes ``url`` in a text_link (absolute http(s), tg: or ton: only)."""
    if not url or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if scheme not in _LINK_SCHEMES:
        return False
    return scheme not in {"http", "https"} or bool(parts.hostname)


# -- plain text ---------------------------------------------------------------------------


def _split_plain(text: str, limit: int) -> list[Chunk]:
    # offsets[i]: UTF-16 offset of text[i]; one entry more for the end.
    offsets = [0] * (len(text) + 1)
    total = 0
    for index, char in enumerate(text):
        offsets[index] = total
        total += 2 if ord(char) > 0xFFFF else 1
    offsets[len(text)] = total

    chunks: list[Chunk] = []
    start = 0
    while start < len(text):
        budget = offsets[start] + limit
        if total <= budget:
            cut = resume = len(text)
        else:
            end = _last_fitting(offsets, start, budget)  # text[start:end] fits
            cut = _plain_cut(text, start, end)
            resume = cut + 1 if text[cut] in "\n \t" else cut
        chunk = _chunk(text[start:cut], [])
        if chunk is not None:
            chunks.append(chunk)
        start = resume
    return chunks


def _plain_cut(text: str, start: int, end: int) -> int:
    """Where to cut ``text[start:]`` at or before ``end``: a line break, else a space.

    The break or space cut at (returned) is dropped; without either, the cut is ``end``. A
    line break is preferred unless it would leave the chunk less than half full while a
    later space would not.
    """
    newline = text.rfind("\n", start + 1, end + 1)
    space = max(text.rfind(" ", start + 1, end + 1), text.rfind("\t", start + 1, end + 1))
    half = start + (end - start) // 2
    if newline >= half or (newline >= 0 and space < half):
        return newline
    if space >= 0:
        return space
    return end


def _last_fitting(offsets: list[int], start: int, budget: int) -> int:
    """The largest ``end > start`` with ``offsets[end] <= budget`` (binary search)."""
    low, high = start + 1, len(offsets) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if offsets[middle] <= budget:
            low = middle
        else:
            high = middle - 1
    return low
