"""A session's sticky rules on another machine: ``/approvals`` through the protocol.

A session on another machine keeps its "Always" rules there: that machine's
permission checker applies them, from its own store (the hub keeps none, see
``PermissionHandler.keep_rules``). So ``/approvals`` asks the worker for them
(``va.w.M.rules``, :class:`~voice_agent.machines.protocol.RulesCommand`), and its
revoke buttons revoke them there, by the rule's id in the worker's store. The
worker answers with the rules in force after the command
(:class:`~voice_agent.machines.protocol.RulesReply`); it revokes only a rule
that session lists (its own, or a project rule covering its directory).
"""

from __future__ import annotations

from dataclasses import dataclass

from voice_agent.machines.protocol import RuleEntry, RulesCommand, RulesReply
from voice_agent.sessions.rules import SessionRules
from voice_agent.sessions.storage import SessionStorage

MAX_RULES = 200
"""Rules a reply lists at most (a session has a handful; this keeps a reply small)."""
MAX_RULE_TEXT = 500
"""Characters of one rule's description in a reply."""


@dataclass
class StoredScope:
    """The scope of a session the worker has not loaded: its rules are in the store."""

    chat_id: int | None
    session_name: str | None
    cwd: str | None


def stored_rules(command: RulesCommand, storage: SessionStorage | None) -> SessionRules:
    """The rules of the session ``command`` names, read from ``storage``.

    Args:
        command: The hub's command (its chat, session and directory).
        storage: The worker's store.
    """
    return SessionRules(StoredScope(command.chat_id, command.session, command.cwd), storage)


def rules_reply(rules: SessionRules, command: RulesCommand) -> RulesReply:
    """Do ``command`` on a session's ``rules`` and list the rules in force after it.

    Args:
        rules: The session's rules on the worker.
        command: List, revoke one (by id) or revoke all.
    """
    revoked = 0
    if command.action == "revoke_all":
        revoked = rules.revoke_all()
    elif command.action == "revoke":
        if command.rule_id is None:
            return RulesReply(ok=False, error="which rule to revoke was not said")
        revoked = int(rules.revoke(command.rule_id))
    entries = [
        RuleEntry(
            rule_id=rule.rule_id,
            text=rule.describe()[:MAX_RULE_TEXT],
            project=rule.project is not None,
        )
        for rule in rules.in_force()[:MAX_RULES]
    ]
    return RulesReply(ok=True, rules=entries, revoked=revoked)
