"""The chat's command menu follows Claude Code: our commands, then the CLI's own.

When a session's Claude Code starts a turn it lists its slash commands: its own
(``/compact``, ``/context``…), its skills and the project's custom commands
(``.claude/commands/*.md``). The chat's menu (``setMyCommands`` with the chat's
scope) becomes our commands followed by those, named the way Telegram allows
(lower case, ``a-z``, ``0-9`` and ``_``, at most 32 characters: ``code-review``
becomes ``/code_review``, ``frontend:build`` becomes ``/frontend_build``), the
project's and the user's own commands before the built-in ones, at most 100 in all
(a command past those is not in the menu, but typed it is still mapped back).
Our commands win a clash; names starting with ``_`` (the CLI's internal ones) are
left out. A name the user sends from the menu is mapped back to Claude Code's
(:meth:`CommandMenus.original`).

Telegram has one menu per chat, not per forum topic: the menu follows the session
whose turn reported last, and the names of every session seen in the chat keep
mapping back. Telegram is asked only when the menu changed; what it shows and the
names are kept in the store, so a restart neither repeats the call nor forgets a
name. A refused ``setMyCommands`` is logged; the turn goes on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import TelegramError

from voice_agent.agent.events import SlashCommand
from voice_agent.telegram.state.chat_settings import ChatSettingsTable

logger = logging.getLogger(__name__)

MAX_COMMANDS = 100
"""Telegram's limit of commands in one menu."""
MAX_NAME = 32
MAX_DESCRIPTION = 256
MAX_REMEMBERED = 500
"""Names kept for mapping back per chat (of every session seen there)."""
STORE_KEY = "command_menu"

_NOT_ALLOWED = re.compile(r"[^a-z0-9_]+")


def telegram_name(name: str) -> str | None:
    """The menu name of Claude Code's command ``name``, or None when it cannot have one.

    Args:
        name: As Claude Code spells it (``code-review``, ``frontend:build``).

    Returns:
        Lower case, every run of other characters one ``_``, at most 32 characters
        (``code_review``, ``frontend_build``); None for an internal name (``_…``) or
        one with nothing left.
    """
    if name.startswith("_"):
        return None
    mapped = _NOT_ALLOWED.sub("_", name.lower()).strip("_")[:MAX_NAME].rstrip("_")
    return mapped or None


def _description(command: SlashCommand) -> str:
    text = " ".join(command.description.split()) or f"Claude Code's /{command.name}"
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"


@dataclass(frozen=True)
class Menu:
    """A chat's menu, and where its Claude Code names came from.

    Attributes:
        commands: ``(name, description)`` in menu order, ours first.
        originals: Claude Code's name of each of its commands under its Telegram name,
            also of those past the menu's 100 (typed, they still reach Claude Code).
    """

    commands: tuple[tuple[str, str], ...]
    originals: dict[str, str] = field(default_factory=dict)


def build_menu(ours: Sequence[tuple[str, str]], claude: Sequence[SlashCommand]) -> Menu:
    """Our commands, then Claude Code's under Telegram's names (see the module docs).

    Args:
        ours: The bot's own ``(name, description)`` commands.
        claude: What Claude Code reported, in its order.

    Returns:
        The menu: at most :data:`MAX_COMMANDS`, names unique, ours kept as they are.
    """
    entries = list(ours)[:MAX_COMMANDS]
    taken = {name for name, _ in entries}
    originals: dict[str, str] = {}
    # The user's and the project's own commands first: they are why the menu follows.
    for command in sorted(claude, key=lambda c: c.builtin):
        name = telegram_name(command.name)
        if name is None or name in taken:
            continue
        taken.add(name)
        originals[name] = command.name  # mapped back even when the menu has no room for it
        if len(entries) < MAX_COMMANDS:
            entries.append((name, _description(command)))
    return Menu(tuple(entries), originals)


class CommandMenus:
    """Each chat's menu: set when Claude Code's commands change, read to map names back."""

    def __init__(self, ours: Sequence[tuple[str, str]], table: ChatSettingsTable | None) -> None:
        """Menus that start with ``ours``, kept in ``table``.

        Args:
            ours: The bot's own ``(name, description)`` commands.
            table: The chats' stored settings (None: kept in memory only).
        """
        self._ours = tuple(ours)
        self._table = table
        self._menus: dict[int, Menu] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def shown(self, chat_id: int) -> Menu | None:
        """The menu last set for the chat (None: only the bot's default menu)."""
        if chat_id not in self._menus and self._table is not None:
            menu = _decode(self._table.get(chat_id, STORE_KEY))
            if menu is not None:
                self._menus[chat_id] = menu
        return self._menus.get(chat_id)

    def original(self, chat_id: int, name: str) -> str | None:
        """Claude Code's name for the menu name ``name`` in this chat, or None.

        Args:
            chat_id: The chat.
            name: What the user sent, without the slash (``code_review``).
        """
        menu = self.shown(chat_id)
        return menu.originals.get(name.lower()) if menu is not None else None

    async def follow(self, bot: Bot, chat_id: int, commands: Sequence[SlashCommand]) -> bool:
        """Make the chat's menu ours plus ``commands``, if it is not that already.

        Args:
            bot: The bot that sets the menu.
            chat_id: The chat.
            commands: What Claude Code reported.

        Returns:
            Whether Telegram was asked and took the new menu.
        """
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        async with lock:
            menu = build_menu(self._ours, commands)
            known = self.shown(chat_id)
            same = known is not None and known.commands == menu.commands
            if same and known is not None and menu.originals.items() <= known.originals.items():
                return False
            if not same:
                try:
                    await bot.set_my_commands(
                        [BotCommand(name, text) for name, text in menu.commands],
                        scope=BotCommandScopeChat(chat_id),
                    )
                except TelegramError as error:
                    logger.warning("could not set the command menu of chat %s: %s", chat_id, error)
                    return False
            names = dict(known.originals) if known is not None else {}
            for name in menu.originals:  # the latest come last, kept longest
                names.pop(name, None)
            names.update(menu.originals)
            kept = Menu(menu.commands, dict(list(names.items())[-MAX_REMEMBERED:]))
            self._menus[chat_id] = kept
            if self._table is not None:
                try:
                    self._table.set(chat_id, STORE_KEY, _encode(kept))
                except sqlite3.Error as error:  # kept in memory; the turn goes on
                    logger.error("could not store the command menu of chat %s: %s", chat_id, error)
            if same:
                return False  # only new names to map back: Telegram was not asked
            logger.info("chat %s: command menu of %d commands", chat_id, len(menu.commands))
            return True


def _encode(menu: Menu) -> str:
    return json.dumps({"commands": menu.commands, "originals": menu.originals})


def _decode(raw: str | None) -> Menu | None:
    """A stored menu; None when there is none or it is not one this code wrote."""
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        commands = tuple((str(name), str(text)) for name, text in data["commands"])
        originals = {str(k): str(v) for k, v in dict(data["originals"]).items()}
    except (ValueError, TypeError, KeyError):
        logger.warning("ignoring a stored command menu that cannot be read")
        return None
    return Menu(commands, originals)
