"""A session's sticky rules: loaded from the store on first use, persisted on change.

Mixed into :class:`~voice_agent.sessions.permissions.PermissionHandler`, whose
documented rule methods these are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from voice_agent.policy.bash import is_within
from voice_agent.policy.rules import StickyApproval

if TYPE_CHECKING:
    from voice_agent.sessions.storage import SessionStorage


class _Host(Protocol):
    """What the rule methods need from the permission handler."""

    _storage: SessionStorage | None
    _sticky: list[StickyApproval] | None
    chat_id: int | None
    session_name: str | None
    cwd: str | None

    @property
    def sticky_approvals(self) -> list[StickyApproval]: ...

    def _load_sticky(self) -> list[StickyApproval]: ...


class StickyRulesMixin:
    """Listing, adding and revoking a session's sticky rules."""

    _sticky: list[StickyApproval] | None

    def _load_sticky(self: _Host) -> list[StickyApproval]:
        if self._storage is None or self.chat_id is None or self.session_name is None:
            return []
        return [
            StickyApproval(
                r.tool_name, r.pattern, r.field_name, r.label, r.id, r.expires_at, r.project
            )
            for r in self._storage.sticky.list(self.chat_id, self.session_name)
        ]

    def project_rules(self: _Host) -> list[StickyApproval]:
        """The chat's project-wide rules that cover this session's working directory."""
        if self._storage is None or self.chat_id is None or not self.cwd:
            return []
        rules = [
            StickyApproval(
                r.tool_name, r.pattern, r.field_name, r.label, r.id, r.expires_at, r.project
            )
            for r in self._storage.sticky.project_rules(self.chat_id)
        ]
        return [r for r in rules if r.project and is_within(self.cwd, [r.project])]

    def reload_sticky(self: _Host) -> None:
        """Re-read the sticky rules from the store (after a rename or import)."""
        self._sticky = None

    def add_sticky_approval(self: _Host, rule: StickyApproval) -> StickyApproval:
        """Add (and persist) a sticky rule unless an equal one exists.

        Args:
            rule: The rule to add.

        Returns:
            The rule now in force.
        """
        existing = next((r for r in self.sticky_approvals if r == rule), None)
        if existing is not None:
            return existing
        if self._storage is not None and self.chat_id is not None and self.session_name:
            rule.rule_id = self._storage.sticky.add(
                self.chat_id,
                self.session_name,
                rule.tool_name,
                rule.pattern,
                rule.field_name,
                rule.label,
                rule.expires_at,
                rule.project,
            )
        if rule.project is None or self._storage is None:
            self.sticky_approvals.append(rule)
        return rule

    def get_sticky_approvals(self: _Host) -> list[StickyApproval]:
        """Get all active sticky approvals.

        Returns:
            List of sticky approval rules.
        """
        return list(self.sticky_approvals)

    def clear_sticky_approvals(self: _Host) -> int:
        """Clear all sticky approvals.

        Returns:
            Number of approvals cleared.
        """
        count = len(self.sticky_approvals)
        self.sticky_approvals.clear()
        if self._storage is not None and self.chat_id is not None and self.session_name:
            self._storage.sticky.clear(self.chat_id, self.session_name)
        return count

    def remove_sticky_approval(self: _Host, index: int) -> StickyApproval | None:
        """Remove a sticky approval by index.

        Args:
            index: Index of the approval to remove (0-based).

        Returns:
            The removed StickyApproval or None if index invalid.
        """
        if not 0 <= index < len(self.sticky_approvals):
            return None
        rule = self.sticky_approvals.pop(index)
        if self._storage is not None and rule.rule_id is not None:
            self._storage.sticky.remove(rule.rule_id)
        return rule
