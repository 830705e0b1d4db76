"""A fake Telegram Bot API server for end-to-end tests of a bot.

The real ``python-telegram-bot`` :class:`telegram.Bot` / ``Application`` talks
to it over HTTP on loopback, exactly as it talks to ``api.telegram.org``::

    async with FakeTelegram(token=TOKEN) as tg:
        chat = tg.private_chat(42, first_name="Ada")
        app = (
            ApplicationBuilder()
            .token(TOKEN)
            .base_url(tg.base_url)
            .base_file_url(tg.base_file_url)
            .build()
        )
        ...  # add handlers, start polling
        tg.send_text(chat, None, "/start")
        reply = await tg.wait_for_message(chat.id, "Welcome")

The wire protocol is Telegram's: ``POST /bot<TOKEN>/<method>`` with a JSON,
``application/x-www-form-urlencoded`` or ``multipart/form-data`` body (query
string parameters work too), answered with ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": N, "description": "...", "parameters": {...}}``;
files are downloaded from ``GET /file/bot<TOKEN>/<file_path>``. Method names
are case-insensitive, as on Telegram.

The fake is strict where bots usually break against the real service:

* text is measured in UTF-16 code units after entity parsing (4096 for
  messages, 1024 for captions) and trimmed of surrounding whitespace;
* ``parse_mode`` ``HTML``, ``MarkdownV2`` and ``Markdown`` are parsed with
  ports of Telegram's own parsers (tdlib ``MessageEntity.cpp``), with the same
  error texts (``can't parse entities: Unsupported start tag "br" at byte
  offset 12``, ``Character '.' is reserved and must be escaped with the
  preceding '\\'``); in addition, by default a bare ``&`` in HTML is rejected
  (Telegram itself keeps an unknown ``&...`` literally, which shows up as
  ``&nbsp;`` garbage in the chat);
* explicit ``entities`` must lie within the text and not split surrogate pairs;
* edits that change nothing, edits of missing or foreign messages, callback
  data over 64 bytes, inline keyboards of more than 100 buttons, answers to
  unknown or already answered callback queries, replies to missing messages,
  unknown chats, closed or unknown forum topics, non-image photos, empty files
  and files over 20 MB for ``getFile`` all fail like Telegram;
* group privacy mode: in groups where the bot is not an administrator, only
  commands, mentions of the bot and replies to it are delivered (see
  :meth:`FakeTelegram.group_chat`);
* ``getUpdates`` honours ``offset``, ``limit``, ``timeout`` and
  ``allowed_updates``, and a second concurrent long poll terminates the first
  with 409 ``Conflict``.

Tests inject what users do (:meth:`FakeTelegram.send_text`,
:meth:`~FakeTelegram.send_photo`, :meth:`~FakeTelegram.press_button`, ...),
read what the bot did (:attr:`FakeTelegram.sent`,
:meth:`~FakeTelegram.messages`, :attr:`~FakeTelegram.drafts`, ...), wait for it
without sleeping (:meth:`FakeTelegram.wait_for`,
:meth:`~FakeTelegram.wait_for_message`, :meth:`~FakeTelegram.wait_for_call`),
and inject failures (:meth:`FakeTelegram.fail_next`,
:meth:`~FakeTelegram.rate_limit`).

Everything runs on the test's event loop; call the injection and inspection
methods from that loop (they are synchronous and never block).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import math
import re
import socket
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Self, TypeAlias, TypeVar

from aiohttp import web

from tests.fakes.telegram_types import (
    JSON,
    ApiCall,
    ApiError,
    CallbackAnswer,
    Chat,
    ChatAction,
    Draft,
    Injected,
    Reaction,
    StoredFile,
    StoredMessage,
    Upload,
    User,
)

__all__ = [
    "ALLOWED_REACTIONS",
    "DEFAULT_TOKEN",
    "MAX_CAPTION_LENGTH",
    "MAX_TEXT_LENGTH",
    "NOT_MODIFIED",
    "POLL_CONFLICT",
    "QUERY_TOO_OLD",
    "FakeTelegram",
    "FormattingError",
    "MessageMatch",
    "parse_formatted",
    "utf16_len",
]

_T = TypeVar("_T")

DEFAULT_TOKEN: Final = "123456789:AAFakeTelegramTokenForTests_0123456789"
"""Token used when none is given (the bot id is the part before the colon)."""

MAX_TEXT_LENGTH: Final = 4096
"""Maximum message text length in UTF-16 code units, after entity parsing."""

MAX_CAPTION_LENGTH: Final = 1024
"""Maximum caption length in UTF-16 code units, after entity parsing."""

MAX_CALLBACK_DATA_BYTES: Final = 64
MAX_INLINE_BUTTONS: Final = 100
"""Buttons of one inline keyboard (Telegram answers more with "reply markup is too long")."""
MAX_CALLBACK_ANSWER_LENGTH: Final = 200
MAX_DOWNLOAD_BYTES: Final = 20 * 1024 * 1024
MAX_UPLOAD_BYTES: Final = 50 * 1024 * 1024
GENERAL_TOPIC_ID: Final = 1
"""``message_thread_id`` of a forum's General topic (its messages carry no thread id)."""

NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD: Final = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
POLL_CONFLICT: Final = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)

ALLOWED_REACTIONS: Final = frozenset(
    [
        "👍", "👎", "❤", "🔥", "🥰", "👏", "😁", "🤔", "🤯", "😱", "🤬", "😢", "🎉", "🤩",
        "🤮", "💩", "🙏", "👌", "🕊", "🤡", "🥱", "🥴", "😍", "🐳", "❤‍🔥", "❤️‍🔥", "🌚",
        "🌭", "💯", "🤣", "⚡", "🍌", "🏆", "💔", "🤨", "😐", "🍓", "🍾", "💋", "🖕", "😈",
        "😴", "😭", "🤓", "👻", "👨‍💻", "👀", "🎃", "🙈", "😇", "😨", "🤝", "✍", "🤗", "🫡",
        "🎅", "🎄", "☃", "💅", "🤪", "🗿", "🆒", "💘", "🙉", "🦄", "😘", "💊", "🙊", "😎",
        "👾", "🤷‍♂", "🤷‍♂️", "🤷", "🤷‍♀", "🤷‍♀️", "😡",
    ]
)  # fmt: skip
"""Emoji a bot may use in ``setMessageReaction`` (note: no ✅)."""

_CHAT_ACTIONS: Final = frozenset(
    [
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    ]
)  # fmt: skip

_DEFAULT_UPDATE_TYPES_EXCLUDED: Final = frozenset(
    ["chat_member", "message_reaction", "message_reaction_count"]
)

_DEFAULT_DESCRIPTIONS: Final[dict[int, str]] = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

# Parameters decoded for ApiCall.params (wire values are all strings in form bodies).
_JSON_FIELDS: Final = frozenset(
    [
        "reply_markup", "entities", "caption_entities", "allowed_updates", "commands",
        "scope", "reaction", "reply_parameters", "link_preview_options", "media",
        "message_ids", "results", "permissions", "explanation_entities", "options",
        "menu_button", "rights", "text_entities",
    ]
)  # fmt: skip
_INT_FIELDS: Final = frozenset(
    [
        "chat_id", "message_id", "message_thread_id", "draft_id", "offset", "limit",
        "user_id", "duration", "width", "height", "length", "cache_time", "from_chat_id",
        "max_connections", "icon_color", "reply_to_message_id", "direct_messages_topic_id",
    ]
)  # fmt: skip
_FLOAT_FIELDS: Final = frozenset(["timeout"])
_BOOL_FIELDS: Final = frozenset(
    [
        "show_alert", "disable_notification", "protect_content", "drop_pending_updates",
        "is_big", "disable_content_type_detection", "has_spoiler", "can_stop",
        "allow_sending_without_reply", "keep_on_stop", "show_caption_above_media",
        "allow_paid_broadcast", "supports_streaming", "disable_web_page_preview",
    ]
)  # fmt: skip

# --------------------------------------------------------------------------- #
# Text: UTF-16 lengths, entity parsing (ports of tdlib's parsers)
# --------------------------------------------------------------------------- #


def utf16_len(text: str) -> int:
    """Return the length of ``text`` in UTF-16 code units, as Telegram counts it."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _units(ch: str) -> int:
    """UTF-16 code units of one character."""
    return 2 if ord(ch) > 0xFFFF else 1


def _byte_offset(text: str, index: int) -> int:
    """UTF-8 byte offset of ``text[index]`` (Telegram's error messages use those)."""
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _is_space(ch: str) -> bool:
    """Tdlib's ``is_space``: ASCII whitespace or the end-of-text sentinel ``"\\0"``."""
    return ch in " \t\r\n\v\f\0"


class FormattingError(ValueError):
    """Telegram could not parse the entities of a text (``can't parse entities: ...``)."""


_ENTITY_PRIORITY: Final[dict[str, int]] = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}

_ENTITY_TYPES: Final = frozenset(
    [
        "mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number",
        "bold", "italic", "underline", "strikethrough", "spoiler", "blockquote",
        "expandable_blockquote", "code", "pre", "text_link", "text_mention", "custom_emoji",
        "date_time",
    ]
)  # fmt: skip

_ENTITY_DISPLAY: Final[dict[str, str]] = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
}


def _sort_entities(entities: list[JSON]) -> list[JSON]:
    """Order entities like Telegram: by offset, longer first, then by type priority."""
    return sorted(
        entities,
        key=lambda e: (e["offset"], -e["length"], _ENTITY_PRIORITY.get(e["type"], 50)),
    )


def _entity(kind: str, offset: int, length: int, **extra: Any) -> JSON:
    out: JSON = {"type": kind, "offset": offset, "length": length}
    out.update({k: v for k, v in extra.items() if v not in (None, "")})
    return out


_SCHEME_RE: Final = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_BARE_URL_RE: Final = re.compile(r"^[\w-]+(\.[\w-]+)+(:\d+)?([/?#].*)?$")


def _checked_url(url: str) -> str | None:
    """Return ``url`` as Telegram would keep it for a link entity, or ``None`` if invalid."""
    url = url.strip()
    if not url:
        return None
    match = _SCHEME_RE.match(url)
    if match and not _BARE_URL_RE.match(url):
        scheme = match.group(1).lower()
        rest = url[match.end() :]
        if scheme in ("http", "https", "ftp"):
            return url if rest.startswith("//") and len(rest) > 2 else None
        return url if scheme in ("tg", "ton") and rest else None
    if _BARE_URL_RE.match(url):
        return "http://" + url
    return None


def _decode_html_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decode the character reference at ``text[pos] == "&"`` (tdlib's rules).

    Only ``&lt;``, ``&gt;``, ``&amp;``, ``&quot;`` and numeric references are
    known; the ``;`` is optional. Returns the character and the position after
    the reference, or ``None``.
    """
    n = len(text)

    def at(k: int) -> str:
        return text[k] if k < n else "\0"

    end = pos + 1
    code = 0
    if at(pos + 1) == "#":
        end += 1
        if at(pos + 2) == "x":
            end += 1
            while at(end) != "\0" and at(end) in "0123456789abcdefABCDEF":
                code = code * 16 + int(at(end), 16)
                end += 1
        else:
            while at(end) != "\0" and at(end) in "0123456789":
                code = code * 10 + int(at(end))
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None
        ch = chr(code)
    else:
        while at(end).isascii() and at(end).isalpha():
            end += 1
        name = text[pos + 1 : end]
        named = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}.get(name)
        if named is None:
            return None
        ch = named
    if at(end) == ";":
        end += 1
    return ch, end


_HTML_TAGS: Final = frozenset(
    [
        "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler",
        "tg-emoji", "span", "pre", "code", "blockquote",
    ]
)  # fmt: skip


@dataclass
class _OpenTag:
    name: str
    argument: str
    offset: int
    begin: int


def _parse_html(text: str, *, strict_ampersand: bool) -> tuple[str, list[JSON]]:
    """Parse Telegram HTML into plain text and entities (port of tdlib ``parse_html``)."""
    n = len(text)

    def at(k: int) -> str:
        return text[k] if k < n else "\0"

    def fail(message: str) -> FormattingError:
        return FormattingError(message)

    out: list[str] = []
    utf16 = 0
    entities: list[JSON] = []
    stack: list[_OpenTag] = []
    i = 0
    while i < n:
        c = text[i]
        if c == "&":
            decoded = _decode_html_entity(text, i)
            if decoded is not None:
                ch, i = decoded
                out.append(ch)
                utf16 += _units(ch)
                continue
            if strict_ampersand:
                raise fail(
                    f'Character "&" at byte offset {_byte_offset(text, i)} must be escaped '
                    'as "&amp;" (this fake is stricter than Telegram here)'
                )
        if c != "<":
            out.append(c)
            utf16 += _units(c)
            i += 1
            continue
        begin = i
        begin_byte = _byte_offset(text, begin)
        i += 1
        if at(i) != "/":
            while not _is_space(at(i)) and at(i) != ">":
                i += 1
            if i >= n:
                raise fail(f"Unclosed start tag at byte offset {begin_byte}")
            tag = text[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise fail(f'Unsupported start tag "{tag}" at byte offset {begin_byte}')
            argument = ""
            while at(i) != ">":
                while i < n and _is_space(text[i]):
                    i += 1
                if at(i) == ">":
                    break
                attr_begin = i
                while not _is_space(at(i)) and at(i) not in "=>/\"'":
                    i += 1
                attr = text[attr_begin:i]
                if not attr:
                    raise fail(
                        f'Empty attribute name in the tag "{tag}" at byte offset {begin_byte}'
                    )
                while i < n and _is_space(text[i]):
                    i += 1
                if at(i) != "=":
                    if i >= n:
                        raise fail(f'Unclosed start tag "{tag}" at byte offset {begin_byte}')
                    if tag == "blockquote" and attr == "expandable":
                        argument = "1"
                    continue
                i += 1
                while i < n and _is_space(text[i]):
                    i += 1
                if i >= n:
                    raise fail(f'Unclosed start tag "{tag}" at byte offset {begin_byte}')
                if at(i) not in "'\"":
                    token_begin = i
                    while at(i).isascii() and (at(i).isalnum() or at(i) in ".-"):
                        i += 1
                    value = text[token_begin:i].lower()
                    if not _is_space(at(i)) and at(i) != ">":
                        raise fail(
                            "Unexpected end of name token at byte offset "
                            f"{_byte_offset(text, token_begin)}"
                        )
                else:
                    quote = text[i]
                    i += 1
                    chars: list[str] = []
                    while i < n and text[i] != quote:
                        if text[i] == "&":
                            decoded = _decode_html_entity(text, i)
                            if decoded is not None:
                                chars.append(decoded[0])
                                i = decoded[1]
                                continue
                        chars.append(text[i])
                        i += 1
                    if at(i) == quote:
                        i += 1
                    value = "".join(chars)
                if i >= n:
                    raise fail(f"Unclosed start tag at byte offset {begin_byte}")
                if tag == "a" and attr == "href":
                    argument = value
                elif tag == "code" and attr == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attr == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attr == "emoji-id":
                    argument = value
                elif tag == "blockquote" and attr == "expandable":
                    argument = "1"
            if tag == "span" and argument != "spoiler":
                raise fail(f'Tag "span" must have class "tg-spoiler" at byte offset {begin_byte}')
            stack.append(_OpenTag(tag, argument, utf16, len(out)))
            i += 1
            continue
        # an end tag
        if not stack:
            raise fail(f"Unexpected end tag at byte offset {begin_byte}")
        while not _is_space(at(i)) and at(i) != ">":
            i += 1
        end_name = text[begin + 2 : i].lower()
        while i < n and _is_space(text[i]):
            i += 1
        if at(i) != ">":
            raise fail(f"Unclosed end tag at byte offset {begin_byte}")
        top = stack[-1]
        if end_name and end_name != top.name:
            raise fail(
                f'Unmatched end tag at byte offset {begin_byte}, expected "</{top.name}>", '
                f'found "</{end_name}>"'
            )
        if utf16 > top.offset:
            _close_html_tag(top, utf16, out, entities)
        stack.pop()
        i += 1
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    result = "".join(out)
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in result):
        raise fail(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        )
    return result, _sort_entities(entities)


def _close_html_tag(top: _OpenTag, utf16: int, out: list[str], entities: list[JSON]) -> None:
    """Append the entity for a closed HTML tag (tdlib's rules, incl. ``pre`` + ``code``)."""
    offset = top.offset
    length = utf16 - offset
    simple = {
        "i": "italic",
        "em": "italic",
        "b": "bold",
        "strong": "bold",
        "s": "strikethrough",
        "strike": "strikethrough",
        "del": "strikethrough",
        "u": "underline",
        "ins": "underline",
        "tg-spoiler": "spoiler",
        "span": "spoiler",
    }
    name = top.name
    last = entities[-1] if entities else None
    if name in simple:
        entities.append(_entity(simple[name], offset, length))
    elif name == "tg-emoji":
        if not top.argument.isdigit() or int(top.argument) == 0:
            raise FormattingError("Invalid custom emoji identifier specified")
        entities.append(_entity("custom_emoji", offset, length, custom_emoji_id=top.argument))
    elif name == "a":
        url = _checked_url(top.argument or "".join(out[top.begin :]))
        if url is not None:
            entities.append(_entity("text_link", offset, length, url=url))
    elif name == "pre":
        if (
            last is not None
            and last["type"] == "code"
            and (last["offset"], last["length"]) == (offset, length)
            and last.get("language")
        ):
            last["type"] = "pre"
        else:
            entities.append(_entity("pre", offset, length))
    elif name == "code":
        if (
            last is not None
            and last["type"] == "pre"
            and (last["offset"], last["length"]) == (offset, length)
            and top.argument
        ):
            last["language"] = top.argument
        else:
            entities.append(_entity("code", offset, length, language=top.argument))
    elif name == "blockquote":
        kind = "expandable_blockquote" if top.argument else "blockquote"
        entities.append(_entity(kind, offset, length))


@dataclass
class _OpenMark:
    kind: str
    argument: str
    offset: int
    index: int
    begin: int


def _parse_markdown_v2(text: str) -> tuple[str, list[JSON]]:
    """Parse MarkdownV2 into plain text and entities (port of tdlib ``parse_markdown_v2``)."""
    n = len(text)

    def at(k: int) -> str:
        return text[k] if k < n else "\0"

    def reserved(ch: str) -> FormattingError:
        return FormattingError(
            f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
        )

    def no_end(mark: _OpenMark) -> FormattingError:
        display = _ENTITY_DISPLAY.get(mark.kind, mark.kind)
        if mark.kind == "pre" and mark.argument:
            display = "PreCode"
        return FormattingError(
            f"Can't find end of {display} entity at byte offset {_byte_offset(text, mark.index)}"
        )

    out: list[str] = []
    utf16 = 0
    entities: list[JSON] = []
    stack: list[_OpenMark] = []
    have_blockquote = False
    can_start_blockquote = True
    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and 0 < ord(at(i + 1)) <= 126:
            i += 1
            utf16 += 1
            out.append(text[i])
            if text[i] != "\r":
                can_start_blockquote = text[i] == "\n"
            i += 1
            continue
        specials = "`" if stack and stack[-1].kind in ("code", "pre") else "_*[]()~`>#+-=|{}.!\n"
        if c not in specials:
            utf16 += _units(c)
            if c != "\r":
                can_start_blockquote = False
            out.append(c)
            i += 1
            continue

        is_end = False
        if stack:
            kind = stack[-1].kind
            if have_blockquote and c == "\n" and (i + 1 == n or text[i + 1] != ">"):
                is_end = True
            else:
                is_end = (
                    (kind == "bold" and c == "*")
                    or (kind == "italic" and c == "_" and at(i + 1) != "_")
                    or (kind == "code" and c == "`")
                    or (kind == "pre" and text.startswith("```", i))
                    or (kind in ("text_link", "custom_emoji") and c == "]")
                    or (kind == "underline" and c == "_" and at(i + 1) == "_")
                    or (kind == "strikethrough" and c == "~")
                    or (kind == "spoiler" and c == "|" and at(i + 1) == "|")
                )

        if not is_end:
            start = i
            kind_opened: str | None
            argument = ""
            if c == "_":
                if at(i + 1) == "_":
                    kind_opened = "underline"
                    i += 1
                else:
                    kind_opened = "italic"
            elif c == "*":
                kind_opened = "bold"
            elif c == "~":
                kind_opened = "strikethrough"
            elif c == "|":
                if at(i + 1) != "|":
                    raise reserved(c)
                i += 1
                kind_opened = "spoiler"
            elif c == "[":
                kind_opened = "text_link"
            elif c == "`":
                if at(i + 1) == "`" and at(i + 2) == "`":
                    i += 3
                    kind_opened = "pre"
                    lang_end = i
                    while not _is_space(at(lang_end)) and at(lang_end) != "`":
                        lang_end += 1
                    if i != lang_end and lang_end < n and text[lang_end] != "`":
                        argument = text[i:lang_end]
                        i = lang_end
                    if at(i) in "\n\r":
                        if at(i + 1) in "\n\r" and at(i) != at(i + 1):
                            i += 2
                        else:
                            i += 1
                    i -= 1
                else:
                    kind_opened = "code"
            elif c == "!":
                if at(i + 1) != "[":
                    raise reserved(c)
                i += 1
                kind_opened = "custom_emoji"
            elif c == "\n":
                utf16 += 1
                out.append("\n")
                can_start_blockquote = True
                kind_opened = None
            elif c == ">":
                if not can_start_blockquote:
                    raise reserved(c)
                if have_blockquote:
                    kind_opened = None
                else:
                    kind_opened = "blockquote"
                    have_blockquote = True
            else:
                raise reserved(c)
            if kind_opened is not None:
                stack.append(_OpenMark(kind_opened, argument, utf16, start, len(out)))
            i += 1
            continue

        # the end of an entity
        kind = stack[-1].kind
        if c == "\n" and kind != "blockquote":
            top = stack[-1]
            crlf_spoiler = top.index == i - 3 and bool(out) and out[-1] == "\r"
            if kind != "spoiler" or not (top.index == i - 2 or crlf_spoiler):
                raise no_end(top)
            stack.pop()
            if not stack or stack[-1].kind != "blockquote":
                raise no_end(stack[-1] if stack else top)
            kind = "expandable_blockquote"
        top = stack[-1]
        argument = top.argument
        skip = utf16 == top.offset
        extra: JSON = {}
        if kind in ("underline", "spoiler"):
            i += 1
        elif kind == "pre":
            i += 2
            extra["language"] = argument
        elif kind == "text_link":
            if at(i + 1) != "(":
                url = "".join(out[top.begin :])
            else:
                i += 2
                url_begin = i
                chars: list[str] = []
                while i < n and text[i] != ")":
                    if text[i] == "\\" and 0 < ord(at(i + 1)) <= 126:
                        chars.append(text[i + 1])
                        i += 2
                        continue
                    chars.append(text[i])
                    i += 1
                if at(i) != ")":
                    raise FormattingError(
                        f"Can't find end of a URL at byte offset {_byte_offset(text, url_begin)}"
                    )
                url = "".join(chars)
            checked = _checked_url(url)
            if checked is None:
                skip = True
            else:
                extra["url"] = checked
        elif kind == "custom_emoji":
            if at(i + 1) != "(":
                raise FormattingError("Custom emoji entity must contain a tg://emoji URL")
            i += 2
            url_begin = i
            chars = []
            while i < n and text[i] != ")":
                if text[i] == "\\" and 0 < ord(at(i + 1)) <= 126:
                    chars.append(text[i + 1])
                    i += 2
                    continue
                chars.append(text[i])
                i += 1
            if at(i) != ")":
                raise FormattingError(
                    "Can't find end of a custom emoji URL at byte offset "
                    f"{_byte_offset(text, url_begin)}"
                )
            emoji = re.fullmatch(r"tg://emoji\?id=([1-9][0-9]*)", "".join(chars))
            if emoji is None:
                raise FormattingError("Invalid custom emoji URL specified")
            extra["custom_emoji_id"] = emoji.group(1)
        elif kind in ("blockquote", "expandable_blockquote"):
            have_blockquote = False
            length = utf16 - top.offset
            out.append(text[i])
            can_start_blockquote = True
            utf16 += 1
            if length:
                entities.append(_entity(kind, top.offset, length))
            stack.pop()
            i += 1
            continue
        if not skip:
            entities.append(_entity(kind, top.offset, utf16 - top.offset, **extra))
        stack.pop()
        i += 1

    if have_blockquote and stack:
        kind = "blockquote"
        if stack[-1].kind == "spoiler" and stack[-1].index == n - 2:
            stack.pop()
            kind = "expandable_blockquote"
        if stack and stack[-1].kind == "blockquote":
            length = utf16 - stack[-1].offset
            if length:
                entities.append(_entity(kind, stack[-1].offset, length))
            stack.pop()
    if stack:
        raise no_end(stack[-1])
    return "".join(out), _sort_entities(entities)


def _parse_markdown_v1(text: str) -> tuple[str, list[JSON]]:
    """Parse legacy Markdown (port of tdlib ``parse_markdown``)."""
    n = len(text)

    def at(k: int) -> str:
        return text[k] if k < n else "\0"

    out: list[str] = []
    utf16 = 0
    entities: list[JSON] = []
    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and at(i + 1) != "\0" and at(i + 1) in "_*`[":
            i += 1
            out.append(text[i])
            utf16 += 1
            i += 1
            continue
        if c not in "_*`[":
            out.append(c)
            utf16 += _units(c)
            i += 1
            continue
        begin = i
        end_char = "]" if c == "[" else c
        is_pre = False
        language = ""
        i += 1
        if c == "`" and at(i) == "`" and at(i + 1) == "`":
            i += 2
            is_pre = True
            lang_end = i
            while not _is_space(at(lang_end)) and at(lang_end) != "`":
                lang_end += 1
            if i != lang_end and lang_end < n and text[lang_end] != "`":
                language = text[i:lang_end]
                i = lang_end
            if at(i) in "\n\r":
                if at(i + 1) in "\n\r" and at(i) != at(i + 1):
                    i += 2
                else:
                    i += 1
        start16 = utf16
        start_out = len(out)
        while i < n and (
            text[i] != end_char or (is_pre and not (at(i + 1) == "`" and at(i + 2) == "`"))
        ):
            out.append(text[i])
            utf16 += _units(text[i])
            i += 1
        if i >= n:
            raise FormattingError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(text, begin)}"
            )
        if start16 != utf16:
            length = utf16 - start16
            if c == "_":
                entities.append(_entity("italic", start16, length))
            elif c == "*":
                entities.append(_entity("bold", start16, length))
            elif c == "[":
                if at(i + 1) != "(":
                    url = "".join(out[start_out:])
                else:
                    i += 2
                    chars: list[str] = []
                    while i < n and text[i] != ")":
                        chars.append(text[i])
                        i += 1
                    url = "".join(chars)
                checked = _checked_url(url)
                if checked is not None:
                    entities.append(_entity("text_link", start16, length, url=checked))
            elif is_pre:
                entities.append(_entity("pre", start16, length, language=language))
            else:
                entities.append(_entity("code", start16, length))
        if is_pre:
            i += 2
        i += 1
    return "".join(out), _sort_entities(entities)


def _surrogate_boundaries(text: str) -> set[int]:
    """UTF-16 offsets that fall between the two halves of a surrogate pair."""
    inside: set[int] = set()
    offset = 0
    for ch in text:
        if ord(ch) > 0xFFFF:
            inside.add(offset + 1)
        offset += _units(ch)
    return inside


def _validate_entities(text: str, raw: object) -> list[JSON]:
    """Check explicit ``entities``: known types, required fields, within the UTF-16 text."""
    if not isinstance(raw, list):
        raise ApiError(400, "Bad Request: can't parse entities JSON object")
    total = utf16_len(text)
    split_points = _surrogate_boundaries(text)
    out: list[JSON] = []
    for item in raw:
        if not isinstance(item, dict):
            raise ApiError(400, "Bad Request: can't parse MessageEntity: object expected")
        kind = item.get("type")
        offset = item.get("offset")
        length = item.get("length")
        if kind not in _ENTITY_TYPES:
            raise ApiError(
                400, f'Bad Request: can\'t parse MessageEntity: unsupported entity type "{kind}"'
            )
        if (
            not isinstance(offset, int)
            or not isinstance(length, int)
            or isinstance(offset, bool)
            or isinstance(length, bool)
        ):
            raise ApiError(
                400, "Bad Request: can't parse MessageEntity: offset and length must be integers"
            )
        if offset < 0 or length <= 0 or offset + length > total:
            raise ApiError(
                400,
                f"Bad Request: can't parse entities: {kind} entity at UTF-16 offset {offset} "
                f"with length {length} does not fit into the text of UTF-16 length {total}",
            )
        if offset in split_points or offset + length in split_points:
            raise ApiError(
                400,
                f"Bad Request: can't parse entities: {kind} entity at UTF-16 offset {offset} "
                f"with length {length} splits a surrogate pair",
            )
        required = {"text_link": "url", "text_mention": "user", "custom_emoji": "custom_emoji_id"}
        if kind in required and not item.get(required[kind]):
            raise ApiError(
                400,
                f'Bad Request: can\'t parse MessageEntity: field "{required[kind]}" '
                f"must be specified for {kind}",
            )
        out.append(copy.deepcopy(item))
    return _sort_entities(out)


def _trim(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Strip surrounding whitespace like Telegram and shift/clip the entities."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    if not stripped:
        return "", []
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    out: list[JSON] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            moved = dict(entity)
            moved["offset"] = start
            moved["length"] = end - start
            out.append(moved)
    return stripped, _sort_entities(out)


def parse_formatted(
    text: str,
    parse_mode: str | None = None,
    entities: object = None,
    *,
    strict_ampersand: bool = True,
) -> tuple[str, list[JSON]]:
    """Return the plain text and entities Telegram would store for a formatted text.

    ``entities`` (a list of ``MessageEntity`` dicts) wins over ``parse_mode``,
    as on Telegram. The result is trimmed of surrounding whitespace.

    Raises:
        ApiError: 400 with Telegram's description when the text cannot be parsed
            (``Bad Request: can't parse entities: ...``) or ``parse_mode`` is unknown.
    """
    if entities is not None:
        parsed = (text, _validate_entities(text, entities))
    elif parse_mode:
        mode = parse_mode.lower()
        try:
            if mode == "html":
                parsed = _parse_html(text, strict_ampersand=strict_ampersand)
            elif mode == "markdownv2":
                parsed = _parse_markdown_v2(text)
            elif mode == "markdown":
                parsed = _parse_markdown_v1(text)
            else:
                raise ApiError(400, "Bad Request: unsupported parse_mode")
        except FormattingError as exc:
            raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from exc
    else:
        parsed = (text, [])
    return _trim(*parsed)


_BOT_COMMAND_RE: Final = re.compile(
    r"(?<![\w/<>])/[a-zA-Z0-9_]{1,64}(?:@[a-zA-Z0-9_]{3,32})?(?![\w/<>])"
)


def _detect_bot_commands(text: str) -> list[JSON]:
    """``bot_command`` entities Telegram adds to a user's text (``/new``, ``/cmd@bot``)."""
    return [
        _entity("bot_command", utf16_len(text[: m.start()]), utf16_len(m.group()))
        for m in _BOT_COMMAND_RE.finditer(text)
    ]


# --------------------------------------------------------------------------- #
# Files
# --------------------------------------------------------------------------- #

_FILE_ID_PREFIX: Final[dict[str, str]] = {
    "photo": "AgACAgIAAxkBAAI",
    "document": "BQACAgIAAxkBAAI",
    "voice": "AwACAgIAAxkBAAI",
    "audio": "CQACAgIAAxkBAAI",
    "video": "BAACAgIAAxkBAAI",
    "animation": "CgACAgIAAxkBAAI",
    "video_note": "DQACAgIAAxkBAAI",
    "sticker": "CAACAgIAAxkBAAI",
}
_FILE_FOLDER: Final[dict[str, str]] = {
    "photo": "photos",
    "document": "documents",
    "voice": "voice",
    "audio": "music",
    "video": "videos",
    "animation": "animations",
    "video_note": "video_notes",
    "sticker": "stickers",
}
_DEFAULT_EXTENSION: Final[dict[str, str]] = {
    "photo": "jpg",
    "voice": "oga",
    "audio": "mp3",
    "video": "mp4",
    "animation": "mp4",
    "video_note": "mp4",
    "sticker": "webp",
}
_MEDIA_DEFAULTS: Final[dict[str, JSON]] = {
    "voice": {"duration": 0},
    "audio": {"duration": 0},
    "video": {"width": 640, "height": 360, "duration": 0},
    "animation": {"width": 320, "height": 240, "duration": 0},
    "video_note": {"length": 240, "duration": 0},
    "sticker": {
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "type": "regular",
    },
}
"""Fields Telegram always fills in for uploaded media (PTB requires them)."""

_DEFAULT_MIME: Final[dict[str, str]] = {
    "voice": "audio/ogg",
    "audio": "audio/mpeg",
    "video": "video/mp4",
    "animation": "video/mp4",
    "document": "application/octet-stream",
}


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a JPEG/PNG/GIF/WebP/BMP image, or ``None`` if it is not one."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"BM") and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(int(width)), abs(int(height))
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return 512, 512
    if data.startswith(b"\xff\xd8\xff"):
        pos = 2
        while pos + 9 < len(data):
            if data[pos] != 0xFF:
                pos += 1
                continue
            marker = data[pos + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                pos += 2
                continue
            (seg_len,) = struct.unpack(">H", data[pos + 2 : pos + 4])
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
                return int(width), int(height)
            pos += 2 + seg_len
        return 800, 600
    return None


# --------------------------------------------------------------------------- #
# Request parameters
# --------------------------------------------------------------------------- #


class _Params:
    """Typed access to a request's parameters, whatever the body encoding.

    Form bodies carry every value as a string (python-telegram-bot JSON-encodes
    non-string values: ``"42"``, ``"true"``, ``'{"inline_keyboard": ...}'``);
    JSON bodies carry native values. Both are accepted everywhere.
    """

    def __init__(self, raw: JSON, files: dict[str, Upload]) -> None:
        self.raw = raw
        self.files = files

    def has(self, name: str) -> bool:
        """Whether the parameter is present and non-empty."""
        return self.raw.get(name) not in (None, "") or name in self.files

    def text(self, name: str) -> str | None:
        """A string parameter (``None`` when absent)."""
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        raise ApiError(400, f'Bad Request: field "{name}" must be of type String')

    def integer(self, name: str) -> int | None:
        """An integer parameter (``None`` when absent or empty)."""
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise ApiError(400, f'Bad Request: field "{name}" must be of type Integer')
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ApiError(400, f'Bad Request: field "{name}" must be of type Integer')

    def number(self, name: str) -> float | None:
        """A numeric parameter (``None`` when absent or empty)."""
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ApiError(400, f'Bad Request: field "{name}" must be a Number')

    def flag(self, name: str) -> bool:
        """A boolean parameter (``False`` when absent)."""
        value = self.raw.get(name)
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return bool(value)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        return False

    def json(self, name: str, what: str) -> Any:
        """A JSON-serialized parameter, decoded (``None`` when absent)."""
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ApiError(400, f"Bad Request: can't parse {what} JSON object") from exc
        return value


def _decode_for_record(raw: JSON, files: dict[str, Upload]) -> JSON:
    """Decode wire parameters for :attr:`ApiCall.params` (best effort, never fails)."""
    out: JSON = {}
    for key, value in raw.items():
        decoded: Any = value
        if isinstance(value, str):
            if key in _JSON_FIELDS:
                try:
                    decoded = json.loads(value)
                except ValueError:
                    decoded = value
            elif key in _INT_FIELDS and re.fullmatch(r"\s*-?\d+\s*", value):
                decoded = int(value)
            elif key in _FLOAT_FIELDS and re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", value):
                number = float(value)
                decoded = int(number) if number.is_integer() else number
            elif key in _BOOL_FIELDS and value.lower() in ("true", "false"):
                decoded = value.lower() == "true"
        out[key] = decoded
    for key, upload in files.items():
        out.setdefault(key, f"<upload:{upload.filename or key}>")
    return out


# --------------------------------------------------------------------------- #
# The server
# --------------------------------------------------------------------------- #


@dataclass
class _Failure:
    method: str
    status: int
    description: str
    retry_after: int | None
    remaining: int
    when: Callable[[JSON], bool] | None = None


@dataclass
class _RateLimit:
    method: str
    per_second: float
    retry_after: int | None
    chat_id: int | None = None
    window: float = 1.0
    stamps: deque[float] = field(default_factory=deque)


@dataclass
class _Query:
    chat_id: int
    message_id: int
    data: str | None
    answered: bool = False


_Handler = Callable[[_Params, ApiCall], Awaitable[Any]]
MessageMatch: TypeAlias = str | re.Pattern[str] | Callable[[StoredMessage], object] | None
"""What :meth:`FakeTelegram.wait_for_message` matches: substring, regex, predicate or any."""


class FakeTelegram:
    """An aiohttp server on ``127.0.0.1`` that behaves like the Telegram Bot API.

    Use as ``async with FakeTelegram(token=...) as tg:`` (or call :meth:`start`
    and :meth:`stop`). Point the bot at :attr:`base_url` and
    :attr:`base_file_url`.

    Args:
        token: The bot token; requests with another token get 401 ``Unauthorized``.
            The bot's user id is the number before the colon.
        bot_username: The bot's ``@username`` (without ``@``).
        bot_first_name: The bot's display name.
        privacy_mode: Group privacy mode (Telegram's default): in groups where
            the bot is not an admin it only receives commands, mentions and
            replies to its own messages.
        strict_html_ampersand: Reject a bare ``&`` in HTML texts (Telegram keeps
            it literally; set ``False`` for Telegram's exact behaviour).
        latency: Seconds each call other than ``getUpdates`` takes before it is
            answered, like the round trip to Telegram's servers (benchmarks).

    A test can also hold every call but ``getUpdates`` until it sets ``gate``
    (an :class:`asyncio.Event` on the fake's loop), to show what the bot does while
    Telegram has not answered yet.

    Attributes:
        token: The accepted token.
        bot: The bot's own :class:`User`.
        sent: Every request the bot made, in order (including failed ones and
            ``getUpdates``).
        drafts: Accepted ``sendMessageDraft`` calls, in order.
        chat_actions: Accepted ``sendChatAction`` calls, in order.
        callback_answers: Accepted ``answerCallbackQuery`` calls, in order.
        reactions: Accepted ``setMessageReaction`` calls, in order.
        injected: Every injected update, in order (delivered or not).
        files: Every known file by ``file_id``.
        webhook_url: The URL set with ``setWebhook`` (``""`` when none).
        internal_errors: Exceptions raised by the fake itself while handling a
            call (answered with 500); should stay empty.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "fake_test_bot",
        bot_first_name: str = "Fake Bot",
        privacy_mode: bool = True,
        strict_html_ampersand: bool = True,
        latency: float = 0.0,
    ) -> None:
        self.token = token
        self.latency = latency
        self.gate: asyncio.Event | None = None
        bot_id_text = token.split(":", 1)[0]
        bot_id = int(bot_id_text) if bot_id_text.isdigit() else 123456789
        self.bot = User(id=bot_id, first_name=bot_first_name, is_bot=True, username=bot_username)
        self.privacy_mode = privacy_mode
        self.strict_html_ampersand = strict_html_ampersand

        self.sent: list[ApiCall] = []
        self.drafts: list[Draft] = []
        self.chat_actions: list[ChatAction] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.reactions: list[Reaction] = []
        self.injected: list[Injected] = []
        self.files: dict[str, StoredFile] = {}
        self.webhook_url = ""
        self.internal_errors: list[Exception] = []
        self._photo_groups: dict[str, list[StoredFile]] = {}

        self._users: dict[int, User] = {}
        self._chats: dict[int, Chat] = {}
        self._messages: dict[int, dict[int, StoredMessage]] = {}
        self._next_message_id: dict[int, int] = {}
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._queries: dict[str, _Query] = {}
        self._pending: list[JSON] = []
        self._allowed_updates: list[str] | None = None
        self._failures: list[_Failure] = []
        self._rate_limits: list[_RateLimit] = []
        self._update_ids = itertools.count(700_000_001)
        self._query_ids = itertools.count(4_381_000_000_000_000_001)
        self._file_ids = itertools.count(1)
        self._poll_generation = 0
        self._closing = False
        self._changed = asyncio.Event()
        self._poll_wakeup = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

        self._handlers: dict[str, _Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "logOut": self._true,
            "close": self._true,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getChat": self._get_chat,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "pinChatMessage": self._pin_chat_message,
            "unpinChatMessage": self._unpin_chat_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "sendMessageDraft": self._send_message_draft,
            "setMessageReaction": self._set_message_reaction,
            "getFile": self._get_file,
            "sendDocument": self._media_sender("document"),
            "sendPhoto": self._media_sender("photo"),
            "sendVoice": self._media_sender("voice"),
            "sendAudio": self._media_sender("audio"),
            "sendVideo": self._media_sender("video"),
            "sendAnimation": self._media_sender("animation"),
            "sendVideoNote": self._media_sender("video_note"),
            "sendSticker": self._media_sender("sticker"),
            "createForumTopic": self._create_forum_topic,
            "editForumTopic": self._edit_forum_topic,
            "closeForumTopic": self._close_forum_topic,
            "reopenForumTopic": self._reopen_forum_topic,
            "deleteForumTopic": self._delete_forum_topic,
        }
        self._method_names = {name.lower(): name for name in self._handlers}

    # ------------------------------------------------------------------ #
    # Lifecycle
    # ------------------------------------------------------------------ #

    async def start(self) -> None:
        """Start listening on ``127.0.0.1`` on a free port."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = int(sock.getsockname()[1])
        site = web.SockSite(runner, sock)
        await site.start()
        self._runner = runner
        self._closing = False

    async def stop(self) -> None:
        """Stop the server; pending long polls are answered with no updates first."""
        self._closing = True
        self._wake_pollers()
        self._notify()
        runner, self._runner = self._runner, None
        if runner is not None:
            await asyncio.sleep(0)
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The TCP port (only after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("FakeTelegram is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """Value for ``Bot(base_url=...)``: ``http://127.0.0.1:PORT/bot``."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for ``Bot(base_file_url=...)``: ``http://127.0.0.1:PORT/file/bot``."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ------------------------------------------------------------------ #
    # Waking waiters
    # ------------------------------------------------------------------ #

    def _notify(self) -> None:
        """Wake every :meth:`wait_for` (a broadcast: one fresh event per change)."""
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def _wake_pollers(self) -> None:
        """Wake every pending ``getUpdates`` long poll."""
        event, self._poll_wakeup = self._poll_wakeup, asyncio.Event()
        event.set()

    async def wait_for(
        self,
        predicate: Callable[[], _T | None],
        timeout: float = 10.0,  # noqa: ASYNC109 - the waiting budget, not an I/O timeout
        *,
        what: str = "",
    ) -> _T:
        """Wait until ``predicate()`` returns something truthy, and return it.

        The predicate is checked now and again whenever the bot makes a call
        (on arrival and on answer) or the test injects something; there is no
        polling interval.

        Raises:
            TimeoutError: After ``timeout`` seconds, with the last calls listed.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changed
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"FakeTelegram.wait_for{f' ({what})' if what else ''} timed out after "
                    f"{timeout}s; last calls:\n{self.describe_calls()}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def wait_for_message(
        self,
        chat_id: Chat | int,
        match: MessageMatch = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - the waiting budget, not an I/O timeout
        *,
        thread_id: int | None = None,
        since: float | None = None,
    ) -> StoredMessage:
        """Wait for a bot message in the chat that matches, and return it.

        Args:
            chat_id: The chat (or its id).
            match: A substring of the text/caption, a compiled regex searched in
                it, a callable taking the :class:`StoredMessage`, or ``None`` for
                any message. Edits count: a message edited into a match matches.
            timeout: Seconds before :class:`TimeoutError`.
            thread_id: Only messages in this forum topic.
            since: Only messages sent or changed at or after this
                ``time.monotonic()`` reading.
        """
        cid = chat_id.id if isinstance(chat_id, Chat) else chat_id

        def find() -> StoredMessage | None:
            for message in reversed(self.messages(cid, thread_id)):
                if message.deleted or (since is not None and message.updated_at < since):
                    continue
                if _matches(message, match):
                    return message
            return None

        return await self.wait_for(find, timeout, what=f"message in chat {cid} matching {match!r}")

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[ApiCall], object] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - the waiting budget, not an I/O timeout
        *,
        since: float | None = None,
        answered: bool = True,
    ) -> ApiCall:
        """Wait for a call of ``method`` (case-insensitive) and return the latest match.

        Args:
            method: Bot API method name.
            predicate: Optional extra condition on the :class:`ApiCall`.
            timeout: Seconds before :class:`TimeoutError`.
            since: Only calls that arrived at or after this ``time.monotonic()`` reading.
            answered: Only calls already answered (default), so ``status`` and
                ``response`` are set.
        """
        wanted = self._method_names.get(method.lower(), method)

        def find() -> ApiCall | None:
            for call in reversed(self.sent):
                if call.method != wanted or (since is not None and call.time < since):
                    continue
                if answered and call.status is None:
                    continue
                if predicate is None or predicate(call):
                    return call
            return None

        return await self.wait_for(find, timeout, what=f"call to {wanted}")

    def describe_calls(self, last: int = 15) -> str:
        """A short listing of the last calls, for failure messages."""
        lines = []
        interesting = [
            call
            for call in self.sent
            if not (call.method == "getUpdates" and call.ok and not call.result)
        ]
        for call in interesting[-last:]:
            status = "pending" if call.status is None else str(call.status)
            params = {k: v for k, v in call.params.items() if k not in ("reply_markup",)}
            lines.append(f"  {call.method} [{status}] {json.dumps(params, default=str)[:200]}")
        return "\n".join(lines) or "  (none)"

    # ------------------------------------------------------------------ #
    # Failure injection
    # ------------------------------------------------------------------ #

    def fail_next(
        self,
        method: str,
        status: int = 429,
        *,
        retry_after: int | None = None,
        description: str | None = None,
        times: int = 1,
        when: Callable[[JSON], bool] | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (``"*"`` means any method).

        A 429 answers ``Too Many Requests: retry after N`` with
        ``parameters.retry_after`` (``retry_after`` defaults to 1); other
        statuses use Telegram's usual description (500: ``Internal Server
        Error``) unless ``description`` is given. Failures queue up in order.
        With ``when``, only calls whose decoded parameters it accepts fail
        (``when=lambda p: "Approval" in p.get("text", "")``).
        """
        canonical = "*" if method == "*" else self._method_names.get(method.lower(), method)
        if status == 429:
            retry_after = 1 if retry_after is None else retry_after
            text = description or f"Too Many Requests: retry after {retry_after}"
        else:
            text = description or _DEFAULT_DESCRIPTIONS.get(status, "Error")
        self._failures.append(_Failure(canonical, status, text, retry_after, times, when))

    def rate_limit(
        self,
        method: str,
        per_second: float,
        *,
        retry_after: int | None = None,
        chat_id: int | None = None,
        window: float = 1.0,
    ) -> None:
        """Answer 429 to calls of ``method`` (``"*"``: all methods together) beyond
        ``per_second`` within any ``window`` seconds (one by default).

        With ``chat_id`` only calls to that chat count and are refused: Telegram's
        20 messages a minute in a group is ``rate_limit("*", 20, chat_id=group,
        window=60)``. ``retry_after`` defaults to the seconds until the window has
        room again (at least 1). Calls that are refused do not count.
        """
        canonical = "*" if method == "*" else self._method_names.get(method.lower(), method)
        self._rate_limits.append(_RateLimit(canonical, per_second, retry_after, chat_id, window))

    def clear_failures(self) -> None:
        """Forget every :meth:`fail_next` and :meth:`rate_limit`."""
        self._failures.clear()
        self._rate_limits.clear()

    def _injected_failure(self, method: str, params: JSON) -> ApiError | None:
        for failure in self._failures:
            if failure.method in (method, "*") and (failure.when is None or failure.when(params)):
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                extra = (
                    {"retry_after": failure.retry_after}
                    if failure.status == 429 and failure.retry_after is not None
                    else None
                )
                return ApiError(failure.status, failure.description, extra)
        now = time.monotonic()
        for limit in self._rate_limits:
            if limit.method not in (method, "*"):
                continue
            if limit.chat_id is not None and str(params.get("chat_id")) != str(limit.chat_id):
                continue
            while limit.stamps and limit.stamps[0] <= now - limit.window:
                limit.stamps.popleft()
            if len(limit.stamps) >= limit.per_second:
                wait = limit.retry_after or max(1, math.ceil(limit.stamps[0] + limit.window - now))
                return ApiError(
                    429, f"Too Many Requests: retry after {wait}", {"retry_after": wait}
                )
            limit.stamps.append(now)
        return None

    # ------------------------------------------------------------------ #
    # Chats and users (test side)
    # ------------------------------------------------------------------ #

    def user(
        self,
        user_id: int,
        first_name: str = "User",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> User:
        """Create (or return the existing) user with this id."""
        existing = self._users.get(user_id)
        if existing is not None:
            return existing
        created = User(
            id=user_id,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        self._users[user_id] = created
        return created

    def private_chat(
        self,
        user_id: int,
        first_name: str = "User",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> Chat:
        """Create the private chat between the bot and a user (chat id == user id).

        The user is available as ``chat.user`` (and via :meth:`user`).
        """
        user = self.user(
            user_id,
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        chat = Chat(
            id=user_id, type="private", first_name=user.first_name, username=username, user=user
        )
        return self._add_chat(chat)

    def group_chat(self, chat_id: int, title: str, *, bot_is_admin: bool = True) -> Chat:
        """Create a basic group. With ``bot_is_admin=False`` privacy mode applies."""
        return self._add_chat(
            Chat(id=chat_id, type="group", title=title, bot_is_admin=bot_is_admin)
        )

    def supergroup(
        self,
        chat_id: int,
        title: str,
        *,
        is_forum: bool = False,
        username: str | None = None,
        bot_is_admin: bool = True,
    ) -> Chat:
        """Create a supergroup; ``is_forum=True`` enables topics (:meth:`create_topic`)."""
        chat = Chat(
            id=chat_id,
            type="supergroup",
            title=title,
            is_forum=is_forum,
            username=username,
            bot_is_admin=bot_is_admin,
        )
        return self._add_chat(chat)

    def create_topic(self, chat: Chat | int, name: str, *, by: User | int | None = None) -> int:
        """Create a forum topic as a user would; return its ``message_thread_id``.

        Like on Telegram, the thread id is the id of the ``forum_topic_created``
        service message, and messages in the topic reply to that message. A topic
        created by a user is delivered to the bot as that service message.
        """
        target = self._chat(chat)
        if not target.is_forum:
            raise ValueError(f"chat {target.id} is not a forum (use supergroup(is_forum=True))")
        sender = self._user_of(by) if by is not None else self.bot
        service = self._store_message(
            target,
            sender=sender,
            from_bot=sender.id == self.bot.id,
            kind="service",
            extra={"forum_topic_created": {"name": name, "icon_color": 7322096}},
        )
        target.topics[service.message_id] = name
        service.thread_id = service.message_id
        service.is_topic_message = True
        if sender.id != self.bot.id:  # bots get service messages, never their own
            self._deliver_message(target, service)
        return service.message_id

    def rename_topic(
        self, chat: Chat | int, thread_id: int, name: str, *, by: User | int
    ) -> Injected:
        """Rename a forum topic as a user would; the bot gets ``forum_topic_edited``."""
        target = self._chat(chat)
        if thread_id not in target.topics:
            raise ValueError(f"forum {target.id} has no topic {thread_id}")
        target.topics[thread_id] = name
        service = self._store_message(
            target,
            sender=self._user_of(by),
            from_bot=False,
            kind="service",
            thread_id=thread_id,
            extra={"forum_topic_edited": {"name": name}},
        )
        return self._deliver_message(target, service)

    def block_bot(self, chat: Chat | int, blocked: bool = True) -> None:
        """Make sends to this private chat fail with 403 ``bot was blocked by the user``."""
        self._chat(chat).blocked = blocked

    def chat(self, chat_id: int) -> Chat:
        """Return a chat created earlier."""
        return self._chat(chat_id)

    def _add_chat(self, chat: Chat) -> Chat:
        self._chats[chat.id] = chat
        self._messages.setdefault(chat.id, {})
        self._next_message_id.setdefault(chat.id, 2 if chat.is_forum else 1)
        return chat

    def _chat(self, chat: Chat | int) -> Chat:
        cid = chat.id if isinstance(chat, Chat) else chat
        found = self._chats.get(cid)
        if found is None:
            raise KeyError(f"unknown chat {cid}; create it with private_chat/group_chat/supergroup")
        return found

    def _user_of(self, user: User | int) -> User:
        if isinstance(user, User):
            self._users.setdefault(user.id, user)
            return user
        return self.user(user)

    def _sender(self, chat: Chat, user: User | int | None) -> User:
        if user is not None:
            return self._user_of(user)
        if chat.user is not None:
            return chat.user
        raise ValueError(f"a user is needed to send in chat {chat.id} ({chat.type})")

    # ------------------------------------------------------------------ #
    # Injecting updates (test side)
    # ------------------------------------------------------------------ #

    def send_text(
        self,
        chat: Chat | int,
        user: User | int | None,
        text: str,
        *,
        thread_id: int | None = None,
        reply_to: int | None = None,
        entities: list[JSON] | None = None,
    ) -> Injected:
        """Inject a text message from ``user`` (``None``: the private chat's user).

        Bot commands (``/new api``, ``/start@bot``) get ``bot_command`` entities
        as Telegram adds them; pass ``entities`` to set them yourself.
        """
        target = self._chat(chat)
        sender = self._sender(target, user)
        message = self._store_user_message(
            target,
            sender,
            kind="text",
            thread_id=thread_id,
            reply_to=reply_to,
            text=text,
            entities=_detect_bot_commands(text) if entities is None else entities,
        )
        return self._deliver_message(target, message)

    def send_photo(
        self,
        chat: Chat | int,
        user: User | int | None,
        jpeg_bytes: bytes,
        caption: str | None = None,
        *,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> Injected:
        """Inject a photo: two sizes of the same bytes; :attr:`Injected.file_id` is the larger."""
        target = self._chat(chat)
        sender = self._sender(target, user)
        try:
            sizes = self._photo_sizes(jpeg_bytes, filename=None)
        except ApiError as exc:
            raise ValueError(f"not a usable image: {exc.description}") from exc
        message = self._store_user_message(
            target,
            sender,
            kind="photo",
            thread_id=thread_id,
            reply_to=reply_to,
            caption=caption,
            files=sizes,
        )
        return self._deliver_message(target, message)

    def send_document(
        self,
        chat: Chat | int,
        user: User | int | None,
        data: bytes,
        filename: str,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
        *,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> Injected:
        """Inject a document."""
        target = self._chat(chat)
        sender = self._sender(target, user)
        stored = self._store_file("document", data, filename=filename, mime_type=mime_type)
        message = self._store_user_message(
            target,
            sender,
            kind="document",
            thread_id=thread_id,
            reply_to=reply_to,
            caption=caption,
            files=[stored],
        )
        return self._deliver_message(target, message)

    def send_voice(
        self,
        chat: Chat | int,
        user: User | int | None,
        ogg_bytes: bytes,
        duration: int = 1,
        *,
        caption: str | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> Injected:
        """Inject a voice message (OGG/Opus, ``audio/ogg``)."""
        target = self._chat(chat)
        sender = self._sender(target, user)
        stored = self._store_file(
            "voice", ogg_bytes, mime_type="audio/ogg", meta={"duration": duration}
        )
        message = self._store_user_message(
            target,
            sender,
            kind="voice",
            thread_id=thread_id,
            reply_to=reply_to,
            caption=caption,
            files=[stored],
        )
        return self._deliver_message(target, message)

    def send_audio(
        self,
        chat: Chat | int,
        user: User | int | None,
        data: bytes,
        duration: int = 1,
        *,
        filename: str = "audio.mp3",
        mime_type: str = "audio/mpeg",
        title: str | None = None,
        performer: str | None = None,
        caption: str | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> Injected:
        """Inject an audio file (a music track, not a voice note)."""
        target = self._chat(chat)
        sender = self._sender(target, user)
        meta: JSON = {"duration": duration}
        if title is not None:
            meta["title"] = title
        if performer is not None:
            meta["performer"] = performer
        stored = self._store_file("audio", data, filename=filename, mime_type=mime_type, meta=meta)
        message = self._store_user_message(
            target,
            sender,
            kind="audio",
            thread_id=thread_id,
            reply_to=reply_to,
            caption=caption,
            files=[stored],
        )
        return self._deliver_message(target, message)

    def send_video_note(
        self,
        chat: Chat | int,
        user: User | int | None,
        data: bytes,
        duration: int = 1,
        length: int = 240,
        *,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> Injected:
        """Inject a round video note."""
        target = self._chat(chat)
        sender = self._sender(target, user)
        stored = self._store_file(
            "video_note", data, mime_type="video/mp4", meta={"duration": duration, "length": length}
        )
        message = self._store_user_message(
            target,
            sender,
            kind="video_note",
            thread_id=thread_id,
            reply_to=reply_to,
            files=[stored],
        )
        return self._deliver_message(target, message)

    def press_button(
        self,
        chat: Chat | int,
        user: User | int | None,
        message_id: int,
        callback_data: str | None = None,
        *,
        button_text: str | None = None,
    ) -> Injected:
        """Inject a ``callback_query``: the user presses an inline button.

        The button is found by ``callback_data`` (or by its label with
        ``button_text``) on the bot's message ``message_id``.

        Raises:
            LookupError: The message does not exist, was deleted, is not the
                bot's, or has no such button.
        """
        target = self._chat(chat)
        sender = self._sender(target, user)
        message = self._messages[target.id].get(message_id)
        if message is None or message.deleted or not message.from_bot:
            raise LookupError(f"no live bot message {message_id} in chat {target.id}")
        button: JSON | None = None
        for candidate in message.buttons:
            if callback_data is not None and candidate.get("callback_data") == callback_data:
                button = candidate
                break
            if (
                callback_data is None
                and button_text is not None
                and candidate.get("text") == button_text
            ):
                button = candidate
                break
        if button is None or "callback_data" not in button:
            raise LookupError(
                f"message {message_id} in chat {target.id} has no callback button "
                f"{callback_data or button_text!r}; buttons: {message.buttons}"
            )
        data = str(button["callback_data"])
        query_id = str(next(self._query_ids))
        self._queries[query_id] = _Query(target.id, message_id, data)
        query: JSON = {
            "id": query_id,
            "from": sender.to_json(),
            "message": self._message_json(message),
            "chat_instance": str(-(abs(target.id) * 7919 + 13)),
            "data": data,
        }
        update_id = next(self._update_ids)
        update: JSON = {"update_id": update_id, "callback_query": query}
        delivered = self._enqueue(update, "callback_query")
        injected = Injected(
            update_id=update_id, update=update, delivered=delivered, callback_query_id=query_id
        )
        self.injected.append(injected)
        self._notify()
        return injected

    def inject_update(self, payload: JSON) -> Injected:
        """Queue any other update (``{"my_chat_member": {...}}``); ``update_id`` is added."""
        kinds = [key for key in payload if key != "update_id"]
        if len(kinds) != 1:
            raise ValueError("an update has exactly one payload field")
        update_id = next(self._update_ids)
        update: JSON = {"update_id": update_id, **copy.deepcopy(payload)}
        update["update_id"] = update_id
        delivered = self._enqueue(update, kinds[0])
        injected = Injected(update_id=update_id, update=update, delivered=delivered)
        self.injected.append(injected)
        self._notify()
        return injected

    def _store_user_message(
        self,
        chat: Chat,
        sender: User,
        *,
        kind: str,
        thread_id: int | None,
        reply_to: int | None,
        text: str | None = None,
        entities: list[JSON] | None = None,
        caption: str | None = None,
        files: list[StoredFile] | None = None,
    ) -> StoredMessage:
        if (
            thread_id is not None
            and chat.is_forum
            and thread_id != GENERAL_TOPIC_ID
            and thread_id not in chat.topics
        ):
            raise ValueError(
                f"forum {chat.id} has no topic {thread_id}; create it with create_topic()"
            )
        if reply_to is not None:
            replied = self._messages[chat.id].get(reply_to)
            if replied is None or replied.deleted:
                raise ValueError(f"no message {reply_to} in chat {chat.id} to reply to")
            if thread_id is None and replied.is_topic_message:
                thread_id = replied.thread_id
        return self._store_message(
            chat,
            sender=sender,
            from_bot=False,
            kind=kind,
            thread_id=thread_id,
            reply_to=reply_to,
            text=text,
            entities=entities or [],
            caption=caption,
            caption_entities=_detect_bot_commands(caption) if caption else [],
            files=files or [],
        )

    def _deliver_message(self, chat: Chat, message: StoredMessage) -> Injected:
        update_id = next(self._update_ids)
        message_json = self._message_json(message)
        update: JSON = {"update_id": update_id, "message": message_json}
        delivered = self._bot_sees(chat, message) and self._enqueue(update, "message")
        file_id = message.file.file_id if message.file is not None else None
        injected = Injected(
            update_id=update_id,
            update=update,
            delivered=delivered,
            message=message_json,
            message_id=message.message_id,
            file_id=file_id,
        )
        self.injected.append(injected)
        self._notify()
        return injected

    def _bot_sees(self, chat: Chat, message: StoredMessage) -> bool:
        """Group privacy mode: what a non-admin bot receives in groups."""
        if chat.type == "private" or chat.bot_is_admin or not self.privacy_mode:
            return True
        if message.kind == "service":  # every bot receives service messages
            return True
        content = message.content
        if content.startswith("/"):
            return True
        if self.bot.username and f"@{self.bot.username}".lower() in content.lower():
            return True
        if message.reply_to_message_id is not None:
            replied = self._messages[chat.id].get(message.reply_to_message_id)
            if replied is not None and replied.from_bot and replied.kind != "service":
                return True
        return False

    def _enqueue(self, update: JSON, kind: str) -> bool:
        """Queue an update for ``getUpdates`` unless ``allowed_updates`` filters it out."""
        allowed = self._allowed_updates
        if allowed:
            if kind not in allowed:
                return False
        elif kind in _DEFAULT_UPDATE_TYPES_EXCLUDED:
            return False
        self._pending.append(update)
        self._wake_pollers()
        return True

    # ------------------------------------------------------------------ #
    # Reading what the bot did (test side)
    # ------------------------------------------------------------------ #

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """The recorded calls, optionally of one method (case-insensitive)."""
        if method is None:
            return list(self.sent)
        wanted = self._method_names.get(method.lower(), method)
        return [call for call in self.sent if call.method == wanted]

    def messages(self, chat_id: Chat | int, thread_id: int | None = None) -> list[StoredMessage]:
        """The bot's messages in a chat (deleted ones too, flagged), oldest first.

        With ``thread_id``, only those in that forum topic.
        """
        cid = chat_id.id if isinstance(chat_id, Chat) else chat_id
        return [
            message
            for message in self._messages.get(cid, {}).values()
            if message.from_bot
            and message.kind != "service"
            and (thread_id is None or message.thread_id == thread_id)
        ]

    def all_messages(self, chat_id: Chat | int) -> list[StoredMessage]:
        """Every message in a chat: the bot's, the users' and service messages."""
        cid = chat_id.id if isinstance(chat_id, Chat) else chat_id
        return list(self._messages.get(cid, {}).values())

    def message(self, chat_id: Chat | int, message_id: int) -> StoredMessage:
        """One message by id (any sender)."""
        cid = chat_id.id if isinstance(chat_id, Chat) else chat_id
        return self._messages[cid][message_id]

    def last_message(
        self, chat_id: Chat | int, thread_id: int | None = None
    ) -> StoredMessage | None:
        """The bot's most recent message in the chat that is not deleted."""
        live = [m for m in self.messages(chat_id, thread_id) if not m.deleted]
        return live[-1] if live else None

    @property
    def commands(self) -> list[JSON]:
        """Commands set for the default scope and no language (``setMyCommands``)."""
        return self.commands_for()

    def commands_for(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """Commands set for a scope (``{"type": "all_private_chats"}``, ...) and language."""
        return copy.deepcopy(self._commands.get((_scope_key(scope), language_code), []))

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates queued and not yet confirmed by a ``getUpdates`` offset."""
        return list(self._pending)

    @property
    def allowed_updates(self) -> list[str] | None:
        """The ``allowed_updates`` setting last sent by the bot (``None``: never)."""
        return None if self._allowed_updates is None else list(self._allowed_updates)

    def drafts_for(self, chat_id: Chat | int, draft_id: int | None = None) -> list[Draft]:
        """The drafts streamed to one chat (optionally one draft id), in order."""
        cid = chat_id.id if isinstance(chat_id, Chat) else chat_id
        return [
            d
            for d in self.drafts
            if d.chat_id == cid and (draft_id is None or d.draft_id == draft_id)
        ]

    def download(self, file_id: str) -> bytes:
        """The bytes of a known file."""
        return self.files[file_id].data

    # ------------------------------------------------------------------ #
    # HTTP
    # ------------------------------------------------------------------ #

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/file/bot"):
            return self._handle_file(path[len("/file/bot") :])
        if not path.startswith("/bot"):
            return _json_response(404, ApiError(404, "Not Found").body())
        token, sep, method = path[len("/bot") :].partition("/")
        if not sep or not method or "/" in method:
            return _json_response(404, ApiError(404, "Not Found").body())
        canonical = self._method_names.get(method.lower())
        call = ApiCall(
            method=canonical or method,
            params={},
            raw={},
            files={},
            time=time.monotonic(),
            http_method=request.method,
            content_type=request.content_type,
        )
        try:
            raw, files = await _read_params(request)
            call.raw = raw
            call.files = files
            call.params = _decode_for_record(raw, files)
        except ApiError as exc:
            self.sent.append(call)
            return self._finish(call, exc.status, exc.body())
        self.sent.append(call)
        self._notify()
        try:
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            if canonical is None:
                raise ApiError(404, "Not Found: method not found")
            failure = self._injected_failure(canonical, call.params)
            if failure is not None:
                raise failure
            if canonical != "getUpdates":
                if self.gate is not None:
                    await self.gate.wait()
                if self.latency:
                    await asyncio.sleep(self.latency)  # a network round trip
            result = await self._handlers[canonical](_Params(raw, files), call)
        except ApiError as exc:
            return self._finish(call, exc.status, exc.body())
        except asyncio.CancelledError:
            call.status = 0
            call.finished = time.monotonic()
            self._notify()
            raise
        except Exception as exc:  # a bug in the fake: answer 500 and keep it for the test
            self.internal_errors.append(exc)
            description = f"Internal Server Error: FakeTelegram crashed: {exc!r}"
            return self._finish(call, 500, ApiError(500, description).body())
        return self._finish(call, 200, {"ok": True, "result": result})

    def _finish(self, call: ApiCall, status: int, body: JSON) -> web.Response:
        call.status = status
        call.response = body
        call.finished = time.monotonic()
        self._notify()
        return _json_response(status, body)

    def _handle_file(self, rest: str) -> web.Response:
        token, sep, file_path = rest.partition("/")
        if token != self.token:
            return _json_response(401, ApiError(401, "Unauthorized").body())
        for stored in self.files.values():
            if sep and stored.file_path == file_path:
                return web.Response(
                    body=stored.data,
                    content_type=stored.mime_type or "application/octet-stream",
                )
        return _json_response(404, ApiError(404, "Not Found").body())

    # ------------------------------------------------------------------ #
    # Shared pieces of method handlers
    # ------------------------------------------------------------------ #

    def _resolve_chat(self, p: _Params, *, for_sending: bool = True) -> Chat:
        value = p.raw.get("chat_id")
        if value is None or value == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat: Chat | None = None
        if isinstance(value, str) and value.strip().startswith("@"):
            name = value.strip()[1:].lower()
            chat = next(
                (c for c in self._chats.values() if (c.username or "").lower() == name), None
            )
        else:
            try:
                chat = self._chats.get(int(value))
            except (TypeError, ValueError):
                chat = None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if for_sending and chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _resolve_thread(self, chat: Chat, p: _Params) -> tuple[int | None, bool]:
        """Return ``(message_thread_id, is_topic_message)`` for a send."""
        thread_id = p.integer("message_thread_id")
        if thread_id is None:
            return None, False
        if not chat.is_forum:
            return thread_id, False
        if thread_id == GENERAL_TOPIC_ID:
            return None, False
        if thread_id not in chat.topics:
            raise ApiError(400, "Bad Request: message thread not found")
        if thread_id in chat.closed_topics and not chat.bot_is_admin:
            raise ApiError(400, "Bad Request: TOPIC_CLOSED")
        return thread_id, True

    def _placement(self, chat: Chat, p: _Params) -> tuple[int | None, int | None]:
        """Return ``(message_thread_id, reply_to_message_id)`` for a new bot message.

        A reply to a forum topic message without ``message_thread_id`` lands in
        that topic, as on Telegram.
        """
        thread_id, _ = self._resolve_thread(chat, p)
        replied = self._resolve_reply(chat, p)
        if replied is None:
            return thread_id, None
        if thread_id is None and replied.is_topic_message:
            thread_id = replied.thread_id
        return thread_id, replied.message_id

    def _resolve_reply(self, chat: Chat, p: _Params) -> StoredMessage | None:
        params = p.json("reply_parameters", "reply parameters")
        allow_missing = p.flag("allow_sending_without_reply")
        if isinstance(params, dict):
            target = params.get("message_id")
            if params.get("chat_id") not in (None, chat.id, str(chat.id)):
                raise ApiError(400, "Bad Request: cross-chat replies are not supported by the fake")
            allow_missing = bool(params.get("allow_sending_without_reply", allow_missing))
        elif params is not None:
            raise ApiError(400, "Bad Request: can't parse reply parameters JSON object")
        else:
            target = p.integer("reply_to_message_id")
        if target is None:
            return None
        try:
            replied = self._messages[chat.id].get(int(target))
        except (TypeError, ValueError):
            replied = None
        if replied is None or replied.deleted:
            if allow_missing:
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return replied

    def _format(
        self,
        p: _Params,
        text_field: str,
        entities_field: str,
        *,
        limit: int,
        too_long: str,
        empty: str | None,
    ) -> tuple[str | None, list[JSON], str | None, str | None]:
        """Parse a text/caption field: ``(plain, entities, raw, parse_mode)``.

        ``empty`` is the error for a missing or blank text, or ``None`` when the
        field is optional (then ``plain`` is ``None`` if it was not given).
        """
        raw = p.text(text_field)
        parse_mode = p.text("parse_mode") or None
        entities_raw = p.json(entities_field, "entities")
        if raw is None or raw == "":
            if empty is not None:
                raise ApiError(400, empty)
            return None, [], raw, parse_mode
        plain, entities = parse_formatted(
            raw,
            None if entities_raw is not None else parse_mode,
            entities_raw,
            strict_ampersand=self.strict_html_ampersand,
        )
        if not plain and empty is not None:
            raise ApiError(400, empty)
        if utf16_len(plain) > limit:
            raise ApiError(400, too_long)
        return plain, entities, raw, parse_mode

    def _reply_markup(self, p: _Params, *, inline_only: bool = False) -> JSON | None:
        markup = p.json("reply_markup", "reply keyboard markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            _validate_inline_keyboard(markup["inline_keyboard"])
            return markup
        if inline_only:
            raise ApiError(400, "Bad Request: inline keyboard expected")
        if not any(k in markup for k in ("keyboard", "remove_keyboard", "force_reply")):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        return markup

    def _editable(self, p: _Params, *, missing: str) -> StoredMessage:
        if p.has("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._resolve_chat(p, for_sending=False)
        message_id = p.integer("message_id")
        if message_id is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        message = self._messages[chat.id].get(message_id)
        if message is None or message.deleted:
            raise ApiError(400, missing)
        return message

    def _store_message(
        self,
        chat: Chat,
        *,
        sender: User,
        from_bot: bool,
        kind: str,
        thread_id: int | None = None,
        is_topic_message: bool | None = None,
        reply_to: int | None = None,
        text: str | None = None,
        entities: list[JSON] | None = None,
        raw_text: str | None = None,
        parse_mode: str | None = None,
        caption: str | None = None,
        caption_entities: list[JSON] | None = None,
        raw_caption: str | None = None,
        reply_markup: JSON | None = None,
        files: list[StoredFile] | None = None,
        extra: JSON | None = None,
    ) -> StoredMessage:
        message_id = self._next_message_id[chat.id]
        self._next_message_id[chat.id] = message_id + 1
        topic = chat.is_forum and thread_id is not None and thread_id != GENERAL_TOPIC_ID
        if chat.is_forum and thread_id == GENERAL_TOPIC_ID:
            thread_id = None
        now = time.monotonic()
        message = StoredMessage(
            chat_id=chat.id,
            message_id=message_id,
            from_bot=from_bot,
            kind=kind,
            date=int(time.time()),
            sender=sender,
            thread_id=thread_id,
            is_topic_message=topic if is_topic_message is None else is_topic_message,
            text=text,
            entities=entities or [],
            raw_text=raw_text,
            parse_mode=parse_mode,
            caption=caption,
            caption_entities=caption_entities or [],
            raw_caption=raw_caption,
            reply_markup=reply_markup,
            reply_to_message_id=reply_to
            if reply_to is not None
            else (thread_id if topic else None),
            files=files or [],
            extra=extra or {},
            sent_at=now,
            updated_at=now,
        )
        self._messages[chat.id][message_id] = message
        return message

    def _message_json(self, message: StoredMessage, *, with_reply: bool = True) -> JSON:
        chat = self._chats[message.chat_id]
        out: JSON = {
            "message_id": message.message_id,
            "from": message.sender.to_json(),
            "chat": chat.to_json(),
            "date": message.date,
        }
        if message.thread_id is not None:
            out["message_thread_id"] = message.thread_id
            if message.is_topic_message:
                out["is_topic_message"] = True
        if with_reply and message.reply_to_message_id is not None:
            replied = self._messages[chat.id].get(message.reply_to_message_id)
            if replied is not None:
                out["reply_to_message"] = self._message_json(replied, with_reply=False)
        if message.edit_date is not None:
            out["edit_date"] = message.edit_date
        if message.text is not None:
            out["text"] = message.text
            if message.entities:
                out["entities"] = copy.deepcopy(message.entities)
        if message.kind == "photo":
            out["photo"] = [f.to_json() for f in message.files]
        elif message.file is not None:
            out[message.kind] = message.file.to_json()
        if message.caption:
            out["caption"] = message.caption
            if message.caption_entities:
                out["caption_entities"] = copy.deepcopy(message.caption_entities)
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            out["reply_markup"] = {
                "inline_keyboard": copy.deepcopy(message.reply_markup["inline_keyboard"])
            }
        out.update(copy.deepcopy(message.extra))
        return out

    def _store_file(
        self,
        kind: str,
        data: bytes,
        *,
        filename: str | None = None,
        mime_type: str | None = None,
        meta: JSON | None = None,
    ) -> StoredFile:
        number = next(self._file_ids)
        extension = None
        if filename and "." in filename:
            extension = filename.rsplit(".", 1)[1]
        extension = extension or _DEFAULT_EXTENSION.get(kind, "bin")
        stored = StoredFile(
            file_id=f"{_FILE_ID_PREFIX.get(kind, 'BQACAgIAAxkBAAI')}{number:06d}",
            file_unique_id=f"AgAD{number:06d}",
            data=data,
            kind=kind,
            file_path=f"{_FILE_FOLDER.get(kind, 'documents')}/file_{number}.{extension}",
            filename=filename,
            mime_type=mime_type or _DEFAULT_MIME.get(kind),
            meta=dict(meta or {}),
        )
        self.files[stored.file_id] = stored
        return stored

    def _photo_sizes(self, data: bytes, *, filename: str | None) -> list[StoredFile]:
        size = _image_size(data)
        if size is None:
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        width, height = size
        if (
            width <= 0
            or height <= 0
            or width + height > 10000
            or max(width, height) > 20 * min(width, height)
        ):
            raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        scale = 90 / max(width, height)
        thumb = (max(1, round(width * scale)), max(1, round(height * scale)))
        sizes = [
            self._store_file(
                "photo", data, filename=filename, meta={"width": thumb[0], "height": thumb[1]}
            ),
            self._store_file(
                "photo", data, filename=filename, meta={"width": width, "height": height}
            ),
        ]
        for stored in sizes:
            self._photo_groups[stored.file_id] = sizes
        return sizes

    def _input_file(self, p: _Params, name: str, kind: str) -> list[StoredFile]:
        """Resolve an InputFile parameter: an upload, ``attach://`` part, or a file_id."""
        value = p.raw.get(name)
        upload = p.files.get(name)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = p.files.get(value[len("attach://") :])
            if upload is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if upload is not None:
            if not upload.data:
                raise ApiError(400, "Bad Request: file must be non-empty")
            if kind == "photo":
                return self._photo_sizes(upload.data, filename=upload.filename)
            meta: JSON = {}
            for key in ("duration", "width", "height", "length"):
                number = p.integer(key)
                if number is not None:
                    meta[key] = number
            for key in ("title", "performer"):
                text = p.text(key)
                if text:
                    meta[key] = text
            for key, value in _MEDIA_DEFAULTS.get(kind, {}).items():
                meta.setdefault(key, value)
            mime = upload.content_type
            if kind == "voice" and mime in (None, "application/octet-stream"):
                mime = "audio/ogg"
            return [
                self._store_file(
                    kind,
                    upload.data,
                    filename=upload.filename,
                    mime_type=mime,
                    meta=meta,
                )
            ]
        if value is None or value == "":
            raise ApiError(400, f"Bad Request: there is no {name} in the request")
        if not isinstance(value, str):
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        known = self.files.get(value)
        if known is not None:
            if known.kind != kind:
                raise ApiError(
                    400,
                    f"Bad Request: can't use file of type {_title(known.kind)} as {_title(kind)}",
                )
            return list(self._photo_groups.get(known.file_id, [known]))
        if value.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: failed to get HTTP URL content")
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    # ------------------------------------------------------------------ #
    # Method handlers
    # ------------------------------------------------------------------ #

    async def _true(self, p: _Params, call: ApiCall) -> Any:
        return True

    async def _get_me(self, p: _Params, call: ApiCall) -> Any:
        out = self.bot.to_json()
        out.update(
            {
                "can_join_groups": True,
                "can_read_all_group_messages": not self.privacy_mode,
                "supports_inline_queries": False,
                "can_connect_to_business": False,
                "has_main_web_app": False,
            }
        )
        return out

    async def _get_updates(self, p: _Params, call: ApiCall) -> Any:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = p.integer("offset")
        limit = min(max(p.integer("limit") or 100, 1), 100)
        timeout = max(p.number("timeout") or 0.0, 0.0)
        allowed = p.json("allowed_updates", "allowed updates")
        if allowed is not None:
            if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
                raise ApiError(400, "Bad Request: can't parse allowed updates JSON object")
            self._allowed_updates = list(allowed)
        if offset is not None:
            if offset < 0:
                self._pending = self._pending[offset:]
            elif offset > 0:
                self._pending = [u for u in self._pending if u["update_id"] >= offset]
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._closing:
                return []
            if generation != self._poll_generation:
                raise ApiError(409, POLL_CONFLICT)
            if self._pending:
                return copy.deepcopy(self._pending[:limit])
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            wakeup = self._poll_wakeup
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), remaining)

    async def _set_webhook(self, p: _Params, call: ApiCall) -> Any:
        url = p.text("url") or ""
        if url and not url.startswith("https://"):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        self.webhook_url = url
        if p.flag("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _delete_webhook(self, p: _Params, call: ApiCall) -> Any:
        self.webhook_url = ""
        if p.flag("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _get_webhook_info(self, p: _Params, call: ApiCall) -> Any:
        out: JSON = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self._allowed_updates is not None:
            out["allowed_updates"] = list(self._allowed_updates)
        return out

    async def _set_my_commands(self, p: _Params, call: ApiCall) -> Any:
        commands = p.json("commands", "commands")
        if commands is None:
            raise ApiError(400, 'Bad Request: parameter "commands" is required')
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands specified")
        cleaned: list[JSON] = []
        for item in commands:
            if not isinstance(item, dict):
                raise ApiError(400, "Bad Request: can't parse BotCommand: object expected")
            command = item.get("command")
            description = item.get("description")
            if not isinstance(command, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", command):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        scope = p.json("scope", "scope")
        self._check_scope(scope)
        key = (_scope_key(scope), p.text("language_code") or "")
        self._commands[key] = cleaned
        return True

    def _check_scope(self, scope: object) -> None:
        """Refuse a ``BotCommandScope`` Telegram would: unknown type, unknown chat."""
        if scope is None:
            return
        kind = scope.get("type") if isinstance(scope, dict) else None
        if kind not in _SCOPE_TYPES:
            raise ApiError(400, "Bad Request: can't parse BotCommandScope")
        if kind in ("chat", "chat_administrators", "chat_member"):
            assert isinstance(scope, dict)
            chat_id = scope.get("chat_id")
            if not isinstance(chat_id, int) or chat_id not in self._chats:
                raise ApiError(400, "Bad Request: chat not found")

    async def _get_my_commands(self, p: _Params, call: ApiCall) -> Any:
        key = (_scope_key(p.json("scope", "scope")), p.text("language_code") or "")
        return copy.deepcopy(self._commands.get(key, []))

    async def _delete_my_commands(self, p: _Params, call: ApiCall) -> Any:
        key = (_scope_key(p.json("scope", "scope")), p.text("language_code") or "")
        self._commands.pop(key, None)
        return True

    async def _get_chat(self, p: _Params, call: ApiCall) -> Any:
        chat = self._resolve_chat(p, for_sending=False)
        out = chat.to_json()
        out.update({"accent_color_id": 0, "max_reaction_count": 11})
        return out

    async def _send_message(self, p: _Params, call: ApiCall) -> Any:
        chat = self._resolve_chat(p)
        thread_id, reply_to = self._placement(chat, p)
        text, entities, raw, parse_mode = self._format(
            p,
            "text",
            "entities",
            limit=MAX_TEXT_LENGTH,
            too_long="Bad Request: message is too long",
            empty="Bad Request: message text is empty",
        )
        markup = self._reply_markup(p)
        message = self._store_message(
            chat,
            sender=self.bot,
            from_bot=True,
            kind="text",
            thread_id=thread_id,
            reply_to=reply_to,
            text=text,
            entities=entities,
            raw_text=raw,
            parse_mode=parse_mode,
            reply_markup=markup,
        )
        message.silent = p.flag("disable_notification")
        return self._message_json(message)

    def _media_sender(self, kind: str) -> _Handler:
        async def handler(p: _Params, call: ApiCall) -> Any:
            chat = self._resolve_chat(p)
            thread_id, reply_to = self._placement(chat, p)
            caption, caption_entities, raw_caption, parse_mode = self._format(
                p,
                "caption",
                "caption_entities",
                limit=MAX_CAPTION_LENGTH,
                too_long="Bad Request: message caption is too long",
                empty=None,
            )
            markup = self._reply_markup(p)
            files = self._input_file(p, kind, kind)
            message = self._store_message(
                chat,
                sender=self.bot,
                from_bot=True,
                kind=kind,
                thread_id=thread_id,
                reply_to=reply_to,
                caption=caption,
                caption_entities=caption_entities,
                raw_caption=raw_caption,
                parse_mode=parse_mode,
                reply_markup=markup,
                files=files,
            )
            message.silent = p.flag("disable_notification")
            return self._message_json(message)

        return handler

    def _apply_edit(self, message: StoredMessage, change: Callable[[], None]) -> JSON:
        before = message.snapshot(time.monotonic())
        change()
        message.history.append(before)
        message.edit_date = int(time.time())
        message.updated_at = time.monotonic()
        return self._message_json(message)

    async def _edit_message_text(self, p: _Params, call: ApiCall) -> Any:
        message = self._editable(p, missing="Bad Request: message to edit not found")
        if not message.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        if message.kind != "text":
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities, raw, parse_mode = self._format(
            p,
            "text",
            "entities",
            limit=MAX_TEXT_LENGTH,
            too_long="Bad Request: message is too long",
            empty="Bad Request: message text is empty",
        )
        markup = self._reply_markup(p, inline_only=True)
        if (
            text == message.text
            and entities == message.entities
            and _inline(markup) == _inline(message.reply_markup)
        ):
            raise ApiError(400, NOT_MODIFIED)

        def change() -> None:
            message.text = text
            message.entities = entities
            message.raw_text = raw
            message.parse_mode = parse_mode
            message.reply_markup = markup

        return self._apply_edit(message, change)

    async def _edit_message_caption(self, p: _Params, call: ApiCall) -> Any:
        message = self._editable(p, missing="Bad Request: message to edit not found")
        if not message.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        if message.kind in ("text", "service"):
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption, entities, raw, parse_mode = self._format(
            p,
            "caption",
            "caption_entities",
            limit=MAX_CAPTION_LENGTH,
            too_long="Bad Request: message caption is too long",
            empty=None,
        )
        markup = self._reply_markup(p, inline_only=True)
        if (
            (caption or None) == (message.caption or None)
            and entities == message.caption_entities
            and _inline(markup) == _inline(message.reply_markup)
        ):
            raise ApiError(400, NOT_MODIFIED)

        def change() -> None:
            message.caption = caption
            message.caption_entities = entities
            message.raw_caption = raw
            message.parse_mode = parse_mode
            message.reply_markup = markup

        return self._apply_edit(message, change)

    async def _edit_message_reply_markup(self, p: _Params, call: ApiCall) -> Any:
        message = self._editable(p, missing="Bad Request: message to edit not found")
        if not message.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        markup = self._reply_markup(p, inline_only=True)
        if _inline(markup) == _inline(message.reply_markup):
            raise ApiError(400, NOT_MODIFIED)

        def change() -> None:
            message.reply_markup = markup

        return self._apply_edit(message, change)

    def _delete_one(self, chat: Chat, message_id: int | None) -> StoredMessage:
        message = self._messages[chat.id].get(message_id) if message_id is not None else None
        if message is None or message.deleted:
            raise ApiError(400, "Bad Request: message to delete not found")
        if not message.from_bot and chat.type != "private" and not chat.bot_is_admin:
            raise ApiError(400, "Bad Request: message can't be deleted")
        return message

    async def _delete_message(self, p: _Params, call: ApiCall) -> Any:
        chat = self._resolve_chat(p, for_sending=False)
        message = self._delete_one(chat, p.integer("message_id"))
        message.deleted = True
        message.updated_at = time.monotonic()
        return True

    async def _delete_messages(self, p: _Params, call: ApiCall) -> Any:
        chat = self._resolve_chat(p, for_sending=False)
        ids = p.json("message_ids", "message identifiers")
        if not isinstance(ids, list) or not ids or len(ids) > 100:
            raise ApiError(400, "Bad Request: message identifiers are not specified")
        for message_id in ids:
            try:
                message = self._delete_one(chat, int(message_id))
            except (ApiError, TypeError, ValueError):
                continue
            message.deleted = True
            message.updated_at = time.monotonic()
        return True

    async def _pin_chat_message(self, p: _Params, call: ApiCall) -> Any:
        chat = self._resolve_chat(p, for_sending=False)
        message_id = p.integer("message_id")
        message = self._messages[chat.id].get(message_id) if message_id is not None else None
        if message is None or message.deleted:
            raise ApiError(400, "Bad Request: message to pin not found")
        if chat.type != "private" and not chat.bot_is_admin:
            raise ApiError(
                400, "Bad Request: not enough rights to manage pinned messages in the chat"
            )
        message.extra["pinned"] = True
        message.updated_at = time.monotonic()
        return True

    async def _unpin_chat_message(self, p: _Params, call: ApiCall) -> Any:
        chat = self._resolve_chat(p, for_sending=False)
        for message in self._messages[chat.id].values():
            if p.integer("message_id") in (None, message.message_id):
                message.extra.pop("pinned", None)
        return True

    async def _answer_callback_query(self, p: _Params, call: ApiCall) -> Any:
        query_id = p.text("callback_query_id") or ""
        query = self._queries.get(query_id)
        if query is None or query.answered:
            raise ApiError(400, QUERY_TOO_OLD)
        text = p.text("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query.answered = True
        self.callback_answers.append(
            CallbackAnswer(
                callback_query_id=query_id,
                text=text,
                show_alert=p.flag("show_alert"),
                url=p.text("url"),
                cache_time=p.integer("cache_time"),
                chat_id=query.chat_id,
                message_id=query.message_id,
                data=query.data,
                time=call.time,
            )
        )
        return True

    async def _send_chat_action(self, p: _Params, call: ApiCall) -> Any:
        chat = self._resolve_chat(p)
        thread_id, _ = self._resolve_thread(chat, p)
        action = p.text("action")
        if not action:
            raise ApiError(400, 'Bad Request: parameter "action" is required')
        if action not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        self.chat_actions.append(ChatAction(chat.id, action, thread_id, call.time))
        return True

    async def _send_message_draft(self, p: _Params, call: ApiCall) -> Any:
        chat = self._resolve_chat(p)
        if chat.type != "private":
            raise ApiError(400, "Bad Request: TEXTDRAFT_PEER_INVALID")
        draft_id = p.integer("draft_id")
        if not draft_id:
            raise ApiError(400, "Bad Request: draft_id must be non-zero")
        thread_id = p.integer("message_thread_id")
        text, entities, raw, parse_mode = self._format(
            p,
            "text",
            "entities",
            limit=MAX_TEXT_LENGTH,
            too_long="Bad Request: message is too long",
            empty=None,
        )
        self.drafts.append(
            Draft(
                chat_id=chat.id,
                draft_id=draft_id,
                text=text or "",
                entities=entities,
                raw_text=raw,
                parse_mode=parse_mode,
                thread_id=thread_id,
                params=dict(call.params),
                time=call.time,
            )
        )
        return True

    async def _set_message_reaction(self, p: _Params, call: ApiCall) -> Any:
        chat = self._resolve_chat(p, for_sending=False)
        message_id = p.integer("message_id")
        message = self._messages[chat.id].get(message_id) if message_id is not None else None
        if message is None or message.deleted:
            raise ApiError(400, "Bad Request: message to react not found")
        reaction = p.json("reaction", "reaction") or []
        if not isinstance(reaction, list):
            raise ApiError(400, "Bad Request: can't parse reaction types JSON object")
        if len(reaction) > 1:
            raise ApiError(400, "Bad Request: REACTIONS_TOO_MANY")
        for item in reaction:
            if not isinstance(item, dict):
                raise ApiError(400, "Bad Request: can't parse ReactionType: object expected")
            kind = item.get("type")
            if kind == "emoji":
                if item.get("emoji") not in ALLOWED_REACTIONS:
                    raise ApiError(400, "Bad Request: REACTION_INVALID")
            elif kind == "custom_emoji":
                if not str(item.get("custom_emoji_id", "")).isdigit():
                    raise ApiError(400, "Bad Request: REACTION_INVALID")
            elif kind != "paid":
                raise ApiError(400, "Bad Request: REACTION_INVALID")
        message.reactions = copy.deepcopy(reaction)
        message.updated_at = time.monotonic()
        self.reactions.append(
            Reaction(
                chat.id, message.message_id, copy.deepcopy(reaction), p.flag("is_big"), call.time
            )
        )
        return True

    async def _get_file(self, p: _Params, call: ApiCall) -> Any:
        file_id = p.text("file_id")
        if not file_id:
            raise ApiError(400, "Bad Request: file_id not specified")
        stored = self.files.get(file_id)
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if stored.size > MAX_DOWNLOAD_BYTES:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    def _forum(self, p: _Params) -> Chat:
        chat = self._resolve_chat(p, for_sending=False)
        if not chat.is_forum:
            raise ApiError(400, "Bad Request: the chat is not a forum")
        if not chat.bot_is_admin:
            raise ApiError(400, "Bad Request: not enough rights to manage topics")
        return chat

    def _topic(self, chat: Chat, p: _Params) -> int:
        thread_id = p.integer("message_thread_id")
        if thread_id is None or thread_id not in chat.topics:
            raise ApiError(400, "Bad Request: message thread not found")
        return thread_id

    async def _create_forum_topic(self, p: _Params, call: ApiCall) -> Any:
        chat = self._forum(p)
        name = p.text("name") or ""
        if not 1 <= len(name) <= 128:
            raise ApiError(
                400,
                "Bad Request: TOPIC_TITLE_EMPTY"
                if not name
                else "Bad Request: TOPIC_TITLE_TOO_LONG",
            )
        icon_color = p.integer("icon_color") or 7322096
        thread_id = self.create_topic(chat, name)
        topic = self._messages[chat.id][thread_id]
        topic.extra["forum_topic_created"]["icon_color"] = icon_color
        out: JSON = {"message_thread_id": thread_id, "name": name, "icon_color": icon_color}
        emoji = p.text("icon_custom_emoji_id")
        if emoji:
            out["icon_custom_emoji_id"] = emoji
        return out

    async def _edit_forum_topic(self, p: _Params, call: ApiCall) -> Any:
        chat = self._forum(p)
        thread_id = self._topic(chat, p)
        name = p.text("name")
        if name:
            chat.topics[thread_id] = name
        return True

    async def _close_forum_topic(self, p: _Params, call: ApiCall) -> Any:
        chat = self._forum(p)
        chat.closed_topics.add(self._topic(chat, p))
        return True

    async def _reopen_forum_topic(self, p: _Params, call: ApiCall) -> Any:
        chat = self._forum(p)
        chat.closed_topics.discard(self._topic(chat, p))
        return True

    async def _delete_forum_topic(self, p: _Params, call: ApiCall) -> Any:
        chat = self._forum(p)
        thread_id = self._topic(chat, p)
        del chat.topics[thread_id]
        chat.closed_topics.discard(thread_id)
        now = time.monotonic()
        for message in self._messages[chat.id].values():
            if message.thread_id == thread_id:
                message.deleted = True
                message.updated_at = now
        return True


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #


def _json_response(status: int, body: JSON) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        content_type="application/json",
    )


async def _read_params(request: web.Request) -> tuple[JSON, dict[str, Upload]]:
    """Read query string and body parameters (JSON, urlencoded or multipart)."""
    raw: JSON = dict(request.query)
    files: dict[str, Upload] = {}
    if request.method not in ("POST", "PUT") or not request.body_exists:
        return raw, files
    content_type = request.content_type
    try:
        if content_type == "application/json":
            try:
                body = json.loads(await request.read() or b"{}")
            except ValueError as exc:
                raise ApiError(400, "Bad Request: can't parse JSON encoded request body") from exc
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: request body must be a JSON object")
            raw.update(body)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = Upload(
                        name=key,
                        filename=value.filename,
                        content_type=value.content_type,
                        data=value.file.read(),
                    )
                elif isinstance(value, bytes):
                    raw[key] = value.decode("utf-8", "replace")
                else:
                    raw[key] = value
    except web.HTTPRequestEntityTooLarge as exc:
        raise ApiError(413, "Request Entity Too Large") from exc
    return raw, files


def _validate_inline_keyboard(rows: object) -> None:
    """Telegram's checks on ``inline_keyboard`` (text, exactly one action, data size)."""
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError(400, 'Bad Request: field "inline_keyboard" must be an Array of Arrays')
    if sum(len(row) for row in rows) > MAX_INLINE_BUTTONS:
        raise ApiError(400, "Bad Request: reply markup is too long")
    actions = (
        "url", "callback_data", "web_app", "login_url", "switch_inline_query",
        "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
        "copy_text", "callback_game", "pay",
    )  # fmt: skip
    for row in rows:
        for button in row:
            if not isinstance(button, dict):
                raise ApiError(
                    400, "Bad Request: can't parse inline keyboard button: object expected"
                )
            if not isinstance(button.get("text"), str) or not button["text"]:
                raise ApiError(
                    400, "Bad Request: can't parse inline keyboard button: Text must be non-empty"
                )
            present = [key for key in actions if key in button]
            if not present:
                raise ApiError(
                    400, "Bad Request: text buttons are unallowed in the inline keyboard"
                )
            if len(present) > 1:
                raise ApiError(
                    400,
                    "Bad Request: can't parse inline keyboard button: "
                    "InlineKeyboardButton must have exactly one optional field",
                )
            if "callback_data" in button:
                data = button["callback_data"]
                if (
                    not isinstance(data, str)
                    or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
                ):
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            if "url" in button:
                url = button["url"]
                if not isinstance(url, str) or _checked_url(url) is None:
                    raise ApiError(
                        400,
                        f"Bad Request: inline keyboard button URL '{url}' is invalid: "
                        "Wrong HTTP URL",
                    )


def _inline(markup: JSON | None) -> object:
    """The part of a reply markup that belongs to the message (inline keyboards only)."""
    if markup and "inline_keyboard" in markup:
        return markup["inline_keyboard"]
    return None


_SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)


def _scope_key(scope: object) -> str:
    if not isinstance(scope, dict) or scope.get("type", "default") == "default":
        return "default"
    return json.dumps(scope, sort_keys=True)


def _title(kind: str) -> str:
    return "".join(part.capitalize() for part in kind.split("_"))


def _matches(message: StoredMessage, match: MessageMatch) -> bool:
    if match is None:
        return True
    if isinstance(match, str):
        return match in message.content
    if isinstance(match, re.Pattern):
        return match.search(message.content) is not None
    return bool(match(message))
