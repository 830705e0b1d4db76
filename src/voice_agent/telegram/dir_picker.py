"""The directory keyboard of ``/cwd`` and ``/new`` without arguments: choose a directory by tapping.

It offers the configured projects, the recent directories of this chat's sessions and
the subdirectories of the directory shown (paged, with ``..`` to go up), all inside
``DEFAULT_CWD`` and the projects (:mod:`voice_agent.telegram.dir_listing` decides).
Tapping a directory opens it; **✅ Use this directory** chooses the one shown: ``/new``
starts a session there (named as ``/new`` names it), ``/cwd`` moves the session there
(refused while it runs a turn, like ``/cwd path``).

Anyone allowed may look; choosing needs an approver (it changes the working
directory, see :mod:`voice_agent.telegram.roles`), except a new session in the
directory the current one already works in, which ``/new`` always allowed. Buttons
carry tokens of an :class:`~voice_agent.telegram.offers.OfferTable`, never paths.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from voice_agent.sessions.session import SessionBusy
from voice_agent.telegram.callbacks import Kind, answer_text, encode
from voice_agent.telegram.dir_listing import Entry, Roots, page_of, subdirectories
from voice_agent.telegram.offers import STALE, OfferTable, offer_table
from voice_agent.telegram.roles import refusal
from voice_agent.telegram.services import Services, Where, services
from voice_agent.telegram.topics import current, here, in_use, start_new
from voice_agent.visible import reveal

logger = logging.getLogger(__name__)

PAGE = 8
"""Subdirectories per page."""
RECENT = 4
"""The most recent directories offered."""
PROJECTS = 40
"""The most projects offered (a keyboard holds 100 buttons)."""
ACTION = "change the working directory"


@dataclass(frozen=True)
class Purpose:
    """What a keyboard chooses a directory for.

    Attributes:
        new: True for a new session (``/new``), False to move a session (``/cwd``).
        session_key: The session ``/cwd`` moves (its key: it survives a rename).
    """

    new: bool
    session_key: int | None = None


@dataclass(frozen=True)
class Open:
    """A button that shows a directory (a page of its subdirectories)."""

    purpose: Purpose
    path: Path
    page: int = 0


@dataclass(frozen=True)
class Use:
    """The button that chooses a directory."""

    purpose: Purpose
    path: Path


Choice = Open | Use


@dataclass(frozen=True)
class Shortcuts:
    """What every page offers besides the subdirectories.

    Attributes:
        projects: The configured projects (name, real path) inside the roots.
        recent: The recent directories of the chat's sessions, newest first.
    """

    projects: tuple[tuple[str, Path], ...]
    recent: tuple[Path, ...]


def _shown(text: str, limit: int) -> str:
    flat = reveal(text, keep_newlines=False).text
    return flat if len(flat) <= limit else "…" + flat[-(limit - 1) :]


def roots_of(svc: Services) -> Roots:
    """The roots: ``DEFAULT_CWD`` and the projects' directories."""
    return Roots.of(svc.settings.default_cwd, svc.settings.projects.values())


def _recent_dirs(svc: Services, chat_id: int) -> list[str]:
    """The chat's sessions' directories, newest session first (the store's order)."""
    storage = svc.manager.storage
    if storage is not None:
        cwds = [stored.cwd for stored in reversed(storage.list_sessions(chat_id))]
    else:
        cwds = [s.cwd for s in reversed(svc.manager.sessions_of(chat_id).values())]
    return list(dict.fromkeys(cwds))


def _shortcuts(roots: Roots, projects: dict[str, Path], cwds: list[str]) -> Shortcuts:
    """The projects and recent directories that may be offered (blocking: checks the disk)."""
    offered = [(name, roots.usable(path)) for name, path in sorted(projects.items())]
    recent: list[Path] = []
    for cwd in cwds:
        real = roots.usable(cwd)
        if real is not None and real not in recent:
            recent.append(real)
    return Shortcuts(
        tuple((name, path) for name, path in offered if path is not None),
        tuple(recent[:RECENT]),
    )


def _label(path: Path, roots: Roots) -> str:
    """A short name for a directory: its path below its root's parent."""
    root = roots.root_of(path)
    base = root.parent if root is not None and root.parent != root else Path("/")
    return _shown(str(path.relative_to(base)), 28)


def keyboard_view(
    table: OfferTable[Choice],
    chat_id: int,
    purpose: Purpose,
    heading: str,
    location: Path,
    page: int,
    entries: list[Entry],
    shortcuts: Shortcuts,
    roots: Roots,
) -> tuple[str, InlineKeyboardMarkup]:
    """The text and keyboard showing ``location``.

    Args:
        table: Where the buttons' choices are kept.
        chat_id: The chat it is shown in.
        purpose: What the directory is chosen for.
        heading: The first line (what is chosen, and for which session).
        location: The directory shown (resolved).
        page: The page of its subdirectories (clamped).
        entries: Its subdirectories that may be offered.
        shortcuts: The projects and recent directories.
        roots: The roots.
    """
    shown, page, pages = page_of(entries, page, PAGE)
    lines = [heading, f"📂 Here: {_shown(str(location), 300)}"]
    if not entries:
        lines.append("No subdirectories to offer here.")
    elif pages > 1:
        first = page * PAGE + 1
        lines.append(
            f"Subdirectories {first}–{first + len(shown) - 1} of {len(entries)} "
            f"(page {page + 1}/{pages})."
        )
    if len(shortcuts.projects) > PROJECTS:
        lines.append(
            f"📌 The first {PROJECTS} of {len(shortcuts.projects)} projects; "
            "/project name goes to any."
        )
    rows: list[list[tuple[str, Choice]]] = []
    projects: list[tuple[str, Choice]] = [
        (f"📌 {_shown(n, 24)}", Open(purpose, p)) for n, p in shortcuts.projects[:PROJECTS]
    ]
    recent: list[tuple[str, Choice]] = [
        (f"🕘 {_label(p, roots)}", Open(purpose, p)) for p in shortcuts.recent if p != location
    ]
    subdirs: list[tuple[str, Choice]] = [
        (f"📁 {_shown(e.name, 28)}", Open(purpose, e.path)) for e in shown
    ]
    for group in (projects, recent, subdirs):
        rows.extend(group[i : i + 2] for i in range(0, len(group), 2))
    moves: list[tuple[str, Choice]] = []
    parent = roots.parent(location)
    if parent is not None:
        moves.append(("⬆️ ..", Open(purpose, parent)))
    if page > 0:
        moves.append(("◀ Prev", Open(purpose, location, page - 1)))
    if page < pages - 1:
        moves.append(("Next ▶", Open(purpose, location, page + 1)))
    if moves:
        rows.append(moves)
    rows.append([("✅ Use this directory", Use(purpose, location))])
    data = iter(table.offer(chat_id, [choice for row in rows for _, choice in row]))
    markup = [
        [InlineKeyboardButton(label, callback_data=next(data)) for label, _ in row] for row in rows
    ]
    markup.append([InlineKeyboardButton("Cancel", callback_data=encode(Kind.CANCEL))])
    return "\n".join(lines), InlineKeyboardMarkup(markup)


def _table(context: ContextTypes.DEFAULT_TYPE) -> OfferTable[Choice]:
    return offer_table(context, Kind.DIRECTORY)


def _heading(svc: Services, where: Where, purpose: Purpose) -> str | None:
    """What the keyboard chooses, or None when the session it moves is gone."""
    if purpose.new:
        return "🆕 Choose the directory of a new session."
    key = str(purpose.session_key)
    session = svc.manager.session_by_key(where.chat_id, key)
    if session is None:
        return None
    return f"📁 {session.name} works in {_shown(session.cwd, 300)}. Choose its new directory."


async def _render(
    context: ContextTypes.DEFAULT_TYPE, where: Where, purpose: Purpose, location: Path, page: int
) -> tuple[str, InlineKeyboardMarkup] | None:
    svc = services(context)
    heading = _heading(svc, where, purpose)
    if heading is None:
        return None
    roots = roots_of(svc)
    entries = await asyncio.to_thread(subdirectories, location, roots)
    shortcuts = await asyncio.to_thread(
        _shortcuts, roots, dict(svc.settings.projects), _recent_dirs(svc, where.chat_id)
    )
    return keyboard_view(
        _table(context), where.chat_id, purpose, heading, location, page, entries, shortcuts, roots
    )


def not_here(machine: str, *, new: bool) -> str:
    """Why the keyboard is not offered for a session on another machine, and what to type."""
    typed = (
        f"/new name starts a session on {machine} too (in its directory)"
        if new
        else f"/cwd path moves it (the path is checked on {machine}, before the next turn)"
    )
    return (
        f"📁 The directory keyboard lists the bot's own machine, and this session lives "
        f"on 🖥 {machine}. {typed[0].upper()}{typed[1:]}."
    )


async def show_directory_keyboard(
    update: Update, context: ContextTypes.DEFAULT_TYPE, *, new: bool
) -> None:
    """Reply with the directory keyboard, opened at the current session's directory.

    Args:
        update: The ``/cwd`` or ``/new`` message.
        context: The handler's context.
        new: True for ``/new`` (a new session), False for ``/cwd`` (move the session).
    """
    svc = services(context)
    where = Where.of(update)
    message = update.effective_message
    assert message is not None
    if new:
        now = in_use(svc, where)
        purpose, cwd = Purpose(new=True), (now.cwd if now else str(svc.settings.default_cwd))
    else:
        now = current(svc, where)
        purpose, cwd = Purpose(new=False, session_key=now.key), now.cwd
    machine = svc.machine_of(now) if now is not None else None
    if machine is not None:
        await message.reply_text(not_here(machine, new=new))
        return
    start = await asyncio.to_thread(roots_of(svc).start, cwd)
    view = await _render(context, where, purpose, start, 0)
    assert view is not None  # the session was just found
    await message.reply_text(view[0], reply_markup=view[1])


async def on_directory_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A press on the directory keyboard: open a directory, or use the one shown."""
    query = update.callback_query
    assert query is not None
    where = Where.of(update)
    choice = _table(context).lookup(where.chat_id, query.data)
    if choice is None:
        await query.answer(STALE, show_alert=True)
        return
    svc = services(context)
    real = await asyncio.to_thread(roots_of(svc).usable, choice.path)
    if real is None:
        await query.answer(
            f"{_shown(str(choice.path), 150)} is gone or no longer offered; nothing changed.",
            show_alert=True,
        )
        return
    if isinstance(choice, Open):
        view = await _render(context, where, choice.purpose, real, choice.page)
        if view is None:
            await _finish(query, "That session is closed; nothing changed.")
            return
        try:
            await query.edit_message_text(view[0], reply_markup=view[1])
        except TelegramError as error:
            logger.debug("could not update the directory keyboard: %s", error)
        await query.answer()
        return
    if choice.purpose.new:
        await _new_session(query, svc, where, real)
    else:
        await _move_session(query, svc, where, choice.purpose, real)


async def _finish(query: CallbackQuery, text: str, answer: str | None = None) -> None:
    """Replace the keyboard by ``text`` and answer the press."""
    try:
        await query.edit_message_text(text)
    except TelegramError as error:
        logger.debug("could not close the directory keyboard: %s", error)
    await query.answer(answer)


async def _new_session(query: CallbackQuery, svc: Services, where: Where, path: Path) -> None:
    """A new session in ``path``; elsewhere than the current session's directory, approvers only."""
    now = in_use(svc, where)
    here_now = await asyncio.to_thread(Path(now.cwd if now else svc.settings.default_cwd).resolve)
    if path != here_now:
        refused = refusal(svc, where, ACTION, f"/new in {path}", now.name if now else None)
        if refused is not None:
            await query.answer(refused, show_alert=True)
            return
    manager = svc.manager
    name = manager.generate_session_name(where.chat_id)
    session = await start_new(svc, where, name, str(path))
    await _finish(
        query,
        f"🆕 Session {session.name} in {_shown(session.cwd, 300)} is active{here(where)}.",
        f"Created {session.name}.",
    )


async def _move_session(
    query: CallbackQuery, svc: Services, where: Where, purpose: Purpose, path: Path
) -> None:
    """Move the keyboard's session to ``path`` (approvers only; not during a turn)."""
    session = svc.manager.session_by_key(where.chat_id, str(purpose.session_key))
    if session is None:
        await _finish(query, "That session is closed; nothing changed.")
        return
    refused = refusal(svc, where, ACTION, f"/cwd {path} (keyboard)", session.name)
    if refused is not None:
        await query.answer(refused, show_alert=True)
        return
    machine = svc.machine_of(session)
    if machine is not None:  # this machine's directory is not that machine's
        await _finish(query, not_here(machine, new=False))
        return
    try:
        svc.manager.set_cwd(where.chat_id, str(path), name=session.name)
    except SessionBusy as busy:  # its Claude Code process still runs in the old directory
        await query.answer(answer_text(f"⏳ {busy}"), show_alert=True)
        return
    await _finish(
        query, f"📁 {session.name} now works in {_shown(str(path), 300)}", "Directory changed."
    )
