"""``/resume all``: take over a Claude Code conversation of any directory (a terminal's, say).

The list shows the most recent conversations of every directory on this machine
(first prompt, directory, age), newest first, a page at a time. Picking one
moves the session to that conversation's directory and continues it there: the
next prompt resumes its Claude session id, so the model sees what was said in the
terminal. A transcript that changed in the last :data:`OPEN_WINDOW` seconds is
probably still open in a terminal: the bot says so and asks before taking it over.

Listing and picking need an approver (they show other directories' prompts and
change the working directory, see :mod:`voice_agent.telegram.roles`). Buttons
carry only tokens of an :class:`~voice_agent.telegram.offers.OfferTable`.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from voice_agent.logs import RedactSecrets
from voice_agent.sessions.session import SessionBusy
from voice_agent.sessions.transcripts import (
    Transcript,
    modified_at,
    projects_dir,
    recent_transcripts,
    resumable_here,
)
from voice_agent.telegram.callbacks import Kind, answer_text, encode
from voice_agent.telegram.dir_listing import page_of
from voice_agent.telegram.offers import STALE, OfferTable, offer_table
from voice_agent.telegram.roles import refusal
from voice_agent.telegram.services import Services, Where, services
from voice_agent.telegram.topics import current
from voice_agent.visible import reveal

logger = logging.getLogger(__name__)

PAGE = 5
"""Conversations per page."""
LISTED = 40
"""The most conversations listed."""
SCANNED = 200
"""The most transcript files opened for one listing (the newest)."""
OPEN_WINDOW = 30.0
"""A transcript changed this recently (seconds) is probably still open in a terminal."""

ACTION = "list and take over the Claude Code conversations of other directories"
_redact = RedactSecrets()


@dataclass(frozen=True)
class ShowPage:
    """A button that shows another page of the listing."""

    listing: tuple[Transcript, ...]
    page: int


@dataclass(frozen=True)
class Pick:
    """A button that takes over a conversation (``confirmed``: past the "still open?" question)."""

    transcript: Transcript
    confirmed: bool = False


Choice = ShowPage | Pick


def age(seconds: float) -> str:
    """How long ago, for people: ``just now``, ``40 s ago``, ``5 min ago``, ``3 h ago``….

    Args:
        seconds: Seconds since the moment (negative counts as 0).
    """
    seconds = max(int(seconds), 0)
    if seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    return f"{days} day{'s' if days > 1 else ''} ago"


def shown(text: str, limit: int) -> str:
    """``text`` as safe to show: secrets redacted, hidden characters escaped, cut at ``limit``.

    Args:
        text: A prompt or a path, as found on disk.
        limit: The most characters kept (an ellipsis marks a cut).
    """
    flat = reveal(" ".join(_redact.redact(text).split()), keep_newlines=False).text
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _directory(cwd: str) -> str:
    home = str(Path.home())
    if cwd == home or cwd.startswith(home + "/"):
        cwd = "~" + cwd[len(home) :]
    return cwd if len(cwd) <= 160 else "…" + cwd[-159:]


def page_view(
    table: OfferTable[Choice],
    chat_id: int,
    listing: tuple[Transcript, ...],
    page: int,
    now: float,
    current_id: str | None,
) -> tuple[str, InlineKeyboardMarkup]:
    """The text (HTML) and keyboard of one page of the listing.

    Args:
        table: Where the buttons' choices are kept.
        chat_id: The chat it is shown in.
        listing: Every listed conversation, newest first.
        page: The page to show (0 is the newest), clamped to the pages there are.
        now: The time now (seconds since the epoch).
        current_id: The session's own Claude session id (marked ◀).
    """
    entries, page, pages = page_of(listing, page, PAGE)
    first = page * PAGE
    lines = [
        f"🗂 <b>Claude Code conversations on this machine</b>, newest first "
        f"({first + 1}–{first + len(entries)} of {len(listing)}):",
        "",
    ]
    choices: list[Choice] = []
    labels: list[str] = []
    for number, transcript in enumerate(entries, first + 1):
        mine = " ◀ this session" if transcript.session_id == current_id else ""
        fresh = now - transcript.modified < OPEN_WINDOW
        open_note = " · 🟢 open in a terminal?" if fresh else ""
        lines.append(f"{number}. <b>{html.escape(shown(transcript.first_prompt, 90))}</b>{mine}")
        lines.append(
            f"    📁 {html.escape(shown(_directory(transcript.cwd), 160))} · "
            f"{age(now - transcript.modified)}{open_note}"
        )
        choices.append(Pick(transcript))
        labels.append(f"{number}. {shown(transcript.first_prompt, 28)}")
    lines += ["", "Pick one to continue it here: the session moves to its directory."]
    if page > 0:
        choices.append(ShowPage(listing, page - 1))
        labels.append("◀ Newer")
    if page < pages - 1:
        choices.append(ShowPage(listing, page + 1))
        labels.append("Older ▶")
    data = table.offer(chat_id, choices)
    rows = [[InlineKeyboardButton(labels[i], callback_data=data[i])] for i in range(len(entries))]
    paging = [
        InlineKeyboardButton(labels[i], callback_data=data[i])
        for i in range(len(entries), len(data))
    ]
    if paging:
        rows.append(paging)
    rows.append([InlineKeyboardButton("Cancel", callback_data=encode(Kind.CANCEL))])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def _table(context: ContextTypes.DEFAULT_TYPE) -> OfferTable[Choice]:
    return offer_table(context, Kind.RESUME_ALL)


def not_here(machine: str) -> str:
    """Why ``/resume all`` is refused for a session on another machine, and what to do."""
    return (
        f"/resume all lists the conversations of the bot's own machine, and this session "
        f"lives on 🖥 {machine} (its transcripts are there). Use /resume there, or "
        "/cwd path (checked on that machine)."
    )


async def resume_all_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/resume all — the recent Claude Code conversations of every directory (approvers only)."""
    where = Where.of(update)
    svc = services(context)
    message = update.effective_message
    assert message is not None
    session = current(svc, where)
    refused = refusal(svc, where, ACTION, "/resume all", session.name)
    if refused is not None:
        await message.reply_text(refused)
        return
    machine = svc.machine_of(session)
    if machine is not None:
        await message.reply_text(not_here(machine))
        return
    root = projects_dir(svc.manager.agent.env)
    listing = await asyncio.to_thread(recent_transcripts, root, limit=LISTED, scan=SCANNED)
    if not listing:
        await message.reply_text(f"No Claude Code conversations found on this machine ({root}).")
        return
    text, markup = page_view(
        _table(context),
        where.chat_id,
        tuple(listing),
        0,
        time.time(),
        session.claude_session_id,
    )
    await message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


async def on_resume_all_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A press in the ``/resume all`` list: another page, or a conversation to take over."""
    query = update.callback_query
    assert query is not None
    where = Where.of(update)
    svc = services(context)
    choice = _table(context).lookup(where.chat_id, query.data)
    if choice is None:
        await query.answer(STALE)
        return
    session = current(svc, where)
    attempt = "/resume all: take over a conversation"
    refused = refusal(svc, where, ACTION, attempt, session.name)
    if refused is not None:
        await query.answer(refused, show_alert=True)
        return
    machine = svc.machine_of(session)
    if machine is not None:  # listed while a session here was in use: not this one's
        await query.answer(not_here(machine), show_alert=True)
        return
    if isinstance(choice, ShowPage):
        text, markup = page_view(
            _table(context),
            where.chat_id,
            choice.listing,
            choice.page,
            time.time(),
            session.claude_session_id,
        )
        await _edit(query, text, markup)
        await query.answer()
        return
    await _take_over(query, context, svc, where, choice)


async def _edit(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    try:
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
    except TelegramError as error:
        logger.debug("could not update the /resume all message: %s", error)


async def _finish(query: CallbackQuery, text: str, answer: str | None = None) -> None:
    """Replace the list by ``text`` (no buttons) and answer the press."""
    await _edit(query, text, None)
    await query.answer(answer)


async def _take_over(
    query: CallbackQuery,
    context: ContextTypes.DEFAULT_TYPE,
    svc: Services,
    where: Where,
    pick: Pick,
) -> None:
    """Move the session to the conversation's directory and continue it (asks first if fresh)."""
    transcript = pick.transcript
    cwd = html.escape(shown(transcript.cwd, 200))
    if not await asyncio.to_thread(Path(transcript.cwd).is_dir):
        await _finish(
            query, f"📁 The directory {cwd} of that conversation no longer exists; nothing changed."
        )
        return
    modified = await asyncio.to_thread(modified_at, transcript.path)
    if modified is None:
        await _finish(query, "That conversation's transcript is gone; nothing changed.")
        return
    since = time.time() - modified
    if since < OPEN_WINDOW and not pick.confirmed:
        data = _table(context).offer(where.chat_id, [Pick(transcript, confirmed=True)])
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("✅ Take it over", callback_data=data[0]),
                    InlineKeyboardButton("Cancel", callback_data=encode(Kind.CANCEL)),
                ]
            ]
        )
        await _edit(
            query,
            f"⚠️ <b>{html.escape(shown(transcript.first_prompt, 90))}</b> changed "
            f"{age(since)}: it is probably still open in a terminal in {cwd}. Taken over "
            "here, both would write to the same conversation; close it there first.\n\n"
            "Take it over anyway?",
            markup,
        )
        await query.answer()
        return
    if not await asyncio.to_thread(resumable_here, transcript):
        await _finish(
            query, f"Claude Code would not find that conversation from {cwd}; nothing changed."
        )
        return
    session = current(svc, where)
    manager = svc.manager
    try:
        manager.set_cwd(where.chat_id, transcript.cwd, name=session.name)
    except SessionBusy as busy:
        await query.answer(answer_text(f"⏳ {busy}"), show_alert=True)
        return
    manager.set_claude_session_id(where.chat_id, transcript.session_id, session.name)
    await manager.restart(where.chat_id, session.name)
    logger.info(
        "chat %s session %s took over Claude session %s in %s",
        where.chat_id,
        session.name,
        transcript.session_id,
        transcript.cwd,
    )
    await _finish(
        query,
        f"↩️ {html.escape(session.name)} now works in {cwd} and continues "
        f"<b>{html.escape(shown(transcript.first_prompt, 90))}</b>; send your next prompt.",
        answer="Taken over.",
    )
