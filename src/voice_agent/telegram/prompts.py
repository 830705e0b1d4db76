"""Prompts from the phone: text, photos and image files, and unknown /commands.

A prompt joins its chat's queue (a document is first saved in ``uploads/`` and
named in the prompt); if another prompt of the chat is running, the
user is told it is queued. Unknown ``/commands`` go to Claude Code as slash
commands (approvers only, but for a few: :func:`command_refusal`). Words naming a
configured project ("work on api", "on api: run the tests"), typed or spoken,
switch to it first (:func:`send_words`); the switch waits its turn in the queue
like a prompt. A text that is only a decision ("yes", "approve #2"), replying to
an approval prompt or with a request waiting here, decides it like a spoken one
(:mod:`voice_agent.telegram.decisions`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Bot, Message, Update
from telegram.constants import MessageEntityType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from voice_agent.router import route
from voice_agent.sessions import ImageAttachment
from voice_agent.sessions.image import MAX_IMAGE_BYTES, ImageError
from voice_agent.telegram.callbacks import decode
from voice_agent.telegram.commands import command_name, work_on_project
from voice_agent.telegram.decisions import decide_in_words, seen_now
from voice_agent.telegram.files import MAX_UPLOAD_BYTES, no_files_there, save_upload
from voice_agent.telegram.machines import machine_names, machine_projects, switch_machine
from voice_agent.telegram.roles import refusal
from voice_agent.telegram.services import Services, Where, services
from voice_agent.telegram.topics import current, introduce_topic, is_new_topic
from voice_agent.telegram.turn import run_prompt
from voice_agent.telegram.workers import Job, Place

logger = logging.getLogger(__name__)

CHATTER_SLASH_COMMANDS = ("compact", "context", "usage", "cost")
"""Claude Code commands anyone who may chat can send (they read, or shrink the context)."""


def _prompt_job(
    bot: Bot,
    svc: Services,
    where: Where,
    prompt: str,
    images: list[ImageAttachment] | None,
    spoken: bool,
    session_name: str | None = None,
) -> Job:
    # The prompt belongs to the session it was sent to: a /switch or /new sent
    # while it waits in the queue must not carry it elsewhere.
    name = session_name or current(svc, where).name

    async def job() -> None:
        await run_prompt(bot, svc, where, prompt, images, spoken=spoken, session_name=name)

    return job


async def _queue(svc: Services, update: Update, job: Job, place: Place | None) -> None:
    """Put ``job`` in the chat's (or topic's) queue, or at ``place``; say if it must wait."""
    where = Where.of(update)
    message = update.effective_message
    if is_new_topic(svc, where) and message is not None:
        await introduce_topic(message, svc, where)
    ahead = svc.workers.submit(where.queue_key, job) if place is None else place.fill(job)
    if message is None:
        return
    if place is not None and place.dropped:
        await message.reply_text("⏹ Dropped by /cancel; nothing was sent.")
    elif ahead:
        await message.reply_text(f"⏳ Queued — {ahead} prompt(s) ahead.", disable_notification=True)
    elif (session := current(svc, where)).busy:  # a turn from another topic holds it
        await message.reply_text(
            f"⏳ Queued — session {session.name} is busy elsewhere.", disable_notification=True
        )


async def enqueue(
    svc: Services,
    bot: Bot,
    update: Update,
    prompt: str,
    images: list[ImageAttachment] | None = None,
    *,
    spoken: bool = False,
    place: Place | None = None,
    session_name: str | None = None,
) -> None:
    """Queue a prompt for the chat's (or topic's) session, telling the user if it must wait.

    Args:
        svc: The shared state.
        bot: The bot that answers.
        update: The update the prompt came in.
        prompt: The prompt text.
        images: Images sent with it.
        spoken: Whether it came as a voice note (the answer may be spoken too).
        place: The place in the queue the message took when it arrived (a voice
            note); None queues it at the end now.
        session_name: The session it is for; None: the chat's (or topic's) current one.
    """
    job = _prompt_job(bot, svc, Where.of(update), prompt, images, spoken, session_name)
    await _queue(svc, update, job, place)


def command_refusal(svc: Services, where: Where, text: str) -> str | None:
    """Why the sender may not send ``text`` to Claude Code, when it is one of its /commands.

    Claude Code's own commands can change its settings (``/mcp enable``,
    ``/auto-mode-setup``, ``/model``), so only approvers send them, except the few
    that only read or shrink the conversation (:data:`CHATTER_SLASH_COMMANDS`),
    however they came: typed, after ``on api:``, or spoken.

    Args:
        svc: The shared state.
        where: The chat and sender.
        text: The prompt about to be sent.

    Returns:
        None when it may go (not a /command, a chatter's command, or an approver);
        else the refusal to show (the attempt is logged and audited).
    """
    name = command_name(text)
    if name is None or name in CHATTER_SLASH_COMMANDS:
        return None
    refused = refusal(svc, where, "send Claude Code its own /commands", text)
    if refused is None:
        return None
    return f"{refused} (Anyone may use /{', /'.join(CHATTER_SLASH_COMMANDS)}.)"


async def send_words(
    svc: Services,
    bot: Bot,
    update: Update,
    text: str,
    *,
    spoken: bool = False,
    place: Place | None = None,
    note: str = "",
    session_name: str | None = None,
) -> None:
    """A typed or spoken message for Claude, routed: a project switch, a prompt, or both.

    The router (:func:`voice_agent.router.route`) reads "work on api" and "on api:
    run the tests" the same way whether they were typed or said. The switch takes
    its place in the queue like a prompt, so what was sent before it runs where
    it was sent.

    Args:
        svc: The shared state.
        bot: The bot that answers.
        update: The update the message came in.
        text: What was typed, or the transcript.
        spoken: Whether it came as a voice note.
        place: The place the message took in the queue on arrival (a voice note).
        note: Put on a line of its own after the prompt (what a transcript was
            unsure of); not part of the routing, nor of a /command.
        session_name: The session a prompt is for when no project is named; None:
            the chat's (or topic's) current one.
    """
    where = Where.of(update)
    message = update.effective_message
    elsewhere = machine_projects(svc)
    target = route(text, [*svc.settings.projects, *elsewhere, *machine_names(svc)])
    prompt = target.prompt or None
    if prompt is not None and note and command_name(prompt) is None:
        prompt = f"{prompt}\n\n{note}"
    refused = command_refusal(svc, where, prompt) if prompt is not None else None
    if refused is not None:
        if place is not None:
            place.release()
        if message is not None:
            await message.reply_text(refused)
        return
    project = target.project
    if project is None:
        await enqueue(
            svc, bot, update, prompt or text, spoken=spoken, place=place, session_name=session_name
        )
        return

    async def switch_then_prompt() -> None:
        found = await work_on_project(svc, where, project)
        if found is None:  # a machine's name: work in its session
            found = await switch_machine(svc, where, project)
        if isinstance(found, str):
            await bot.send_message(where.chat_id, found, message_thread_id=where.thread_id)
            return
        session = found
        if prompt is not None:
            await run_prompt(bot, svc, where, prompt, spoken=spoken, session_name=session.name)
            return
        said = f"📂 Working on {session.name} in {session.cwd}"
        if message is not None:
            await message.reply_text(said)
        else:
            await bot.send_message(where.chat_id, said, message_thread_id=where.thread_id)

    await _queue(svc, update, switch_then_prompt, place)


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A text message: a decision, or words for Claude (maybe a project switch first)."""
    message = update.effective_message
    if message is None or not message.text:
        return
    svc = services(context)
    where = Where.of(update)
    seen = seen_now(svc, where, message)
    user = update.effective_user
    if await decide_in_words(
        svc,
        message,
        where,
        message.text,
        seen,
        via="text",
        who=user.first_name if user else "",
        say=message.reply_text,
    ):
        return
    for question in svc.voice.drop_drafts(where.queue_key):
        with contextlib.suppress(TelegramError):
            await question.edit_text("🎙 Replaced by your typed text.")
    await send_words(svc, context.bot, update, message.text)


EDITS_IGNORED = (
    "✏️ I don't act on edited messages, so nothing was run again. "
    "Send the corrected text as a new message."
)


async def on_edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An edited message: never run (again); the sender is told to send it anew.

    Telegram sends an edit of any earlier message, even one long done: running it
    would repeat a prompt or a command (``/get``, a decision) without warning.
    """
    message = update.edited_message or update.edited_channel_post
    if message is not None:
        await message.reply_text(EDITS_IGNORED)


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An unknown /command: sent to Claude Code as a slash command (see :func:`command_refusal`)."""
    message = update.effective_message
    if message is None or not message.text:
        return
    text = message.text
    entity = next((e for e in message.entities if e.type == MessageEntityType.BOT_COMMAND), None)
    svc = services(context)
    if entity is not None and entity.offset == 0:
        command = text[: entity.length].split("@", 1)[0]  # "/compact@my_bot" -> "/compact"
        # A name from the chat's menu goes back to Claude Code's ("/code_review" -> "/code-review").
        original = svc.menus.original(Where.of(update).chat_id, command[1:])
        text = (f"/{original}" if original else command) + text[entity.length :]
    refused = command_refusal(svc, Where.of(update), text)
    if refused is not None:
        await message.reply_text(refused)
        return
    await enqueue(svc, context.bot, update, text)


async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A file sent to the bot: saved in uploads/, then named in the prompt."""
    message = update.effective_message
    if message is None or message.document is None:
        return
    document = message.document
    size = document.file_size or 0
    if size > MAX_UPLOAD_BYTES:
        await message.reply_text(
            f"That file is {size / 1e6:.1f} MB; I can take up to 20 MB. Nothing was saved."
        )
        return
    where = Where.of(update)
    svc = services(context)
    session = current(svc, where)
    machine = svc.machine_of(session)
    if machine is not None:
        await message.reply_text(f"⚠️ Not saved: {no_files_there(machine)}.")
        return
    try:
        data = bytes(await (await context.bot.get_file(document.file_id)).download_as_bytearray())
        name = document.file_name or "file"
        relative = await asyncio.to_thread(save_upload, session.cwd, name, data)
    except (TelegramError, OSError, ValueError) as error:
        await message.reply_text(f"⚠️ I couldn't save that file: {error}. Nothing was sent.")
        return
    await message.reply_text(f"📎 Saved as {relative} in {session.name}.")
    note = f"I sent you the file {relative} ({len(data)} bytes)."
    prompt = f"{note}\n\n{message.caption}" if message.caption else note
    await enqueue(svc, context.bot, update, prompt)


async def _download_image(message: Message, svc: Services) -> ImageAttachment | None:
    """The photo or image document of ``message`` (None with a reply when unusable)."""
    if message.photo:
        file_id, size, mime = message.photo[-1].file_id, message.photo[-1].file_size, "image/jpeg"
    elif message.document is not None:
        file_id, size = message.document.file_id, message.document.file_size
        mime = message.document.mime_type or ""
    else:
        return None
    if size and size > MAX_IMAGE_BYTES:
        await message.reply_text(
            f"That image is {size / 1e6:.1f} MB; Claude accepts at most 5 MB. Nothing was sent."
        )
        return None
    try:
        telegram_file = await message.get_bot().get_file(file_id)
        raw = bytes(await telegram_file.download_as_bytearray())
        return ImageAttachment.from_bytes(raw, mime)
    except ImageError as error:
        await message.reply_text(f"I can't use that image: {error}. Nothing was sent.")
    except TelegramError as error:
        logger.warning("could not download an image: %s", error)
        await message.reply_text("I couldn't download that image from Telegram; please retry.")
    return None


async def on_image(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo or image file: sent with its caption as the prompt."""
    message = update.effective_message
    if message is None:
        return
    svc = services(context)
    image = await _download_image(message, svc)
    if image is not None:
        prompt = message.caption or "What do you see in this image?"
        await enqueue(svc, context.bot, update, prompt, [image])


async def on_stop_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The Stop button of a running turn."""
    query = update.callback_query
    assert query is not None
    button = decode(query.data)
    where = Where.of(update)
    manager = services(context).manager
    session = manager.session_by_key(where.chat_id, button.arg) if button is not None else None
    stopped = session is not None and await manager.interrupt(where.chat_id, session.name)
    await query.answer("Stopping…" if stopped else "Nothing is running.")


async def pair_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/pair CODE — become the owner while the bot is in pairing mode."""
    svc = services(context)
    where = Where.of(update)
    message = update.effective_message
    code = context.args[0] if context.args else ""
    if message is not None and svc.gate.pair(where.chat_id, where.user_id, where.private, code):
        await message.reply_text("🔑 Paired: you are the owner of this bot. Send /help to start.")
    # /pair is never a prompt, and strangers get no reply at all.
    raise ApplicationHandlerStop
