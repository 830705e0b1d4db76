"""Who may use the bot: the allowlist, and pairing when there is none.

Nobody is served by default. With an empty allowlist and no owner yet, the bot
is in pairing mode: it prints a one-time code on its console, and the first
person to send ``/pair CODE`` in a private chat becomes the owner (kept in the
store). A chat or user that is not allowed gets no reply at all, starts
nothing, and is logged once.

Rules:

* a user is allowed if listed in ``ALLOWED_USER_IDS``, an owner, or if their
  private chat is listed in ``ALLOWED_CHAT_IDS`` (a private chat's id is the
  user's id);
* a private chat is served when its user is allowed;
* a group is served only when it is listed in ``ALLOWED_CHAT_IDS``, and only
  for allowed users (other members are ignored);
* people who may chat and people who may approve tool calls are separate:
  ``APPROVER_USER_IDS`` (default: the owner) decide approvals and alone may
  widen what runs unasked (``/mode``, ``/cwd``, ``/get``, revoking rules); a
  chatter's attempt is refused, logged and audited by the front end.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable

from voice_agent.store.owners_table import OwnersTable

logger = logging.getLogger(__name__)

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_pairing_code(length: int = 8) -> str:
    """A one-time code that is easy to type on a phone (no 0/O, 1/I)."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(length))


class AccessGate:
    """Decides, for each update, whether its chat and user are served.

    Attributes:
        pairing_code: The one-time code while in pairing mode, else None.
    """

    def __init__(
        self,
        allowed_chat_ids: Iterable[int],
        allowed_user_ids: Iterable[int],
        owners: OwnersTable | None = None,
        approver_user_ids: Iterable[int] = (),
    ) -> None:
        """Build the gate; enters pairing mode when nothing is allowed yet.

        Args:
            allowed_chat_ids: Chats served.
            allowed_user_ids: Users served.
            owners: The store's owners (pairing persists there).
            approver_user_ids: Users who may decide approvals (default: the owners, or
                every allowed user when nobody paired).
        """
        self._chats = frozenset(allowed_chat_ids)
        self._users = frozenset(allowed_user_ids)
        self._approvers = frozenset(approver_user_ids)
        self._owners_table = owners
        self._owners = set(owners.list()) if owners is not None else set()
        self._logged: set[tuple[int, int | None]] = set()
        self.pairing_code: str | None = None
        if not self._chats and not self._users and not self._owners:
            self.pairing_code = new_pairing_code()

    @property
    def pairing(self) -> bool:
        """Whether the bot waits for its owner to pair."""
        return self.pairing_code is not None

    @property
    def owners(self) -> frozenset[int]:
        """User ids of the owners made by pairing."""
        return frozenset(self._owners)

    def user_allowed(self, user_id: int | None) -> bool:
        """Whether this user may use the bot (in a chat that is served)."""
        if user_id is None:
            return False
        return user_id in self._users or user_id in self._owners or user_id in self._chats

    def may_approve(self, user_id: int | None) -> bool:
        """Whether this user may approve or reject tool calls.

        With ``APPROVER_USER_IDS`` set, only those users; otherwise the owners made by
        pairing, or (when nobody paired) every allowed user.
        """
        if user_id is None:
            return False
        if self._approvers:
            return user_id in self._approvers
        if self._owners:
            return user_id in self._owners
        return self.user_allowed(user_id)

    def allows(self, chat_id: int, user_id: int | None, private: bool) -> bool:
        """Whether an update from ``user_id`` in ``chat_id`` is served.

        Logs a refused chat and user once.

        Args:
            chat_id: The chat.
            user_id: The sender (None for channel posts and the like).
            private: Whether the chat is a private chat.
        """
        chat_ok = private or chat_id in self._chats
        if chat_ok and self.user_allowed(user_id):
            return True
        if (chat_id, user_id) not in self._logged:
            self._logged.add((chat_id, user_id))
            logger.warning("ignoring chat %s user %s: not on the allowlist", chat_id, user_id)
        return False

    def pair(self, chat_id: int, user_id: int | None, private: bool, code: str) -> bool:
        """Make the sender the owner if the code is right (private chats only).

        The code works once; afterwards pairing mode ends.

        Args:
            chat_id: The chat the code was sent in.
            user_id: The sender.
            private: Whether the chat is private.
            code: What the sender typed.

        Returns:
            True when the sender is now the owner.
        """
        expected = self.pairing_code
        if expected is None or user_id is None or not private:
            return False
        if not secrets.compare_digest(code.strip().upper(), expected):
            logger.warning("wrong pairing code from user %s", user_id)
            return False
        self._owners.add(user_id)
        if self._owners_table is not None:
            self._owners_table.add(user_id, chat_id)
        self.pairing_code = None
        logger.warning("user %s is now the owner of this bot", user_id)
        return True
