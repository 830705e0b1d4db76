"""Scheduled prompts from the phone: ``/schedule <when> <prompt>``, ``/schedules``, ❌.

``/schedule`` stores the prompt for the session working here now (by its store
row: a rename follows, a closed session cancels it) and :class:`ScheduleDesk`
arms it on the job queue. When its time comes it joins the chat's (or topic's)
queue like a typed prompt and runs as a normal turn: streamed, approvals waiting
for an approver as usual. Nobody watches a scheduled turn, so its answer always
alerts (unless the chat is ``/quiet``); approval prompts alert anyway.

Only approvers schedule, list-and-cancel is for approvers too: a scheduled prompt
runs later, as its author, with nobody there to see it start. A schedule whose
author is no longer an approver (or no longer allowed) is cancelled when it fires.
"""

from __future__ import annotations

import html
import logging

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from voice_agent.schedule_when import WhenError, split_schedule
from voice_agent.store.schedules_table import Schedule
from voice_agent.telegram.callbacks import Kind, decode, encode
from voice_agent.telegram.commands import COMMANDS, command_name
from voice_agent.telegram.render import utf16_len
from voice_agent.telegram.roles import refusal
from voice_agent.telegram.services import Services, Where, services
from voice_agent.telegram.topics import current
from voice_agent.telegram.turn import run_prompt

logger = logging.getLogger(__name__)
_OURS = frozenset({*(name for name, _ in COMMANDS), "pair"})  # never a scheduled prompt

MAX_PROMPT = 3500
"""Longest prompt kept (it is shown back in the chat's messages)."""
MAX_PER_CHAT = 20
"""Schedules a chat may have: /schedules shows them all, a cancel button each."""
_LISTING_LIMIT = 4096
"""UTF-16 units of the /schedules message (Telegram's limit)."""
_SHOWN = 80
ACTION = "schedule prompts"


def _message(update: Update) -> Message:
    message = update.effective_message
    assert message is not None
    return message


def _clip(text: str, limit: int = _SHOWN) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _arguments(message: Message) -> str:
    """What follows ``/schedule`` (newlines kept, unlike ``context.args``)."""
    parts = (message.text or "").split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


def _time(svc: Services, schedule: Schedule) -> str:
    return f"{schedule.next_run.astimezone(svc.schedules.zone):%a %d %b %H:%M %Z}"


def _our_command(prompt: str) -> str | None:
    """The bot command the prompt starts with (``/status``), if any."""
    name = command_name(prompt)
    return name if name in _OURS else None


def _as_claude_command(svc: Services, chat_id: int, prompt: str) -> str:
    """A menu name at the start of the prompt goes back to Claude Code's (``/code_review``)."""
    if not prompt.startswith("/"):
        return prompt
    name, _, rest = prompt[1:].partition(" ")
    original = svc.menus.original(chat_id, name.split("@", 1)[0])
    return f"/{original} {rest}".rstrip() if original else prompt


async def schedule_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/schedule <when> <prompt> — run a prompt later, or again and again (approvers only)."""
    message = _message(update)
    where = Where.of(update)
    svc = services(context)
    arguments = _arguments(message)
    refused = refusal(svc, where, ACTION, f"/schedule {arguments}")
    if refused is not None:
        await message.reply_text(f"{refused} A scheduled prompt runs later, with nobody watching.")
        return
    try:
        when, prompt = split_schedule(arguments)
    except WhenError as error:
        await message.reply_text(str(error))
        return
    if len(prompt) > MAX_PROMPT:
        await message.reply_text(
            f"That prompt is {len(prompt)} characters; a scheduled one may have {MAX_PROMPT}. "
            "Nothing was scheduled."
        )
        return
    if len(svc.schedules.of_chat(where.chat_id)) >= MAX_PER_CHAT:
        await message.reply_text(
            f"This chat has {MAX_PER_CHAT} scheduled prompts, the most it may have; "
            "/schedules lists them (❌ cancels). Nothing was scheduled."
        )
        return
    ours = _our_command(prompt)
    if ours is not None:
        await message.reply_text(
            f"/{ours} is one of this bot's commands: it can't be scheduled (a scheduled "
            "prompt goes to Claude Code). Nothing was scheduled."
        )
        return
    session = current(svc, where)
    prompt = _as_claude_command(svc, where.chat_id, prompt)
    schedule = svc.schedules.add(
        where.chat_id, where.thread_id, where.user_id, session.name, prompt, when
    )
    if schedule is None:
        await message.reply_text("⚠️ Scheduling is not available (no store or job queue).")
        return
    await message.reply_text(
        f"⏰ #{schedule.id} scheduled in session {session.name}: {when.text}, "
        f"next {_time(svc, schedule)}.\n“{_clip(prompt)}”\n/schedules lists them (❌ cancels)."
    )


def _listing(svc: Services, chat_id: int) -> tuple[str, InlineKeyboardMarkup | None]:
    found = svc.schedules.of_chat(chat_id)
    if not found:
        return "⏰ No scheduled prompts here. /schedule <when> <prompt> adds one.", None
    lines = ["⏰ <b>Scheduled prompts</b>"]
    buttons = []
    room = _LISTING_LIMIT - 100  # the heading and the "more" line
    for number, schedule in enumerate(found):
        where = schedule.session_name or f"{schedule.scheduled_in} (closed)"
        line = (
            f"#{schedule.id} · {schedule.spec} · next {_time(svc, schedule)} · "
            f"{_clip(where, 40)}\n   “{_clip(schedule.prompt)}”"
        )
        room -= utf16_len(line) + 1
        if room < 0:  # older chats may hold more than fits: the next to run come first
            lines.append(f"… and {len(found) - number} more, shown once these are cancelled.")
            break
        lines.append(html.escape(line, quote=False))
        buttons.append(
            [
                InlineKeyboardButton(
                    f"❌ #{schedule.id} {_clip(schedule.prompt, 24)}",
                    callback_data=encode(Kind.UNSCHEDULE, str(schedule.id)),
                )
            ]
        )
    return "\n".join(lines), InlineKeyboardMarkup(buttons)


async def schedules_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/schedules — the chat's scheduled prompts, a ❌ button each (approvers only)."""
    message = _message(update)
    svc = services(context)
    where = Where.of(update)
    refused = refusal(svc, where, "see and cancel scheduled prompts", "/schedules")
    if refused is not None:
        await message.reply_text(refused)
        return
    text, markup = _listing(svc, where.chat_id)
    await message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


async def on_unschedule_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A ❌ button of /schedules: cancel that schedule (approvers only, this chat's only)."""
    query = update.callback_query
    assert query is not None
    svc = services(context)
    where = Where.of(update)
    button = decode(query.data)
    number = button.arg if button is not None else ""
    refused = refusal(svc, where, "cancel scheduled prompts", f"cancel schedule #{number}")
    if refused is not None:
        await query.answer(refused, show_alert=True)
        return
    if not number.isdigit() or not svc.schedules.cancel(where.chat_id, int(number)):
        await query.answer("That schedule is already gone.")
    else:
        await query.answer(f"Cancelled #{number}.")
    text, markup = _listing(svc, where.chat_id)
    try:
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
    except TelegramError as error:  # e.g. "message is not modified"
        logger.debug("could not refresh the schedules list: %s", error)


async def _say(bot: Bot, where: Where, text: str, *, silent: bool) -> None:
    try:
        await bot.send_message(
            where.chat_id, text, message_thread_id=where.thread_id, disable_notification=silent
        )
    except TelegramError as error:
        logger.warning("could not tell chat %s about a schedule: %s", where.chat_id, error)


async def fire(svc: Services, bot: Bot, schedule: Schedule, late: bool) -> None:
    """A schedule's time came: queue its prompt as a turn of its session, or cancel it.

    Args:
        svc: The shared state.
        bot: The bot.
        schedule: The schedule (already moved on to its next run, or forgotten).
        late: Its time passed while the bot was not running.
    """
    where = Where(schedule.chat_id, schedule.thread_id, schedule.user_id, schedule.chat_id > 0)
    quiet = svc.quiet(where.chat_id)
    if schedule.session_name is None:
        svc.schedules.cancel(schedule.chat_id, schedule.id)
        await _say(
            bot,
            where,
            f"⏰ #{schedule.id} was scheduled in session {schedule.scheduled_in}, which is "
            f"closed: cancelled, nothing was sent.\n“{_clip(schedule.prompt)}”",
            silent=quiet,
        )
        return
    allowed = svc.gate.allows(where.chat_id, where.user_id, where.private)
    if not allowed or not svc.gate.may_approve(where.user_id):
        svc.schedules.cancel(schedule.chat_id, schedule.id)
        await _say(
            bot,
            where,
            f"⏰ #{schedule.id} was cancelled: its author may no longer schedule prompts.",
            silent=quiet,
        )
        return
    if svc.schedules.running(schedule.id):
        logger.info("schedule #%s is still queued or running; this run is skipped", schedule.id)
        return
    name = schedule.session_name
    if late:
        header = f"⏰ #{schedule.id} ({schedule.spec}) is late: the bot was down at its time."
    else:
        header = f"⏰ #{schedule.id} ({schedule.spec})"
    header += f" Running in {name}: “{_clip(schedule.prompt)}”"

    async def job() -> None:
        try:
            await _say(bot, where, header, silent=True)  # the answer carries the alert
            await run_prompt(bot, svc, where, schedule.prompt, session_name=name, watched=False)
        finally:
            svc.schedules.finished(schedule.id)

    place = svc.workers.reserve(where.queue_key)
    svc.schedules.started(schedule.id, place)  # a /cancel dropping it frees the schedule
    place.fill(job)
