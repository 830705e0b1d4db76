"""The access gate (defect 5: never open by default) and pairing."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_agent.access import AccessGate
from voice_agent.sessions import SessionStorage


def test_defect5_empty_allowlist_serves_nobody_and_starts_pairing(tmp_path: Path) -> None:
    store = SessionStorage(tmp_path / "s.db")
    gate = AccessGate((), (), store.owners)
    assert gate.pairing
    assert gate.pairing_code is not None
    assert not gate.allows(100, 100, private=True)
    assert not gate.allows(-5, 100, private=False)


def test_pairing_makes_the_owner_once(tmp_path: Path) -> None:
    store = SessionStorage(tmp_path / "s.db")
    gate = AccessGate((), (), store.owners)
    code = gate.pairing_code
    assert code is not None
    assert not gate.pair(-5, 100, private=False, code=code)  # groups cannot pair
    assert not gate.pair(100, 100, private=True, code="WRONG")
    assert gate.pair(100, 100, private=True, code=code.lower())
    assert not gate.pairing
    assert not gate.pair(200, 200, private=True, code=code)  # used up
    assert gate.allows(100, 100, private=True)
    assert not gate.allows(200, 200, private=True)
    again = AccessGate((), (), store.owners)  # after a restart
    assert not again.pairing
    assert again.allows(100, 100, private=True)


def test_allowlisted_users_and_chats() -> None:
    gate = AccessGate(allowed_chat_ids=[10, -500], allowed_user_ids=[20])
    assert not gate.pairing
    assert gate.allows(10, 10, private=True)  # a private chat id is its user's id
    assert gate.allows(20, 20, private=True)
    assert not gate.allows(30, 30, private=True)
    assert gate.allows(-500, 20, private=False)
    assert not gate.allows(-500, 30, private=False)  # group: only allowed users count
    assert not gate.allows(-600, 20, private=False)  # group not on the list
    assert not gate.allows(-500, None, private=False)


def test_refusals_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    gate = AccessGate([1], [])
    for _ in range(3):
        gate.allows(99, 99, private=True)
    assert caplog.text.count("not on the allowlist") == 1


def test_approvers_are_separate_from_chatters(tmp_path: Path) -> None:
    gate = AccessGate([], [1, 2], approver_user_ids=[1])
    assert gate.may_approve(1)
    assert not gate.may_approve(2)
    assert gate.allows(2, 2, private=True)
    everyone = AccessGate([], [1, 2])
    assert everyone.may_approve(2)  # nobody paired and no approver list: allowed users
    store = SessionStorage(tmp_path / "s.db")
    paired = AccessGate([], [], store.owners)
    assert paired.pairing_code is not None
    paired.pair(5, 5, private=True, code=paired.pairing_code)
    assert paired.may_approve(5)
    assert not paired.may_approve(6)
