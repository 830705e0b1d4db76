"""What a keyboard offered, kept here so that its buttons carry only short tokens.

Telegram allows 64 bytes of callback data, too few for a path, and what a button
stands for (a directory, a conversation) must not be taken from the phone anyway.
An :class:`OfferTable` keeps, per chat, the choices of the keyboards it recently
showed: each keyboard gets a random token, each button the data
``<kind>:<token>.<index>`` (made and read by :mod:`voice_agent.telegram.callbacks`).
A press is looked up in the chat's table; a token the table no longer has (an
old keyboard, one from before a restart, another chat's, a forged one) finds
nothing, and the handler says the keyboard is out of date.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Sequence
from typing import Generic, TypeVar, cast

from telegram.ext import ContextTypes

from voice_agent.telegram.callbacks import Kind, decode, encode

__all__ = ["STALE", "OfferTable", "offer_table"]

A = TypeVar("A")

STALE = "This keyboard is out of date; send the command again."
"""The answer to a press the table does not know."""


class OfferTable(Generic[A]):
    """The choices of each chat's recent keyboards of one kind."""

    def __init__(self, kind: Kind, keep: int = 32) -> None:
        """An empty table.

        Args:
            kind: The button kind its callback data starts with.
            keep: How many keyboards per chat stay valid (the oldest are forgotten).
        """
        self.kind = kind
        self.keep = keep
        self._chats: dict[int, OrderedDict[str, tuple[A, ...]]] = {}

    def offer(self, chat_id: int, choices: Sequence[A]) -> list[str]:
        """Remember one keyboard's choices; returns the callback data of each, in order.

        Args:
            chat_id: The chat the keyboard is shown in.
            choices: What each of its buttons stands for.
        """
        table = self._chats.setdefault(chat_id, OrderedDict())
        token = secrets.token_urlsafe(6)
        while token in table:
            token = secrets.token_urlsafe(6)
        table[token] = tuple(choices)
        while len(table) > self.keep:
            table.popitem(last=False)
        return [encode(self.kind, f"{token}.{index}") for index in range(len(choices))]

    def lookup(self, chat_id: int, data: str | None) -> A | None:
        """What a pressed button stands for, or None when this table does not know it.

        Args:
            chat_id: The chat the button was pressed in.
            data: The button's callback data.
        """
        button = decode(data)
        if button is None or button.kind is not self.kind:
            return None
        token, _, index = button.arg.partition(".")
        table = self._chats.get(chat_id)
        choices = table.get(token) if table is not None else None
        if choices is None or not index.isdigit() or int(index) >= len(choices):
            return None
        return choices[int(index)]


def offer_table(context: ContextTypes.DEFAULT_TYPE, kind: Kind) -> OfferTable[A]:
    """The bot's table for keyboards of ``kind`` (made on first use, kept in ``bot_data``).

    Args:
        context: A handler's context.
        kind: The button kind.
    """
    key = f"offers:{kind.value}"
    table = context.application.bot_data.get(key)
    if not isinstance(table, OfferTable):
        table = OfferTable[A](kind)
        context.application.bot_data[key] = table
    return cast(OfferTable[A], table)
