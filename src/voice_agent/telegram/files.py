"""Files both ways: documents you send land in ``uploads/``; ``/get`` and buttons send files back.

* A document (not an image or audio) is saved in the session's working directory
  under ``uploads/`` with a safe name (never outside it, never over the size limit)
  by :func:`save_upload`, and named in the prompt, with its caption
  (:func:`voice_agent.telegram.prompts.on_document`).
* ``/get <path>`` sends a file from inside the working directory as a document;
  paths outside it and secret-looking files are refused with the reason.
* When a turn writes or edits files, a message lists them with a button each to
  fetch it.
* Sending files back reads them without Claude's policy, so only approvers may
  (:mod:`voice_agent.telegram.roles`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import secrets
from pathlib import Path

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from voice_agent.policy.bash import is_secret_below, is_within
from voice_agent.telegram.callbacks import Kind, answer_text, decode, encode
from voice_agent.telegram.roles import refusal
from voice_agent.telegram.services import Where, services
from voice_agent.telegram.topics import current

logger = logging.getLogger(__name__)

UPLOAD_DIR = "uploads"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # what a bot may download
MAX_SEND_BYTES = 50 * 1024 * 1024  # what a bot may upload
_UNSAFE = re.compile(r"[^\w.+-]+")
_fetchable: dict[str, str] = {}  # button token -> absolute path


_SHOWN_PATH = 300  # characters of a refused path echoed back (a message holds 4,096)
_NAME_BYTES = 200  # file systems take 255 bytes; room for "-2" and the like
_SUFFIX_BYTES = 16


def safe_name(name: str) -> str:
    """A file name that cannot leave the directory or hide: no separators, no leading dots.

    Long names are cut to 200 bytes (not characters: 130 CJK characters are 390
    bytes), keeping their extension.
    """
    base = os.path.basename(name.replace("\\", "/")) or "file"
    cleaned = _UNSAFE.sub("_", base).lstrip(".") or "file"
    stem, suffix = os.path.splitext(cleaned)
    if len(suffix.encode()) > _SUFFIX_BYTES:
        stem, suffix = cleaned, ""
    room = _NAME_BYTES - len(suffix.encode())
    return (stem.encode()[:room].decode("utf-8", "ignore") or "file") + suffix


def _write_new(directory: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to a new file in ``directory``: never over a file or through a link.

    ``O_EXCL`` refuses any name that exists, a dangling symlink included (a link
    planted in ``uploads/`` must never carry the bytes outside), so the next free
    name (``notes-2.txt``…) is taken instead.
    """
    stem, suffix = os.path.splitext(name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    for counter in itertools.count(1):
        target = directory / (name if counter == 1 else f"{stem}-{counter}{suffix}")
        try:
            descriptor = os.open(target, flags, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        return target
    raise AssertionError("unreachable")  # pragma: no cover


def save_upload(cwd: str, name: str, data: bytes) -> str:
    """Write ``data`` under ``<cwd>/uploads/``; returns its path relative to ``cwd``.

    Raises:
        ValueError: The upload directory would be outside ``cwd``.
    """
    directory = Path(cwd) / UPLOAD_DIR
    if directory.is_symlink():  # a repository's link could point anywhere, .git/hooks too
        raise ValueError(f"{UPLOAD_DIR} is a symbolic link, so nothing is written through it")
    directory.mkdir(exist_ok=True)
    if not is_within(str(directory), [cwd]):
        raise ValueError("the uploads directory points outside the working directory")
    target = _write_new(directory, safe_name(name), data)
    return os.path.relpath(target, cwd)


def _check_fetch(path: str, cwd: str) -> str | None:
    """Why ``path`` may not be sent, or None."""
    if not is_within(path, [cwd]):
        return "it is outside the session's working directory"
    if is_secret_below(path, [cwd]):
        return "it looks like a secret (keys, .env, credentials)"
    if not os.path.isfile(path):
        return "there is no such file"
    if os.path.getsize(path) > MAX_SEND_BYTES:
        return "it is larger than the 50 MB Telegram lets a bot send"
    return None


def _read_for_sending(path: str, cwd: str) -> tuple[str, bytes, str] | str:
    """(file name, bytes, caption) of ``path``, or why it may not be sent."""
    resolved = os.path.realpath(os.path.join(cwd, os.path.expanduser(path)))
    reason = _check_fetch(resolved, cwd)
    if reason is not None:
        return reason
    with open(resolved, "rb") as handle:
        data = handle.read()
    return os.path.basename(resolved), data, os.path.relpath(resolved, os.path.realpath(cwd))


async def send_file(bot: Bot, where: Where, path: str, cwd: str) -> str | None:
    """Send ``path`` as a document; returns the refusal reason, or None when sent."""
    found = await asyncio.to_thread(_read_for_sending, path, cwd)
    if isinstance(found, str):
        return found
    name, data, caption = found
    await bot.send_document(
        where.chat_id, data, filename=name, caption=caption, message_thread_id=where.thread_id
    )
    return None


async def get_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/get <path> — send a file from the working directory (approvers only)."""
    message = update.effective_message
    assert message is not None
    where = Where.of(update)
    svc = services(context)
    session = current(svc, where)
    if not context.args:
        await message.reply_text(f"Usage: /get path (inside {session.cwd})")
        return
    path = " ".join(context.args)
    refused = refusal(svc, where, "fetch files", f"/get {path}", session.name)
    if refused is not None:
        await message.reply_text(refused)
        return
    machine = svc.machine_of(session)
    reason = no_files_there(machine) if machine else None
    reason = reason or await send_file(context.bot, where, path, session.cwd)
    if reason is not None:
        shown = path if len(path) <= _SHOWN_PATH else f"{path[:_SHOWN_PATH]}…"
        await message.reply_text(f"I won't send {shown}: {reason}.")


def no_files_there(machine: str) -> str:
    """Why a file cannot go to or come from a session on another machine."""
    return (
        f"this session lives on 🖥 {machine}, and files go to and come from the bot's "
        "own machine only (not yet the others)"
    )


def changed_files_keyboard(paths: list[str], cwd: str) -> tuple[str, InlineKeyboardMarkup]:
    """The "files changed" message and a fetch button per file."""
    rows = []
    names = []
    for path in paths[:10]:
        token = secrets.token_urlsafe(6)
        _fetchable[token] = path
        shown = os.path.relpath(path, cwd) if is_within(path, [cwd]) else path
        names.append(shown)
        rows.append(
            [InlineKeyboardButton(f"📥 {shown[-40:]}", callback_data=encode(Kind.GET, token))]
        )
    more = f" (and {len(paths) - 10} more)" if len(paths) > 10 else ""
    return "📄 Files changed: " + ", ".join(names) + more, InlineKeyboardMarkup(rows)


async def on_get_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A fetch button under "Files changed" (approvers only)."""
    query = update.callback_query
    assert query is not None
    button = decode(query.data)
    path = _fetchable.get(button.arg) if button is not None else None
    if path is None:
        await query.answer("That file link has expired; use /get path.")
        return
    where = Where.of(update)
    svc = services(context)
    session = current(svc, where)
    refused = refusal(svc, where, "fetch files", f"fetch {path}", session.name)
    if refused is not None:
        await query.answer(refused, show_alert=True)
        return
    machine = svc.machine_of(session)
    reason = no_files_there(machine) if machine else None
    reason = reason or await send_file(context.bot, where, path, session.cwd)
    await query.answer(answer_text(f"I won't send it: {reason}.") if reason else None)
