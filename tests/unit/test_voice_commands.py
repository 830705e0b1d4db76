"""Spoken approvals: only short, pure decisions count."""

from __future__ import annotations

import pytest

from voice_agent.voice_commands import ALWAYS, APPROVE, REJECT, Decision, parse_decision


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes.", Decision(APPROVE)),
        ("yeah, go ahead", None),  # two decisions in one: not a pure phrase
        ("Go ahead.", Decision(APPROVE)),
        ("Approve two.", Decision(APPROVE, 2)),
        ("approve to", Decision(APPROVE, 2)),  # "two" misheard
        ("Approve number 3, please.", Decision(APPROVE, 3)),
        ("yes 1", Decision(APPROVE, 1)),
        ("No.", Decision(REJECT)),
        ("Reject the first one", Decision(REJECT, 1)),
        ("Don't do it!", Decision(REJECT)),
        ("Always approve.", Decision(ALWAYS)),
        ("always allow that", Decision(ALWAYS)),
        ("OK", Decision(APPROVE)),
        ("I approve one.", Decision(APPROVE, 1)),
        ("you can go ahead", Decision(APPROVE)),
        ("no tests are failing in the api module today", None),  # a prompt
        ("yes, and then run the tests", None),
        ("run the tests", None),
        ("", None),
        ("approve the deployment to production", None),
    ],
)
def test_parse_decision(text: str, expected: Decision | None) -> None:
    assert parse_decision(text) == expected


def test_describe() -> None:
    assert Decision(APPROVE, 2).describe() == "✅ approved #2"
    assert Decision(REJECT).describe() == "❌ rejected"
