"""A remote session's sticky rules on the wire: RulesCommand/RulesReply and the worker's side."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from voice_agent.machines.protocol import (
    COMMANDS,
    PROTOCOL_VERSION,
    ProtocolError,
    RuleEntry,
    RulesCommand,
    RulesReply,
    command_subject,
)
from voice_agent.machines.rules import rules_reply, stored_rules
from voice_agent.policy.rules import StickyApproval
from voice_agent.sessions import SessionManager, SessionStorage


def test_the_rules_messages_round_trip_with_their_version() -> None:
    command = RulesCommand(chat_id=5, session="api", cwd="/code/api", action="revoke", rule_id=7)
    assert json.loads(command.encode())["v"] == PROTOCOL_VERSION
    assert RulesCommand.decode(command.encode()) == command
    assert RulesCommand.decode(b'{"v": 1, "chat_id": 5, "session": "api"}').action == "list"
    reply = RulesReply(
        ok=True,
        rules=[RuleEntry(rule_id=3, text="Bash: touch", project=False), RuleEntry(text="x")],
        revoked=1,
    )
    assert RulesReply.decode(reply.encode()) == reply
    assert "rules" in COMMANDS
    assert command_subject("alpha", "rules") == "va.w.alpha.rules"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ({"v": 2, "chat_id": 5, "session": "api"}, "protocol version 2"),
        ({"v": 1, "chat_id": 5, "session": "api", "action": "drop_table"}, "action"),
        ({"v": 1, "chat_id": 5, "session": "api", "rule_id": "seven"}, "rule_id"),
        ({"v": 1, "session": "api"}, "chat_id"),
    ],
)
def test_a_bad_rules_command_is_refused_whole(raw: dict[str, object], why: str) -> None:
    with pytest.raises(ProtocolError, match=re.escape(why)):
        RulesCommand.decode(json.dumps(raw).encode())


def test_a_reply_that_is_not_one_is_refused() -> None:
    with pytest.raises(ProtocolError, match="ok"):
        RulesReply.decode(b'{"v": 1, "rules": []}')


def _rule(command: str, project: str | None = None) -> StickyApproval:
    return StickyApproval(
        "Bash", re.escape(command), "command", f"Bash: {command}", project=project
    )


def test_the_worker_lists_and_revokes_only_that_sessions_rules(tmp_path: Path) -> None:
    storage = SessionStorage(tmp_path / "s.db")
    manager = SessionManager(default_cwd=str(tmp_path), storage=storage)
    cwd = str(tmp_path)
    handler = manager.get_or_create(1, cwd=cwd, name="api").permission_handler
    own = handler.add_sticky_approval(_rule("touch a.txt"))
    handler.add_sticky_approval(_rule("touch b.txt"))
    handler.add_sticky_approval(_rule("make", project=cwd))
    other = manager.get_or_create(2, cwd=cwd, name="api").permission_handler
    foreign = other.add_sticky_approval(_rule("rm x"))
    assert own.rule_id is not None
    assert foreign.rule_id is not None

    listing = rules_reply(handler.rules, RulesCommand(chat_id=1, session="api", cwd=cwd))
    assert listing.ok
    assert [(r.text.split(" — ")[0], r.project) for r in listing.rules] == [
        ("Bash: touch a.txt", False),
        ("Bash: touch b.txt", False),
        ("Bash: make", True),
    ]
    assert all(r.rule_id is not None for r in listing.rules)

    # Another chat's rule id changes nothing, in memory or in the store.
    wrong = RulesCommand(
        chat_id=1, session="api", cwd=cwd, action="revoke", rule_id=foreign.rule_id
    )
    assert rules_reply(handler.rules, wrong).revoked == 0
    assert other.get_sticky_approvals() == [foreign]
    assert len(storage.sticky.list(2, "api")) == 1

    one = RulesCommand(chat_id=1, session="api", cwd=cwd, action="revoke", rule_id=own.rule_id)
    after = rules_reply(handler.rules, one)
    assert after.revoked == 1
    assert "Bash: touch a.txt" not in [r.text for r in after.rules]
    assert own not in handler.get_sticky_approvals()  # the live checker no longer has it
    assert rules_reply(handler.rules, one).revoked == 0  # already revoked

    everything = rules_reply(
        handler.rules, RulesCommand(chat_id=1, session="api", cwd=cwd, action="revoke_all")
    )
    assert everything.revoked == 2  # its own rule left and the project rule over it
    assert everything.rules == []
    assert handler.get_sticky_approvals() == []
    assert handler.project_rules() == []
    assert other.get_sticky_approvals() == [foreign]
    storage.close()


def test_a_session_the_worker_has_not_loaded_is_read_from_its_store(tmp_path: Path) -> None:
    storage = SessionStorage(tmp_path / "s.db")
    manager = SessionManager(default_cwd=str(tmp_path), storage=storage)
    manager.get_or_create(1, cwd=str(tmp_path), name="api").permission_handler.add_sticky_approval(
        _rule("touch a.txt")
    )
    command = RulesCommand(chat_id=1, session="api", cwd=str(tmp_path))
    listed = rules_reply(stored_rules(command, storage), command)
    assert [r.text for r in listed.rules] == ["Bash: touch a.txt"]
    assert rules_reply(stored_rules(command, None), command).rules == []
    missing = RulesCommand(chat_id=1, session="api", action="revoke")
    assert not rules_reply(stored_rules(missing, storage), missing).ok
    storage.close()
