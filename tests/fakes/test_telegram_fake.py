"""Tests of the fake Telegram Bot API, driven by the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import re
import struct
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    ReactionTypeEmoji,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakes.telegram import (
    DEFAULT_TOKEN,
    NOT_MODIFIED,
    FakeTelegram,
    parse_formatted,
    utf16_len,
)
from tests.fakes.telegram_types import ApiError

TOKEN = DEFAULT_TOKEN
USER_ID = 4242


def tiny_jpeg(width: int = 640, height: int = 480) -> bytes:
    """A minimal JPEG header (SOI, APP0, SOF0, EOI): enough for the size sniffing."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = (
        b"\xff\xc0"
        + struct.pack(">HBHHB", 17, 8, height, width, 3)
        + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    )
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


@pytest.fixture(autouse=True)
def _timedelta_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to PTB's future ``timedelta`` durations (avoids its deprecation warnings)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as fake:
        yield fake
    assert fake.internal_errors == []


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=tg.base_url, base_file_url=tg.base_file_url) as client:
        yield client


# --------------------------------------------------------------------------- #
# Formatting parsers (no server)
# --------------------------------------------------------------------------- #


def test_utf16_length_counts_astral_characters_twice() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("😀") == 2
    assert utf16_len("é😀x") == 4


@pytest.mark.parametrize(
    ("html", "plain", "entities"),
    [
        ("<b>bold</b> text", "bold text", [("bold", 0, 4)]),
        ("a &lt;b&gt; &amp; &quot;c&quot; &#128512;", 'a <b> & "c" 😀', []),
        ("😀 <i>x</i>", "😀 x", [("italic", 3, 1)]),
        ('<a href="https://example.com/?a=1&amp;b=2">link</a>', "link", [("text_link", 0, 4)]),
        (
            '<pre><code class="language-python">print(1)</code></pre>',
            "print(1)",
            [("pre", 0, 8)],
        ),
        (
            '<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>',
            "st",
            [("spoiler", 0, 1), ("spoiler", 1, 1)],
        ),
        ("<blockquote expandable>q</blockquote>", "q", [("expandable_blockquote", 0, 1)]),
        ("<B>upper</B>", "upper", [("bold", 0, 5)]),
        ("  <b>x</b>  ", "x", [("bold", 0, 1)]),
    ],
)
def test_html_is_parsed_like_telegram(
    html: str, plain: str, entities: list[tuple[str, int, int]]
) -> None:
    text, parsed = parse_formatted(html, "HTML")
    assert text == plain
    assert [(e["type"], e["offset"], e["length"]) for e in parsed] == entities


def test_html_pre_code_keeps_language() -> None:
    _, entities = parse_formatted('<pre><code class="language-python">x</code></pre>', "HTML")
    assert entities == [{"type": "pre", "offset": 0, "length": 1, "language": "python"}]


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("line<br>next", 'Unsupported start tag "br" at byte offset 4'),
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<!-- c -->", 'Unsupported start tag "!--" at byte offset 0'),
        ("Q&A", 'Character "&" at byte offset 1 must be escaped'),
        ("<b", "Unclosed start tag at byte offset 0"),
    ],
)
def test_invalid_html_is_rejected(html: str, error: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_formatted(html, "HTML")
    assert info.value.status == 400
    assert info.value.description.startswith("Bad Request: can't parse entities: ")
    assert error in info.value.description


def test_bare_ampersand_is_telegrams_literal_when_not_strict() -> None:
    assert parse_formatted("Q&A &nbsp;", "HTML", strict_ampersand=False) == ("Q&A &nbsp;", [])


@pytest.mark.parametrize(
    ("markdown", "plain", "entities"),
    [
        (
            r"*bold* _it_ __under__ ~s~ ||sp||",
            "bold it under s sp",
            [
                ("bold", 0, 4),
                ("italic", 5, 2),
                ("underline", 8, 5),
                ("strikethrough", 14, 1),
                ("spoiler", 16, 2),
            ],
        ),
        (r"Done\. 1\+1\=2\!", "Done. 1+1=2!", []),
        ("`a.b` ```py\nx = 1.0\n```", "a.b x = 1.0", [("code", 0, 3), ("pre", 4, 7)]),
        (r"[site](https://example.com/a\)b)", "site", [("text_link", 0, 4)]),
        (">quoted\n>more\nafter", "quoted\nmore\nafter", [("blockquote", 0, 11)]),
    ],
)
def test_markdown_v2_is_parsed_like_telegram(
    markdown: str, plain: str, entities: list[tuple[str, int, int]]
) -> None:
    text, parsed = parse_formatted(markdown, "MarkdownV2")
    assert text == plain
    assert [(e["type"], e["offset"], e["length"]) for e in parsed] == entities


@pytest.mark.parametrize(
    ("markdown", "error"),
    [
        ("Done.", "Character '.' is reserved and must be escaped with the preceding '\\'"),
        ("1-2", "Character '-' is reserved"),
        ("(x)", "Character '(' is reserved"),
        ("*bold", "Can't find end of Bold entity at byte offset 0"),
        ("a _it", "Can't find end of Italic entity at byte offset 2"),
        ("x >y", "Character '>' is reserved"),
    ],
)
def test_invalid_markdown_v2_is_rejected(markdown: str, error: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_formatted(markdown, "MarkdownV2")
    assert "can't parse entities: " in info.value.description
    assert error in info.value.description


def test_legacy_markdown() -> None:
    assert parse_formatted("*b* _i_ `c` [l](https://x.org)", "Markdown") == (
        "b i c l",
        [
            {"type": "bold", "offset": 0, "length": 1},
            {"type": "italic", "offset": 2, "length": 1},
            {"type": "code", "offset": 4, "length": 1},
            {"type": "text_link", "offset": 6, "length": 1, "url": "https://x.org"},
        ],
    )
    with pytest.raises(ApiError, match="Can't find end of the entity starting at byte offset 0"):
        parse_formatted("*open", "Markdown")


def test_unknown_parse_mode() -> None:
    with pytest.raises(ApiError, match="unsupported parse_mode"):
        parse_formatted("x", "RST")


# --------------------------------------------------------------------------- #
# Wire protocol basics
# --------------------------------------------------------------------------- #


async def test_get_me(bot: Bot, tg: FakeTelegram) -> None:
    me = await bot.get_me()
    assert me.id == 123456789
    assert me.is_bot
    assert me.username == "fake_test_bot"
    assert tg.calls("getMe")[0].ok


async def test_wrong_token_is_unauthorized(tg: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("987:WRONG", base_url=tg.base_url):
            pass
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{tg.base_url}987:WRONG/getMe")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_unknown_method_and_json_bodies(tg: FakeTelegram) -> None:
    tg.private_chat(USER_ID)
    async with httpx.AsyncClient() as client:
        missing = await client.post(f"{tg.base_url}{TOKEN}/sendTelepathy")
        assert missing.status_code == 404
        assert missing.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found: method not found",
        }
        markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
        sent = await client.post(
            f"{tg.base_url}{TOKEN}/SENDMESSAGE",
            json={"chat_id": USER_ID, "text": "native JSON", "reply_markup": markup},
        )
        assert sent.json()["result"]["reply_markup"] == markup
        by_query = await client.get(
            f"{tg.base_url}{TOKEN}/sendMessage", params={"chat_id": str(USER_ID), "text": "GET"}
        )
        assert by_query.json()["ok"] is True
    assert [m.text for m in tg.messages(USER_ID)] == ["native JSON", "GET"]
    assert tg.calls("sendMessage")[0].params["chat_id"] == USER_ID


async def test_unknown_chat_and_blocked_user(bot: Bot, tg: FakeTelegram) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(777, "hello?")
    chat = tg.private_chat(USER_ID)
    tg.block_bot(chat)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER_ID, "hello?")


# --------------------------------------------------------------------------- #
# Messages: send, edit, delete, strictness
# --------------------------------------------------------------------------- #


async def test_send_and_edit_message(bot: Bot, tg: FakeTelegram) -> None:
    tg.private_chat(USER_ID, "Ada")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Stop", callback_data="stop:1")]])
    sent = await bot.send_message(
        USER_ID, "<b>Working</b> on it…", parse_mode="HTML", reply_markup=keyboard
    )
    assert sent.text == "Working on it…"
    assert sent.entities == (MessageEntity("bold", 0, 7),)

    call = tg.calls("sendMessage")[-1]
    assert call.content_type == "application/x-www-form-urlencoded"
    assert call.raw["reply_markup"] == json.dumps(keyboard.to_dict())  # a JSON string field
    assert call.params["reply_markup"] == keyboard.to_dict()

    edited = await bot.edit_message_text("Done ✅", chat_id=USER_ID, message_id=sent.message_id)
    assert not isinstance(edited, bool)
    assert edited.text == "Done ✅"
    assert edited.reply_markup is None  # editing text without reply_markup drops the keyboard

    state = tg.last_message(USER_ID)
    assert state is not None
    assert state.message_id == sent.message_id
    assert state.text == "Done ✅"
    assert state.edited
    assert state.history[0].text == "Working on it…"
    assert state.history[0].reply_markup == keyboard.to_dict()
    assert state.history[0].raw_text == "<b>Working</b> on it…"


async def test_edit_that_changes_nothing_is_not_modified(bot: Bot, tg: FakeTelegram) -> None:
    tg.private_chat(USER_ID)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    sent = await bot.send_message(USER_ID, "<i>same</i>", parse_mode="HTML", reply_markup=keyboard)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "<i>same</i>",
            chat_id=USER_ID,
            message_id=sent.message_id,
            parse_mode="HTML",
            reply_markup=keyboard,
        )
    assert tg.calls("editMessageText")[-1].description == NOT_MODIFIED
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(USER_ID, sent.message_id, reply_markup=keyboard)
    # Same text, but the keyboard goes away: that is a change.
    await bot.edit_message_text("<i>same</i>", USER_ID, sent.message_id, parse_mode="HTML")


async def test_edit_missing_or_foreign_message(bot: Bot, tg: FakeTelegram) -> None:
    chat = tg.private_chat(USER_ID)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER_ID, message_id=999)
    users = tg.send_text(chat, None, "mine")
    assert users.message_id is not None
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("x", chat_id=USER_ID, message_id=users.message_id)
    sent = await bot.send_message(USER_ID, "bye")
    assert await bot.delete_message(USER_ID, sent.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER_ID, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(USER_ID, sent.message_id)
    assert tg.messages(USER_ID)[-1].deleted
    assert tg.last_message(USER_ID) is None


async def test_text_length_is_measured_in_utf16(bot: Bot, tg: FakeTelegram) -> None:
    tg.private_chat(USER_ID)
    await bot.send_message(USER_ID, "x" * 4096)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(USER_ID, "x" * 4097)
    await bot.send_message(USER_ID, "😀" * 2048)  # 2048 characters, 4096 UTF-16 units
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(USER_ID, "😀" * 2049)  # len() is only 2049
    # The limit applies after entity parsing: markup does not count.
    await bot.send_message(USER_ID, "<b>" + "y" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(USER_ID, " \n ")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(USER_ID, "<b></b>", parse_mode="HTML")


async def test_bad_markup_is_rejected(bot: Bot, tg: FakeTelegram) -> None:
    tg.private_chat(USER_ID)
    with pytest.raises(BadRequest, match="Can't parse entities") as html_error:
        await bot.send_message(USER_ID, "if a < b: return", parse_mode="HTML")
    assert 'start tag "" at byte offset 5' in html_error.value.message
    with pytest.raises(BadRequest, match=r"Can't parse entities: character '\.' is reserved"):
        await bot.send_message(USER_ID, "Saved to file.txt", parse_mode="MarkdownV2")
    ok = await bot.send_message(USER_ID, r"Saved to `file.txt`\.", parse_mode="MarkdownV2")
    assert ok.text == "Saved to file.txt."
    assert tg.messages(USER_ID)[-1].parse_mode == "MarkdownV2"


async def test_explicit_entities_must_fit_the_utf16_text(bot: Bot, tg: FakeTelegram) -> None:
    tg.private_chat(USER_ID)
    sent = await bot.send_message(USER_ID, "😀 bold", entities=[MessageEntity("bold", 3, 4)])
    assert sent.entities == (MessageEntity("bold", 3, 4),)
    assert tg.calls("sendMessage")[-1].params["entities"] == [
        {"type": "bold", "offset": 3, "length": 4}
    ]
    # Offsets counted in UTF-8 bytes (a classic bug) run past the end.
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(USER_ID, "😀 bold", entities=[MessageEntity("bold", 5, 4)])
    with pytest.raises(BadRequest, match="splits a surrogate pair"):
        await bot.send_message(USER_ID, "😀 bold", entities=[MessageEntity("bold", 1, 2)])


async def test_keyboard_and_reply_validation(bot: Bot, tg: FakeTelegram) -> None:
    chat = tg.private_chat(USER_ID)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("B", callback_data="x" * 65)]])
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(USER_ID, "pick", reply_markup=too_long)
    assert tg.calls("sendMessage")[-1].description == "Bad Request: BUTTON_DATA_INVALID"
    multibyte = InlineKeyboardMarkup([[InlineKeyboardButton("B", callback_data="é" * 33)]])
    with pytest.raises(BadRequest):  # 33 characters but 66 bytes
        await bot.send_message(USER_ID, "pick", reply_markup=multibyte)
    await bot.send_message(
        USER_ID,
        "ok",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("B", callback_data="é" * 32)]]),
    )
    rows = [[InlineKeyboardButton(str(n), callback_data=str(n))] for n in range(101)]
    with pytest.raises(BadRequest, match="Reply markup is too long"):
        await bot.send_message(USER_ID, "pick", reply_markup=InlineKeyboardMarkup(rows))
    await bot.send_message(USER_ID, "pick", reply_markup=InlineKeyboardMarkup(rows[:100]))

    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(USER_ID, "re", reply_to_message_id=999)
    await bot.send_message(USER_ID, "re", reply_to_message_id=999, allow_sending_without_reply=True)
    question = tg.send_text(chat, None, "question?")
    answer = await bot.send_message(USER_ID, "answer", reply_to_message_id=question.message_id)
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "question?"


async def test_caption_limits_and_photo_validation(bot: Bot, tg: FakeTelegram) -> None:
    tg.private_chat(USER_ID)
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_document(USER_ID, b"data", filename="a.bin", caption="c" * 1025)
    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.send_photo(USER_ID, b"not an image")
    with pytest.raises(BadRequest, match="File must be non-empty"):
        await bot.send_document(USER_ID, b"", filename="empty.txt")
    photo = await bot.send_photo(
        USER_ID, tiny_jpeg(1280, 720), caption="<b>shot</b>", parse_mode="HTML"
    )
    assert (photo.photo[-1].width, photo.photo[-1].height) == (1280, 720)
    assert photo.caption == "shot"
    state = tg.last_message(USER_ID)
    assert state is not None
    assert state.photo is not None
    assert state.photo.data == tiny_jpeg(1280, 720)


# --------------------------------------------------------------------------- #
# Files
# --------------------------------------------------------------------------- #


async def test_document_upload_round_trip(bot: Bot, tg: FakeTelegram) -> None:
    tg.private_chat(USER_ID)
    payload = "résumé\n".encode() * 100
    sent = await bot.send_document(USER_ID, payload, filename="report.md", caption="the report")
    assert sent.document is not None
    assert sent.document.file_name == "report.md"
    assert sent.document.file_size == len(payload)

    call = tg.calls("sendDocument")[-1]
    assert call.content_type == "multipart/form-data"
    assert call.files["document"].filename == "report.md"
    assert call.files["document"].data == payload
    assert call.raw["chat_id"] == str(USER_ID)  # form fields are strings on the wire

    state = tg.last_message(USER_ID)
    assert state is not None
    assert state.document is not None
    assert state.document.data == payload
    assert state.document.filename == "report.md"
    assert state.caption == "the report"

    file = await bot.get_file(sent.document.file_id)
    assert file.file_path is not None
    assert file.file_path.startswith(tg.base_file_url)
    assert bytes(await file.download_as_bytearray()) == payload

    again = await bot.send_document(USER_ID, sent.document.file_id)  # resend by file_id
    assert again.document is not None
    assert again.document.file_id == sent.document.file_id


async def test_injected_photo_can_be_downloaded(bot: Bot, tg: FakeTelegram) -> None:
    chat = tg.private_chat(USER_ID)
    jpeg = tiny_jpeg(800, 600)
    injected = tg.send_photo(chat, None, jpeg, caption="what is this?")
    updates = await bot.get_updates()
    message = updates[0].message
    assert message is not None
    assert message.caption == "what is this?"
    assert [(p.width, p.height) for p in message.photo] == [(90, 68), (800, 600)]
    assert message.photo[-1].file_id == injected.file_id
    file = await message.photo[-1].get_file()
    assert bytes(await file.download_as_bytearray()) == jpeg


async def test_injected_voice_document_audio_and_video_note(bot: Bot, tg: FakeTelegram) -> None:
    chat = tg.private_chat(USER_ID)
    tg.send_voice(chat, None, b"OggS voice", duration=3)
    tg.send_document(chat, None, b"%PDF-1.7", "spec.pdf", "application/pdf", caption="read")
    tg.send_audio(chat, None, b"ID3 mp3", 5, title="Song")
    tg.send_video_note(chat, None, b"mp4", 2)
    updates = await bot.get_updates()
    voice, document, audio, note = (u.message for u in updates)
    assert voice is not None
    assert voice.voice is not None
    assert (voice.voice.mime_type, voice.voice.file_size) == ("audio/ogg", 10)
    assert voice.voice.duration == dtm.timedelta(seconds=3)
    assert document is not None
    assert document.document is not None
    assert document.document.file_name == "spec.pdf"
    assert audio is not None
    assert audio.audio is not None
    assert audio.audio.title == "Song"
    assert note is not None
    assert note.video_note is not None
    data = await (await bot.get_file(document.document.file_id)).download_as_bytearray()
    assert bytes(data) == b"%PDF-1.7"
    async with httpx.AsyncClient() as client:
        missing = await client.get(f"{tg.base_file_url}{TOKEN}/documents/nope.pdf")
    assert missing.status_code == 404


async def test_bot_media_uploads_parse_in_ptb(bot: Bot, tg: FakeTelegram) -> None:
    tg.private_chat(USER_ID)
    voice = await bot.send_voice(USER_ID, b"OggS...", duration=4, caption="note")
    assert voice.voice is not None
    assert voice.voice.mime_type == "audio/ogg"
    assert voice.voice.duration == dtm.timedelta(seconds=4)
    video = await bot.send_video(USER_ID, b"mp4 bytes", filename="clip.mp4")
    assert video.video is not None
    assert video.video.file_name == "clip.mp4"
    sticker = await bot.send_sticker(USER_ID, b"RIFF....WEBPVP8 ")
    assert sticker.sticker is not None
    with pytest.raises(BadRequest, match="Can't use file of type voice as document"):
        await bot.send_document(USER_ID, voice.voice.file_id)
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_document(USER_ID, "no-such-file-id")
    assert [m.kind for m in tg.messages(USER_ID)] == ["voice", "video", "sticker"]
    stored = tg.messages(USER_ID)[0].voice
    assert stored is not None
    assert stored.data == b"OggS..."


async def test_entities_and_keyboards_are_json_string_fields(bot: Bot, tg: FakeTelegram) -> None:
    tg.private_chat(USER_ID)
    await bot.send_message(USER_ID, "bold", entities=[MessageEntity("bold", 0, 4)])
    call = tg.calls("sendMessage")[-1]
    assert call.raw["entities"] == '[{"length": 4, "offset": 0, "type": "bold"}]'
    assert call.params["entities"] == [{"length": 4, "offset": 0, "type": "bold"}]
    await bot.send_document(
        USER_ID,
        b"x",
        filename="x.txt",
        caption="c",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]]),
    )
    multipart = tg.calls("sendDocument")[-1]
    assert multipart.content_type == "multipart/form-data"
    assert isinstance(multipart.raw["reply_markup"], str)
    assert "document" not in multipart.raw  # the file is a part, not a field


# --------------------------------------------------------------------------- #
# Failure injection
# --------------------------------------------------------------------------- #


async def test_429_becomes_retry_after(bot: Bot, tg: FakeTelegram) -> None:
    tg.private_chat(USER_ID)
    tg.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(USER_ID, "hi")
    assert info.value.retry_after == dtm.timedelta(seconds=7)
    call = tg.calls("sendMessage")[-1]
    assert call.status == 429
    assert call.response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    await bot.send_message(USER_ID, "hi")  # only the next call failed
    assert [m.text for m in tg.messages(USER_ID)] == ["hi"]


async def test_500_becomes_network_error_for_k_calls(bot: Bot, tg: FakeTelegram) -> None:
    tg.private_chat(USER_ID)
    tg.fail_next("sendmessage", status=500, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(USER_ID, "hi")
    await bot.send_message(USER_ID, "hi")
    assert [c.status for c in tg.calls("sendMessage")] == [500, 500, 200]


async def test_rate_limit(bot: Bot, tg: FakeTelegram) -> None:
    tg.private_chat(USER_ID)
    tg.rate_limit("sendMessage", per_second=2)
    await bot.send_message(USER_ID, "1")
    await bot.send_message(USER_ID, "2")
    with pytest.raises(RetryAfter):
        await bot.send_message(USER_ID, "3")
    tg.clear_failures()
    await bot.send_message(USER_ID, "3")


# --------------------------------------------------------------------------- #
# Long polling
# --------------------------------------------------------------------------- #


async def test_long_poll_returns_promptly_when_an_update_arrives(
    bot: Bot, tg: FakeTelegram
) -> None:
    chat = tg.private_chat(USER_ID)
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await tg.wait_for_call("getUpdates", answered=False, since=started)
    tg.send_text(chat, None, "ping")
    updates = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 2
    assert [u.message.text for u in updates if u.message] == ["ping"]


async def test_empty_long_poll_waits_for_its_timeout(bot: Bot, tg: FakeTelegram) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=dtm.timedelta(seconds=0.3)) == ()
    assert 0.25 < time.monotonic() - started < 2


async def test_offset_limit_and_allowed_updates(bot: Bot, tg: FakeTelegram) -> None:
    chat = tg.private_chat(USER_ID)
    first = tg.send_text(chat, None, "one")
    tg.send_text(chat, None, "two")
    tg.send_text(chat, None, "three")
    batch = await bot.get_updates(limit=2)
    assert [u.update_id for u in batch] == [first.update_id, first.update_id + 1]
    again = await bot.get_updates()  # not confirmed yet: delivered again
    assert len(again) == 3
    rest = await bot.get_updates(offset=again[-1].update_id)
    assert [u.message.text for u in rest if u.message] == ["three"]
    assert await bot.get_updates(offset=again[-1].update_id + 1) == ()
    assert tg.pending_updates == []

    await bot.get_updates(allowed_updates=["callback_query"])
    assert tg.allowed_updates == ["callback_query"]
    skipped = tg.send_text(chat, None, "filtered out")
    assert not skipped.delivered
    assert await bot.get_updates() == ()


async def test_second_long_poll_terminates_the_first(bot: Bot, tg: FakeTelegram) -> None:
    started = time.monotonic()
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await tg.wait_for_call("getUpdates", answered=False, since=started)
    async with Bot(TOKEN, base_url=tg.base_url) as twin:
        assert await twin.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first


async def test_webhook_blocks_polling(bot: Bot, tg: FakeTelegram) -> None:
    assert await bot.set_webhook("https://example.com/hook")
    assert (await bot.get_webhook_info()).url == "https://example.com/hook"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()


# --------------------------------------------------------------------------- #
# Other methods
# --------------------------------------------------------------------------- #


async def test_commands(bot: Bot, tg: FakeTelegram) -> None:
    commands = [BotCommand("new", "Start a new session"), BotCommand("stop", "Stop")]
    assert await bot.set_my_commands(commands)
    assert tg.commands == [
        {"command": "new", "description": "Start a new session"},
        {"command": "stop", "description": "Stop"},
    ]
    assert await bot.get_my_commands() == tuple(commands)
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("New", "uppercase is invalid")])
    assert await bot.delete_my_commands()
    assert tg.commands == []


async def test_commands_per_chat_scope(bot: Bot, tg: FakeTelegram) -> None:
    tg.private_chat(USER_ID)
    default = [BotCommand("help", "Show help")]
    mine = [BotCommand("help", "Show help"), BotCommand("code_review", "Review (project)")]
    assert await bot.set_my_commands(default)
    assert await bot.set_my_commands(mine, scope=BotCommandScopeChat(USER_ID))
    assert await bot.get_my_commands(scope=BotCommandScopeChat(USER_ID)) == tuple(mine)
    assert await bot.get_my_commands() == tuple(default)  # the default scope is apart
    assert tg.commands_for({"type": "chat", "chat_id": USER_ID})[1]["command"] == "code_review"
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.set_my_commands(mine, scope=BotCommandScopeChat(999))
    assert await bot.delete_my_commands(scope=BotCommandScopeChat(USER_ID))
    assert await bot.get_my_commands(scope=BotCommandScopeChat(USER_ID)) == ()


async def test_chat_actions_and_reactions(bot: Bot, tg: FakeTelegram) -> None:
    chat = tg.private_chat(USER_ID)
    assert await bot.send_chat_action(USER_ID, "typing")
    with pytest.raises(BadRequest, match="Wrong parameter action"):
        await bot.send_chat_action(USER_ID, "thinking")
    assert [(a.chat_id, a.action) for a in tg.chat_actions] == [(USER_ID, "typing")]

    message = tg.send_text(chat, None, "nice")
    assert message.message_id is not None
    assert await bot.set_message_reaction(USER_ID, message.message_id, ReactionTypeEmoji("👍"))
    with pytest.raises(BadRequest, match="Reaction_invalid"):
        await bot.set_message_reaction(USER_ID, message.message_id, ReactionTypeEmoji("✅"))
    with pytest.raises(BadRequest, match="Reaction_invalid"):  # PTB sends it as a custom emoji
        await bot.set_message_reaction(USER_ID, message.message_id, "✅")
    assert tg.reactions[-1].reaction == [{"type": "emoji", "emoji": "👍"}]
    assert tg.message(USER_ID, message.message_id).reactions == [{"type": "emoji", "emoji": "👍"}]


async def test_send_message_draft_is_recorded(bot: Bot, tg: FakeTelegram) -> None:
    tg.private_chat(USER_ID)
    tg.group_chat(-100, "Group")
    assert await bot.send_message_draft(USER_ID, draft_id=7, text="Thinking")
    assert await bot.send_message_draft(
        USER_ID, draft_id=7, text="Thinking <b>hard</b>", parse_mode="HTML"
    )
    assert await bot.send_message_draft(USER_ID, draft_id=7)  # empty: the placeholder
    assert [(d.draft_id, d.text) for d in tg.drafts] == [
        (7, "Thinking"),
        (7, "Thinking hard"),
        (7, ""),
    ]
    assert tg.drafts[1].entities == [{"type": "bold", "offset": 9, "length": 4}]
    assert tg.drafts_for(USER_ID, 7) == tg.drafts
    with pytest.raises(BadRequest):
        await bot.send_message_draft(-100, draft_id=1, text="groups have no drafts")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message_draft(USER_ID, draft_id=7, text="z" * 4097)
    assert tg.messages(USER_ID) == []  # drafts are not messages


async def test_forum_thread_ids_are_preserved(bot: Bot, tg: FakeTelegram) -> None:
    forum = tg.supergroup(-1001234567890, "Agents", is_forum=True)
    topic = tg.create_topic(forum, "api session")
    user = tg.user(USER_ID, "Ada")
    injected = tg.send_text(forum, user, "hello in topic", thread_id=topic)
    assert injected.message is not None
    assert injected.message["message_thread_id"] == topic
    assert injected.message["is_topic_message"] is True

    updates = await bot.get_updates()
    incoming = updates[0].message
    assert incoming is not None
    assert incoming.chat.type == "supergroup"
    assert incoming.chat.is_forum
    assert incoming.message_thread_id == topic
    reply = await incoming.reply_text("answer in topic")  # PTB passes the thread id on
    assert reply.message_thread_id == topic
    assert reply.is_topic_message

    state = tg.messages(forum.id, thread_id=topic)
    assert [m.text for m in state] == ["answer in topic"]
    assert tg.calls("sendMessage")[-1].params["message_thread_id"] == topic
    with pytest.raises(BadRequest, match="Message thread not found"):
        await bot.send_message(forum.id, "lost", message_thread_id=999)

    # A reply without message_thread_id lands in the replied message's topic.
    plain = await bot.send_message(forum.id, "re", reply_to_message_id=incoming.message_id)
    assert plain.message_thread_id == topic
    # Messages in a topic reply to its forum_topic_created service message.
    assert incoming.reply_to_message is not None
    assert incoming.reply_to_message.forum_topic_created is not None

    created = await bot.create_forum_topic(forum.id, "new topic")
    assert created.message_thread_id in forum.topics
    await bot.send_message(forum.id, "in new topic", message_thread_id=created.message_thread_id)
    assert tg.last_message(forum.id, created.message_thread_id) is not None


async def test_group_privacy_mode(bot: Bot, tg: FakeTelegram) -> None:
    group = tg.group_chat(-200, "Not admin here", bot_is_admin=False)
    user = tg.user(USER_ID)
    assert not tg.send_text(group, user, "chatter").delivered
    assert tg.send_text(group, user, "/status").delivered
    assert tg.send_text(group, user, "hey @fake_test_bot").delivered
    updates = await bot.get_updates()
    assert [u.message.text for u in updates if u.message] == ["/status", "hey @fake_test_bot"]


async def test_wait_for_times_out_with_a_listing(tg: FakeTelegram) -> None:
    with pytest.raises(TimeoutError, match="last calls"):
        await tg.wait_for(lambda: None, timeout=0.05)


async def test_answer_unknown_callback_query(bot: Bot, tg: FakeTelegram) -> None:
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("12345")


# --------------------------------------------------------------------------- #
# A real Application against the fake
# --------------------------------------------------------------------------- #


async def test_application_handles_commands_messages_and_buttons(tg: FakeTelegram) -> None:
    chat = tg.private_chat(USER_ID, "Ada")
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .build()
    )
    pressed: list[str] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]])
        await update.effective_message.reply_text(
            f"Welcome, <b>{update.effective_message.from_user.first_name}</b>!"
            if update.effective_message.from_user
            else "Welcome!",
            parse_mode="HTML",
            reply_markup=keyboard,
        )

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"echo: {update.effective_message.text}")

    async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        assert query.data is not None
        pressed.append(query.data)
        await query.answer("Going!")
        await query.edit_message_text("Gone.")

    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(button))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))

    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            tg.send_text(chat, None, "/start")
            welcome = await tg.wait_for_message(chat, "Welcome")
            assert welcome.text == "Welcome, Ada!"
            assert welcome.entities == [{"type": "bold", "offset": 9, "length": 3}]

            tg.send_text(chat, None, "hello bot")
            await tg.wait_for_message(chat, re.compile(r"^echo: hello bot$"))

            press = tg.press_button(chat, None, welcome.message_id, "go")
            answer = await tg.wait_for(lambda: tg.callback_answers)
            assert answer[0].callback_query_id == press.callback_query_id
            assert answer[0].text == "Going!"
            await tg.wait_for_message(chat, "Gone.")
            assert pressed == ["go"]
            with pytest.raises(LookupError):
                tg.press_button(chat, None, welcome.message_id, "go")  # keyboard was removed
        finally:
            stop_started = time.monotonic()
            await app.updater.stop()
            await app.stop()
    assert time.monotonic() - stop_started < 3
    # The cleanup poll confirmed everything; nothing is left for the next start.
    assert tg.pending_updates == []
    assert press.callback_query_id is not None
    async with Bot(TOKEN, base_url=tg.base_url) as bot:
        with pytest.raises(BadRequest, match="Query is too old"):  # a second answer
            await bot.answer_callback_query(press.callback_query_id)
