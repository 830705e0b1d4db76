"""What the buttons under a ``/diff`` carry: a short token for the list of files they name.

Telegram gives a button 64 bytes of data, and a path can be longer, so a
``/diff`` message's buttons carry a token and an index (``dv:<token>.<n>``) and
:class:`DiffLinks` keeps, per token, the chat, the working directory and the
files listed. The newest ``LIMIT`` lists are kept (in memory: after a restart, or
once a list is that old, its buttons are stale and answered so).
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass

LIMIT = 500
"""Lists remembered; older ones' buttons are stale."""


@dataclass(frozen=True)
class DiffList:
    """What one ``/diff`` (or a turn's 📄 Diff button) showed.

    Attributes:
        chat_id: The chat it was shown in (a press from another chat is stale).
        cwd: The working directory it was taken in.
        paths: The files listed, in button order (relative to the working tree's top).
        machine: The other machine the working directory is on (None: this one).
        session: The session's name (a worker is told it with the directory).
    """

    chat_id: int
    cwd: str
    paths: tuple[str, ...] = ()
    machine: str | None = None
    session: str = ""


class DiffLinks:
    """The newest lists shown, by token."""

    def __init__(self, limit: int = LIMIT) -> None:
        """Remember at most ``limit`` lists."""
        self._limit = limit
        self._lists: OrderedDict[str, DiffList] = OrderedDict()

    def add(self, shown: DiffList) -> str:
        """Remember ``shown``; returns its token (8 URL-safe characters)."""
        token = secrets.token_urlsafe(6)
        self._lists[token] = shown
        while len(self._lists) > self._limit:
            self._lists.popitem(last=False)
        return token

    def get(self, token: str, chat_id: int) -> DiffList | None:
        """The list of ``token`` when it was shown in ``chat_id``; None: stale or foreign."""
        found = self._lists.get(token)
        return found if found is not None and found.chat_id == chat_id else None
