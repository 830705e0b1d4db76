"""Voice notes: transcribed locally (or by an HTTP backend), then a prompt or a decision.

* A note takes its place in the chat's (or topic's) queue when it arrives: a text
  sent after it waits until the note is transcribed and its prompt has run.
* The transcript is echoed in italics (words corrected towards the session's
  names underlined), then routed like typed text
  (:func:`voice_agent.telegram.prompts.send_words`): "work on api" switches
  project, "on api: run the tests" switches and sends the rest, anything else is
  a prompt, at the note's place in the queue. The prompt carries a short note
  that it was spoken and which words were unsure or corrected
  (:func:`voice_agent.speech.note.transcript_note`).
* An utterance that is only an approval or rejection decides a request instead
  (:mod:`voice_agent.telegram.decisions`): the prompt the note replies to, or the
  one request that was waiting in that chat or topic when the note was sent;
  with several waiting it must name the number, else the bot asks which.
* A transcript the engine is unsure of is shown with Send / Cancel buttons;
  typing the corrected text instead sends that. Asking gives up the note's place
  (the queue does not wait for a button): Send queues it when pressed.
* Silence gets "I heard nothing"; undecodable, too long or too large audio gets a
  clear reply. Neither touches the session.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from voice_agent.speech.base import SpeechError, Transcript
from voice_agent.speech.note import transcript_note
from voice_agent.speech.vocabulary import vocabulary_for
from voice_agent.telegram.approval_desk import Seen
from voice_agent.telegram.callbacks import Kind, decode, encode
from voice_agent.telegram.decisions import decide_in_words, seen_now
from voice_agent.telegram.machines import machine_names, machine_projects
from voice_agent.telegram.prompts import send_words
from voice_agent.telegram.render import utf16_len
from voice_agent.telegram.services import Services, Where, services
from voice_agent.telegram.topics import current, introduce_topic, is_new_topic
from voice_agent.telegram.voice_desk import VoiceDesk as VoiceDesk
from voice_agent.telegram.workers import Place

logger = logging.getLogger(__name__)

MIC = "🎙 "


def _media(message: Message) -> tuple[str, str, float | None, int | None] | None:
    """(file id, MIME type, seconds, bytes) of the audio in ``message``."""
    if message.voice is not None:
        v = message.voice
        return v.file_id, v.mime_type or "audio/ogg", _seconds(v.duration), v.file_size
    if message.audio is not None:
        a = message.audio
        return a.file_id, a.mime_type or "audio/mpeg", _seconds(a.duration), a.file_size
    if message.video_note is not None:
        n = message.video_note
        return n.file_id, "video/mp4", _seconds(n.duration), n.file_size
    if message.document is not None and (message.document.mime_type or "").startswith("audio/"):
        d = message.document
        return d.file_id, d.mime_type or "audio/mpeg", None, d.file_size
    return None


def _seconds(value: int | timedelta | None) -> float | None:
    if value is None:
        return None
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def echo(
    text: str, note: str = "", marked: list[tuple[int, int]] | None = None
) -> tuple[str, list[MessageEntity]]:
    """``🎙 <text in italics><note>`` as text and entities.

    ``marked`` are (start, length) spans of ``text``, the corrected words: underlined.
    """
    body = f"{MIC}{text}{note}"
    start = utf16_len(MIC)
    entities = [MessageEntity(MessageEntity.ITALIC, start, utf16_len(text))]
    for offset, length in marked or ():
        at = start + utf16_len(text[:offset])
        entities.append(
            MessageEntity(MessageEntity.UNDERLINE, at, utf16_len(text[offset : offset + length]))
        )
    return body, entities


def _marked(transcript: Transcript) -> list[tuple[int, int]]:
    """Where the corrected words are in the transcript's text."""
    return [(c.offset, len(c.term)) for c in transcript.corrections]


async def _reply(
    message: Message,
    text: str,
    note: str = "",
    marked: list[tuple[int, int]] | None = None,
    **kwargs: object,
) -> Message:
    body, entities = echo(text, note, marked)
    return await message.reply_text(body, entities=entities, **kwargs)  # type: ignore[arg-type]


def _limits_refusal(svc: Services, seconds: float | None, size: int | None) -> str | None:
    settings = svc.settings
    if size is not None and size > settings.max_voice_mb * 1024 * 1024:
        return (
            f"That recording is {size / 1e6:.1f} MB; I take up to {settings.max_voice_mb:g} MB. "
            "Nothing was sent."
        )
    if seconds is not None and seconds > settings.max_voice_seconds:
        return (
            f"That recording is {seconds:.0f} s long; I take up to "
            f"{settings.max_voice_seconds:.0f} s. Nothing was sent."
        )
    return None


async def _ask_to_confirm(
    message: Message,
    desk: VoiceDesk,
    where: Where,
    transcript: Transcript,
    words: str,
    note: str,
    session_name: str,
) -> None:
    token = secrets.token_urlsafe(6)
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("📤 Send", callback_data=encode(Kind.VOICE_SEND, token)),
                InlineKeyboardButton("✖️ Cancel", callback_data=encode(Kind.VOICE_CANCEL, token)),
            ]
        ]
    )
    question = await _reply(
        message,
        transcript.text,
        "\nI'm not sure I heard that right. Send it, or type the corrected text.",
        _marked(transcript),
        reply_markup=buttons,
    )
    desk.drafts[token] = (where.queue_key, words, question, note, session_name)


async def on_voice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A voice note, audio file or video note: its place in the queue is taken on arrival."""
    message = update.effective_message
    media = _media(message) if message is not None else None
    if message is None or media is None:
        return
    svc = services(context)
    refusal = _limits_refusal(svc, media[2], media[3])
    if refusal:
        await message.reply_text(f"⚠️ {refusal}")
        return
    where = Where.of(update)
    seen = seen_now(svc, where, message)  # what was on screen when the note was sent
    place = svc.workers.reserve(where.queue_key)  # before any await: what comes next waits
    try:
        await _hear(svc, context.bot, update, message, media[:2], where, seen, place)
    finally:
        place.release()  # nothing to run there (a decision, an error…): the queue goes on


async def _hear(
    svc: Services,
    bot: Bot,
    update: Update,
    message: Message,
    media: tuple[str, str],
    where: Where,
    seen: list[Seen],
    place: Place,
) -> None:
    """Transcribe the note, then decide, ask, or send the words to ``place`` in the queue."""
    desk = svc.voice
    file_id, mime = media
    if is_new_topic(svc, where):
        await introduce_topic(message, svc, where)
    session = current(svc, where)
    try:
        await bot.send_chat_action(
            where.chat_id, ChatAction.TYPING, message_thread_id=where.thread_id
        )
        audio = bytes(await (await bot.get_file(file_id)).download_as_bytearray())
        # A session on another machine: its directory is not on this disk, so only
        # the configured words and its recent tool calls bias the recognition.
        cwd = None if svc.machine_of(session) is not None else session.cwd
        places = [*svc.settings.projects, *machine_projects(svc), *machine_names(svc)]
        terms = await desk.terms(session.key, cwd, [*places, session.name])
        vocabulary = vocabulary_for(terms)
        transcript = await desk.transcribe(audio, mime, vocabulary)
    except SpeechError as error:
        reason = str(error).rstrip(". ")
        await message.reply_text(f"⚠️ I couldn't use that recording: {reason}. Nothing was sent.")
        return
    except TelegramError as error:
        logger.warning("could not download a voice note: %s", error)
        await message.reply_text("⚠️ I couldn't download that recording; please send it again.")
        return
    logger.debug("transcript: %s", transcript.text)
    if transcript.empty:
        await message.reply_text("🔇 I heard nothing, so nothing was sent.")
        return
    user = update.effective_user

    async def say(note: str) -> Message:
        return await _reply(message, decision_text, f" → {note}")

    # A decision is read from the words as decoded: a correction never makes one,
    # and words the engine is unsure of never decide (it asks for the buttons). A
    # caption goes to Claude after the spoken words, and makes the note no decision.
    caption = (message.caption or "").strip()
    words = f"{transcript.text}\n\n{caption}" if caption else transcript.text
    decision_text = transcript.heard or transcript.text
    unsure = transcript.confidence is not None and transcript.confidence < desk.low_confidence
    if not caption and await decide_in_words(
        svc,
        message,
        where,
        decision_text,
        seen,
        via="voice",
        who=user.first_name if user else "",
        say=say,
        sure=not unsure,
    ):
        return
    note = transcript_note(transcript, captioned=bool(caption))
    if unsure:
        await _ask_to_confirm(message, desk, where, transcript, words, note, session.name)
        return
    await _reply(message, transcript.text, marked=_marked(transcript))
    await send_words(svc, bot, update, words, spoken=True, place=place, note=note)


async def on_draft_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send or Cancel pressed under an unsure transcript."""
    query = update.callback_query
    assert query is not None
    button = decode(query.data)
    svc = services(context)
    desk = svc.voice
    draft = desk.drafts.pop(button.arg, None) if button is not None else None
    if button is None or draft is None or draft[0] != Where.of(update).queue_key:
        await query.answer("That transcript is no longer waiting.")
        return
    _, text, _, note, session_name = draft
    sending = button.kind is Kind.VOICE_SEND
    body, entities = echo(text, " → sent" if sending else " → cancelled")
    try:
        await query.edit_message_text(body, entities=entities)
    except TelegramError as error:
        logger.debug("could not update the transcript question: %s", error)
    await query.answer()
    if sending:  # it gave up its place when it asked; it joins the queue now
        # To the session it was spoken to, even after a /new or /switch meanwhile.
        await send_words(
            svc, context.bot, update, text, spoken=True, note=note, session_name=session_name
        )


async def voice_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/voice on|off — speak answers to voice notes in this chat."""
    svc = services(context)
    where = Where.of(update)
    message = update.effective_message
    assert message is not None
    wanted = (context.args[0].lower() if context.args else "").strip()
    if wanted in ("on", "off"):
        svc.set_voice_replies(where.chat_id, wanted == "on")
    state = "on" if svc.voice_replies(where.chat_id) else "off"
    available = "" if svc.tts is not None else " (no speech synthesizer installed: espeak-ng)"
    await message.reply_text(f"🔊 Spoken replies are {state}{available}. Use /voice on|off.")
