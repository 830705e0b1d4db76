"""Button dialogs: /sessions (switch, new, close with confirmation) and /resume."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime

from claude_agent_sdk import get_session_info, list_sessions
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from voice_agent.sessions import Session
from voice_agent.telegram.callbacks import Kind, answer_text, decode, encode
from voice_agent.telegram.machines import inherit_machine
from voice_agent.telegram.resume_all import resume_all_command
from voice_agent.telegram.services import Where, services
from voice_agent.telegram.topics import current, current_name, in_use, start_new, use

logger = logging.getLogger(__name__)

RESUME_CHOICES = 8


def sessions_view(
    chat_sessions: Mapping[str, Session], active: str | None
) -> tuple[str, InlineKeyboardMarkup]:
    """The /sessions text and keyboard for a chat's sessions."""
    lines = ["Sessions:"] if chat_sessions else ["No sessions yet; send a prompt or /new."]
    rows = []
    for name, session in chat_sessions.items():
        mark = "▶️" if name == active else "▫️"
        lines.append(f"{mark} {name} — {session.cwd} ({session.message_count} messages)")
        row = []
        if name != active:
            row.append(InlineKeyboardButton(f"➡️ {name}", callback_data=encode(Kind.SWITCH, name)))
        row.append(InlineKeyboardButton(f"🗑 {name}", callback_data=encode(Kind.CLOSE, name)))
        rows.append(row)
    rows.append([InlineKeyboardButton("➕ New session", callback_data=encode(Kind.NEW))])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def sessions_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/sessions — the sessions dialog."""
    where = Where.of(update)
    svc = services(context)
    text, markup = sessions_view(svc.manager.sessions_of(where.chat_id), current_name(svc, where))
    assert update.effective_message is not None
    await update.effective_message.reply_text(text, reply_markup=markup)


async def on_sessions_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A press in the sessions dialog."""
    query = update.callback_query
    assert query is not None
    button = decode(query.data)
    where = Where.of(update)
    svc = services(context)
    manager = svc.manager
    note = ""
    if button is None:
        note = "That button is no longer valid."
    elif button.kind is Kind.SWITCH:
        switched = use(svc, where, button.arg)
        note = f"Switched to {button.arg}." if switched else f"No session {button.arg}."
    elif button.kind is Kind.NEW:
        now = in_use(svc, where)
        name = manager.generate_session_name(where.chat_id)
        created = await start_new(svc, where, name, now.cwd if now else None)
        inherit_machine(svc, now, created)  # on the machine the current one lives on
        note = f"Created {name}."
    elif button.kind is Kind.CLOSE:
        confirm = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        f"Yes, close {button.arg}", callback_data=encode(Kind.CLOSE_YES, button.arg)
                    ),
                    InlineKeyboardButton("No", callback_data=encode(Kind.CANCEL)),
                ]
            ]
        )
        await query.edit_message_text(f"Close session {button.arg}?", reply_markup=confirm)
        await query.answer()
        return
    elif button.kind is Kind.CLOSE_YES:
        closed = await manager.close_session_async(where.chat_id, button.arg)
        note = f"Closed {button.arg}." if closed else f"No session {button.arg}."
    text, markup = sessions_view(manager.sessions_of(where.chat_id), current_name(svc, where))
    try:
        await query.edit_message_text(f"{note}\n\n{text}".strip(), reply_markup=markup)
    except TelegramError as error:
        logger.debug("could not refresh the sessions dialog: %s", error)
    await query.answer(note or None)


async def resume_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/resume — pick one of the recent Claude Code conversations of the working directory.

    ``/resume all`` lists those of every directory (:mod:`voice_agent.telegram.resume_all`).
    """
    if context.args and context.args[0].lower() == "all":
        await resume_all_command(update, context)
        return
    session = current(services(context), Where.of(update))
    found = await asyncio.to_thread(list_sessions, session.cwd, RESUME_CHOICES)
    message = update.effective_message
    assert message is not None
    if not found:
        await message.reply_text(f"No earlier Claude Code conversations in {session.cwd}.")
        return
    rows = []
    for info in found:
        when = datetime.fromtimestamp(info.last_modified / 1000).strftime("%b %d %H:%M")
        title = (info.custom_title or info.summary or info.first_prompt or "untitled")[:40]
        mark = " ◀" if info.session_id == session.claude_session_id else ""
        rows.append(
            [
                InlineKeyboardButton(
                    f"{when} · {title}{mark}", callback_data=encode(Kind.RESUME, info.session_id)
                )
            ]
        )
    rows.append([InlineKeyboardButton("Cancel", callback_data=encode(Kind.CANCEL))])
    await message.reply_text(
        f"Resume which conversation in {session.cwd}?", reply_markup=InlineKeyboardMarkup(rows)
    )


async def on_resume_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A conversation was picked in /resume (only one of the session's directory)."""
    query = update.callback_query
    assert query is not None
    button = decode(query.data)
    where = Where.of(update)
    manager = services(context).manager
    session = current(services(context), where)
    if button is None or button.kind is not Kind.RESUME:
        await query.answer()
        return
    if await asyncio.to_thread(get_session_info, button.arg, session.cwd) is None:
        # Listed for another directory (the session moved since), or not a conversation.
        await query.answer(
            answer_text(f"That is not a conversation of {session.cwd}; nothing changed.")
        )
        return
    await manager.restart(where.chat_id, session.name)
    manager.set_claude_session_id(where.chat_id, button.arg, session.name)
    await query.answer("Resumed.")
    await query.edit_message_text(
        f"↩️ {session.name} continues conversation {button.arg[:8]}…; send your next prompt."
    )


async def on_cancel_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Dismiss a dialog."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    try:
        await query.edit_message_text("Cancelled.")
    except TelegramError as error:
        logger.debug("could not dismiss the dialog: %s", error)
