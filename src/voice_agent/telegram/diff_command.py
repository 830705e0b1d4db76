"""``/diff``: the working tree's uncommitted changes on the phone, a file at a time.

``/diff`` (and the 📄 Diff button under a turn's "Files changed") sends the
session's working tree's uncommitted changes (:mod:`voice_agent.workdir_diff`:
staged and not, untracked files as new files, secret-looking files left out) as
a ``.diff`` document whose caption sums them up, with a button per changed file,
then a picture of the first file's change (:mod:`voice_agent.telegram.diff_image`).
A file's button sends that file's own diff, asked of git again, with its picture.

Reading a diff reads files of the working directory without Claude's policy, so,
like ``/get``, only approvers may (:mod:`voice_agent.telegram.roles`). git and the
drawing run off the event loop. For a session on another machine the worker
runs the same diff there and sends it through the protocol (capped:
:mod:`voice_agent.machines.diffs`); its file buttons ask that machine again. The
📄 Diff button is only put under turns that ran here (their "Files changed" 📥
buttons would read this disk).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from voice_agent.telegram.callbacks import Kind, decode, encode
from voice_agent.telegram.diff_image import ParsedDiff, parse_diff, render_diff
from voice_agent.telegram.diff_links import DiffList
from voice_agent.telegram.files import safe_name
from voice_agent.telegram.render import utf16_len
from voice_agent.telegram.roles import refusal
from voice_agent.telegram.services import Services, Where, services
from voice_agent.telegram.topics import current
from voice_agent.visible import reveal
from voice_agent.workdir_diff import (
    DOCUMENT_LIMIT,
    ChangedFile,
    FileDiff,
    WorkdirDiff,
    file_diff,
    in_work_tree,
    working_tree_diff,
)

if TYPE_CHECKING:  # nats-py is imported only with NATS_URL set
    from voice_agent.machines.remote import RemoteTurns

logger = logging.getLogger(__name__)

ACTION = "see the working directory's diffs"
"""What only an approver may do, for :func:`voice_agent.telegram.roles.refusal`."""
MAX_BUTTONS = 30
"""Files with a button of their own (the document holds them all)."""
CAPTION_LIMIT = 1024
"""UTF-16 units of a caption, as Telegram counts them."""
ANSWER_LIMIT = 200
"""Characters of a button's answer (Telegram's limit)."""
STALE = "This diff list is out of date (the bot restarted, or it is old): send /diff again."
_LABEL = 44


def _megabytes(count: int) -> str:
    return f"{count / (1024 * 1024):g} MB"


def _counts(added: int | None, removed: int | None) -> str:
    return "binary" if added is None or removed is None else f"+{added} −{removed}"


def _tag(changed: ChangedFile) -> str:
    if changed.untracked:
        return "new"
    if changed.staged and changed.unstaged:
        return "partly staged"
    return "staged" if changed.staged else ""


def _shown(path: str) -> str:
    """``path`` with hidden characters written out (a bidi override cannot disguise it)."""
    return reveal(path, keep_newlines=False).text


def _fit(text: str, limit: int = CAPTION_LIMIT) -> str:
    """``text`` cut to ``limit`` UTF-16 units, ending with "…" when cut."""
    if utf16_len(text) <= limit:
        return text
    while utf16_len(text) > limit - 1:
        text = text[: -max(1, (utf16_len(text) - limit) // 2)]
    return text + "…"


def _names(paths: Sequence[str], room: int = 300) -> str:
    shown: list[str] = []
    for path in map(_shown, paths):
        if sum(len(p) + 2 for p in shown) + len(path) > room:
            shown.append(f"and {len(paths) - len(shown)} more")
            break
        shown.append(path)
    return ", ".join(shown)


def summary(found: WorkdirDiff) -> str:
    """The caption of the ``.diff`` document: what changed, what was left out, what was cut."""
    tracked = [f for f in found.files if not f.untracked]
    lines = [f"📄 Uncommitted changes in {_shown(found.top)}"]
    if tracked:
        staged = sum(1 for f in tracked if f.staged)
        unstaged = sum(1 for f in tracked if f.unstaged)
        added = sum(f.added or 0 for f in tracked)
        removed = sum(f.removed or 0 for f in tracked)
        plural = "s" if len(tracked) != 1 else ""
        lines.append(
            f"{len(tracked)} file{plural} changed ({staged} staged, {unstaged} not staged)"
            f" · +{added} −{removed}"
        )
    if found.untracked:
        plural = "s" if found.untracked != 1 else ""
        shown = found.untracked_shown
        included = (
            "all in the diff as new files"
            if shown == found.untracked
            else f"{shown} in the diff as new files"
        )
        more = "+" if found.listing_cut else ""
        lines.append(f"{found.untracked}{more} untracked file{plural} ({included})")
    if found.not_shown:
        lines.append(f"Too large or not text, not shown: {_names(found.not_shown)}")
    if found.left_out:
        lines.append(f"🔒 Left out, they look secret: {_names(found.left_out)}")
    if found.cut:
        lines.append(
            f"✂️ The diff is longer than {_megabytes(DOCUMENT_LIMIT)}: this file stops there;"
            " a file's button sends its own diff."
        )
    if found.files:
        extra = f" (the first {MAX_BUTTONS})" if len(found.files) > MAX_BUTTONS else ""
        lines.append(f"Tap a file{extra} for its own diff.")
    text = "\n".join(lines)
    return _fit(text)


def _label(changed: ChangedFile) -> str:
    tag = _tag(changed)
    end = f" {_counts(changed.added, changed.removed)}" if not changed.untracked else ""
    end += f" ({tag})" if tag else ""
    room = _LABEL - len(end)
    shown = _shown(changed.path)
    path = shown if len(shown) <= room else "…" + shown[-(room - 1) :]
    return f"📄 {path}{end}"


def _keyboard(token: str, files: Sequence[ChangedFile]) -> InlineKeyboardMarkup | None:
    if not files:
        return None
    rows = [
        [InlineKeyboardButton(_label(f), callback_data=encode(Kind.DIFF_FILE, f"{token}.{n}"))]
        for n, f in enumerate(files[:MAX_BUTTONS])
    ]
    return InlineKeyboardMarkup(rows)


def _sections(text: str) -> list[str]:
    """The diff of each file in ``text``, in order."""
    parts = ("\n" + text).split("\ndiff --git ")
    return ["diff --git " + part for part in parts[1:]]


def _cut_note(text: str, cut: bool) -> bytes:
    if not cut:
        return text.encode()
    note = (
        f"\n# ✂️ Cut here: the diff is longer than {_megabytes(DOCUMENT_LIMIT)}."
        " Tap a file's button for its own diff, or run git diff on the machine.\n"
    )
    return text.encode() + note.encode()


def _picture(diff: str) -> tuple[bytes | None, ParsedDiff]:
    """The picture of one file's diff and what it counts (blocking: parsing is not free)."""
    parsed = parse_diff(diff)
    return render_diff(diff, parsed.name), parsed


async def _send_picture(bot: Bot, where: Where, diff: str, caption: str) -> None:
    """The picture of one file's diff (nothing when it has no lines to draw)."""
    png, parsed = await asyncio.to_thread(_picture, diff)
    if png is None:
        return
    counts = f"+{parsed.added} −{parsed.removed}"
    try:
        await bot.send_photo(
            where.chat_id,
            png,
            caption=_fit(f"{_shown(parsed.name)} · {counts}{caption}"),
            message_thread_id=where.thread_id,
            disable_notification=True,
        )
    except TelegramError as error:  # the document is there; the picture is a help
        logger.info("could not send the diff picture: %s", error)


def _nothing(found: WorkdirDiff | str) -> str:
    if isinstance(found, str):
        return f"No diff: {_shown(found)}."
    secret = _names(found.left_out)
    left = f" (🔒 left out, they look secret: {secret})" if found.left_out else ""
    return _fit(f"✨ No uncommitted changes in {_shown(found.top)}{left}.", 4096)


def _remote(svc: Services) -> RemoteTurns | None:
    return svc.machines.remote if svc.machines is not None else None


async def _tree_diff(svc: Services, place: DiffList) -> WorkdirDiff | str:
    """The working tree's changes, here or on the machine ``place`` names."""
    if place.machine is None:
        return await asyncio.to_thread(working_tree_diff, place.cwd)
    remote = _remote(svc)
    if remote is None:
        return "NATS is not connected"
    found = await remote.diff(place.machine, place.chat_id, place.session, place.cwd)
    return found if not isinstance(found, FileDiff) else "the machine answered for one file"


async def _file_diff(svc: Services, place: DiffList, path: str) -> FileDiff | str:
    """One file's change, here or on the machine ``place`` names."""
    if place.machine is None:
        return await asyncio.to_thread(file_diff, place.cwd, path)
    remote = _remote(svc)
    if remote is None:
        return "NATS is not connected"
    found = await remote.diff(place.machine, place.chat_id, place.session, place.cwd, path)
    return found if not isinstance(found, WorkdirDiff) else "the machine answered for every file"


async def send_workdir_diff(bot: Bot, svc: Services, where: Where, place: DiffList) -> None:
    """Send the uncommitted changes of ``place.cwd``'s working tree (see the module).

    Args:
        bot: The bot.
        svc: The shared state (the diff lists the buttons name).
        where: The chat (and topic) to send to.
        place: The working directory (on ``place.machine`` when set), no paths yet.
    """
    found = await _tree_diff(svc, place)
    if isinstance(found, str) or not found.files:
        await bot.send_message(where.chat_id, _nothing(found), message_thread_id=where.thread_id)
        return
    buttons = tuple(f.path for f in found.files[:MAX_BUTTONS])
    token = svc.diff_links.add(replace(place, paths=buttons))
    name = safe_name(os.path.basename(found.top) or "changes")
    await bot.send_document(
        where.chat_id,
        _cut_note(found.text, found.cut),
        filename=f"{name}-uncommitted.diff",
        caption=summary(found),
        reply_markup=_keyboard(token, found.files),
        message_thread_id=where.thread_id,
        disable_notification=svc.quiet(where.chat_id),
    )
    sections = [s for s in _sections(found.text) if "\n@@ " in s]
    if sections:
        more = f" · first of {len(found.files)} files" if len(found.files) > 1 else ""
        await _send_picture(bot, where, sections[0], more)


async def _send_file_diff(bot: Bot, where: Where, found: FileDiff) -> None:
    counts = await asyncio.to_thread(parse_diff, found.text)
    caption = f"📄 {_shown(found.path)} · +{counts.added} −{counts.removed}"
    if found.cut:
        caption += f"\n✂️ Cut at {_megabytes(DOCUMENT_LIMIT)}."
    await bot.send_document(
        where.chat_id,
        _cut_note(found.text, found.cut),
        filename=f"{safe_name(os.path.basename(found.path))}.diff",
        caption=_fit(caption),
        message_thread_id=where.thread_id,
        disable_notification=True,  # asked for with a tap: the user is looking
    )
    await _send_picture(bot, where, found.text, "")


async def diff_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/diff — the working tree's uncommitted changes, as a file and a picture (approvers only)."""
    message = update.effective_message
    assert message is not None
    where = Where.of(update)
    svc = services(context)
    session = current(svc, where)
    refused = refusal(svc, where, ACTION, "/diff", session.name)
    if refused is not None:
        await message.reply_text(refused)
        return
    place = DiffList(where.chat_id, session.cwd, machine=svc.machine_of(session))
    await send_workdir_diff(context.bot, svc, where, replace(place, session=session.name))


def _pressed(svc: Services, data: str | None, chat_id: int) -> tuple[DiffList, str | None] | None:
    """The list a button names and its file (None: the whole tree), or None when stale."""
    button = decode(data)
    if button is None:
        return None
    token, _, index = button.arg.partition(".")
    shown = svc.diff_links.get(token, chat_id)
    if shown is None or button.kind is Kind.DIFF:
        return (shown, None) if shown is not None else None
    if not index.isdigit() or int(index) >= len(shown.paths):
        return None
    return shown, shown.paths[int(index)]


async def on_diff_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A 📄 Diff button (a turn's: the whole tree) or a file's button under a /diff."""
    query = update.callback_query
    assert query is not None
    where = Where.of(update)
    svc = services(context)
    pressed = _pressed(svc, query.data, where.chat_id)
    if pressed is None:
        await query.answer(STALE, show_alert=True)
        return
    shown, path = pressed
    session = current(svc, where)
    refused = refusal(svc, where, ACTION, f"diff of {path or shown.cwd}", session.name)
    if refused is not None:
        await query.answer(refused, show_alert=True)
        return
    if path is None:
        await query.answer()
        await send_workdir_diff(context.bot, svc, where, replace(shown, paths=()))
        return
    found = await _file_diff(svc, shown, path)
    if isinstance(found, str):
        await query.answer(_fit(f"No diff: {_shown(found)}.", ANSWER_LIMIT), show_alert=True)
        return
    await query.answer()
    await _send_file_diff(context.bot, where, found)


async def diff_button(svc: Services, where: Where, cwd: str) -> InlineKeyboardButton | None:
    """A 📄 Diff button for a turn that changed files in ``cwd`` (None outside a git tree)."""
    if not await asyncio.to_thread(in_work_tree, cwd):
        return None
    token = svc.diff_links.add(DiffList(where.chat_id, cwd))
    return InlineKeyboardButton("📄 Diff", callback_data=encode(Kind.DIFF, token))
