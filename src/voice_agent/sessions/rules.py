"""A session's sticky rules: listed, added, revoked, persisted with the session.

:class:`SessionRules` is held by the permission handler as ``handler.rules``. The
session's own rules are read from the store on first use and written on every
change; the chat's project-wide rules that cover the session's working directory
are read from the store each time (another session may have added one).
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Protocol

from voice_agent.policy.bash import is_within
from voice_agent.policy.rules import StickyApproval
from voice_agent.store.records import StoredStickyRule

if TYPE_CHECKING:
    from voice_agent.sessions.storage import SessionStorage


class RuleScope(Protocol):
    """Whose rules they are: the session's chat, name and working directory (they change)."""

    chat_id: int | None
    session_name: str | None
    cwd: str | None


def _rule(stored: StoredStickyRule) -> StickyApproval:
    return StickyApproval(
        stored.tool_name,
        stored.pattern,
        stored.field_name,
        stored.label,
        stored.id,
        stored.expires_at,
        stored.project,
    )


class SessionRules:
    """Listing, adding and revoking a session's sticky rules, and its project rules."""

    def __init__(self, scope: RuleScope, storage: SessionStorage | None) -> None:
        """Keep the rules of ``scope``'s session, in ``storage`` when there is one.

        Args:
            scope: The session (its chat, name and working directory, read at each use).
            storage: Where the rules are persisted, if anywhere.
        """
        self._scope = scope
        self._storage = storage
        self._session: builtins.list[StickyApproval] | None = None  # read on first use

    @property
    def session(self) -> builtins.list[StickyApproval]:
        """The session's own rules (the live list; persisted with the session)."""
        if self._session is None:
            self._session = self._load()
        return self._session

    @session.setter
    def session(self, rules: builtins.list[StickyApproval]) -> None:
        self._session = rules

    def _load(self) -> builtins.list[StickyApproval]:
        chat_id, name = self._scope.chat_id, self._scope.session_name
        if self._storage is None or chat_id is None or name is None:
            return []
        return [_rule(r) for r in self._storage.sticky.list(chat_id, name)]

    def project(self) -> builtins.list[StickyApproval]:
        """The chat's project-wide rules that cover the session's working directory."""
        chat_id, cwd = self._scope.chat_id, self._scope.cwd
        if self._storage is None or chat_id is None or not cwd:
            return []
        rules = [_rule(r) for r in self._storage.sticky.project_rules(chat_id)]
        return [r for r in rules if r.project and is_within(cwd, [r.project])]

    def in_force(self) -> builtins.list[StickyApproval]:
        """Every rule that may approve a call of this session: its own, then project rules."""
        return [*self.session, *self.project()]

    def list(self) -> builtins.list[StickyApproval]:
        """A copy of the session's own rules."""
        return builtins.list(self.session)

    def add(self, rule: StickyApproval) -> StickyApproval:
        """Add (and persist) a rule unless an equal one exists.

        Args:
            rule: The rule to add.

        Returns:
            The rule now in force.
        """
        existing = next((r for r in self.session if r == rule), None)
        if existing is not None:
            return existing
        chat_id, name = self._scope.chat_id, self._scope.session_name
        if self._storage is not None and chat_id is not None and name:
            rule.rule_id = self._storage.sticky.add(
                chat_id,
                name,
                rule.tool_name,
                rule.pattern,
                rule.field_name,
                rule.label,
                rule.expires_at,
                rule.project,
            )
        if rule.project is None or self._storage is None:
            self.session.append(rule)
        return rule

    def clear(self) -> int:
        """Revoke all the session's own rules.

        Returns:
            How many were revoked.
        """
        count = len(self.session)
        self.session.clear()
        chat_id, name = self._scope.chat_id, self._scope.session_name
        if self._storage is not None and chat_id is not None and name:
            self._storage.sticky.clear(chat_id, name)
        return count

    def remove(self, index: int) -> StickyApproval | None:
        """Revoke one of the session's own rules by its index in :meth:`list`.

        Args:
            index: 0-based index.

        Returns:
            The revoked rule, or None if the index is invalid.
        """
        if not 0 <= index < len(self.session):
            return None
        rule = self.session.pop(index)
        if self._storage is not None and rule.rule_id is not None:
            self._storage.sticky.remove(rule.rule_id)
        return rule

    def revoke(self, rule_id: int) -> bool:
        """Revoke the session's own rule, or a project rule covering it, with id ``rule_id``.

        Only a rule this session lists can be revoked: an id of another chat's or
        another project's rule changes nothing.

        Args:
            rule_id: The rule's id in the store.

        Returns:
            Whether a rule was revoked (False: already gone).
        """
        index = next((i for i, r in enumerate(self.session) if r.rule_id == rule_id), None)
        if index is not None:
            return self.remove(index) is not None
        covering = {r.rule_id for r in self.project()}
        if self._storage is None or rule_id not in covering:
            return False
        return self._storage.sticky.remove(rule_id)

    def revoke_all(self) -> int:
        """Revoke the session's own rules and the project rules that cover it.

        Returns:
            How many were revoked.
        """
        count = self.clear()
        for rule in self.project():
            if self._storage is not None and rule.rule_id is not None:
                count += self._storage.sticky.remove(rule.rule_id)
        return count
