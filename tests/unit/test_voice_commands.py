"""Approvals in words: only short, pure decisions count, and each means one request."""

from __future__ import annotations

import pytest

from voice_agent.voice_commands import (
    ALWAYS,
    APPROVE,
    REJECT,
    AskWhich,
    Decide,
    Decision,
    Mismatch,
    NoSuchRequest,
    NotAPrompt,
    NotPending,
    Shown,
    choose,
    parse_decision,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes.", Decision(APPROVE)),
        ("yeah, go ahead", Decision(APPROVE)),  # two approvals in one: they agree
        ("yes, do it", Decision(APPROVE)),
        ("Okay, go ahead.", Decision(APPROVE)),
        ("No, don't.", Decision(REJECT)),
        ("No, no, no, no.", Decision(REJECT)),
        ("don't approve that", Decision(REJECT)),  # one rejection, not two minds
        ("do not proceed", Decision(REJECT)),
        ("not yet", Decision(REJECT)),
        ("yes, always", Decision(ALWAYS)),
        ("yes, no", None),  # they disagree: no decision
        ("no, yes", None),
        ("I don't know", None),
        ("approve this one", Decision(APPROVE)),  # "this one" points; it is no number
        ("yes, that one", Decision(APPROVE)),
        ("reject the one", Decision(REJECT)),
        ("approve one", Decision(APPROVE, 1)),
        ("Go ahead.", Decision(APPROVE)),
        ("Approve two.", Decision(APPROVE, 2)),
        ("approve to", Decision(APPROVE, 2)),  # "two" misheard
        ("Approve number 3, please.", Decision(APPROVE, 3)),
        ("yes 1", Decision(APPROVE, 1)),
        ("approve #3", Decision(APPROVE, 3)),  # typed, with the prompt's number
        ("no #12", Decision(REJECT, 12)),
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


ONE = Shown("r1", 1, pending=True)
TWO = Shown("r2", 2, pending=True)
TWO_DONE = Shown("r2", 2, pending=False)
YES = Decision(APPROVE)


def test_a_reply_decides_the_prompt_replied_to_and_only_it() -> None:
    assert choose(YES, [ONE, TWO], replied=TWO) == Decide("r2", 2)
    assert choose(Decision(REJECT, 2), [ONE, TWO], replied=TWO) == Decide("r2", 2)
    # Already decided: say so, never fall back to the other waiting request.
    assert choose(YES, [ONE, TWO_DONE], replied=TWO_DONE) == NotPending(2)
    assert choose(YES, [ONE], replied=TWO_DONE) == NotPending(2)
    # A prompt from before a restart (no number known) is no longer pending either.
    assert choose(YES, [ONE], replied=Shown("old", None, pending=False)) == NotPending(None)


def test_a_reply_naming_another_number_is_refused() -> None:
    assert choose(Decision(APPROVE, 1), [ONE, TWO], replied=TWO) == Mismatch(replied=2, said=1)


def test_a_reply_to_a_message_that_is_no_prompt_is_refused() -> None:
    assert choose(YES, [ONE], replied=NotAPrompt()) == NotAPrompt()


def test_without_a_reply_only_a_single_waiting_request_is_decided() -> None:
    assert choose(YES, [ONE]) == Decide("r1", 1)
    assert choose(YES, [ONE, TWO]) == AskWhich((1, 2))
    # Two were on screen and one was decided meanwhile: still ambiguous to the speaker.
    assert choose(YES, [ONE, TWO_DONE]) == AskWhich((1,))
    # The only one seen was decided meanwhile: nothing else is taken instead.
    assert choose(YES, [TWO_DONE]) == NotPending(2)


def test_a_number_must_name_a_request_waiting_here() -> None:
    assert choose(Decision(REJECT, 2), [ONE, TWO]) == Decide("r2", 2)
    assert choose(Decision(APPROVE, 3), [ONE, TWO]) == NoSuchRequest(3, (1, 2))
    assert choose(Decision(APPROVE, 2), [ONE, TWO_DONE]) == NotPending(2)
    assert choose(Decision(APPROVE, 1), []) == NoSuchRequest(1, ())


def test_the_same_number_on_prompts_of_two_sessions_asks_which() -> None:
    other = Shown("s2-r1", 1, pending=True)
    assert choose(Decision(APPROVE, 1), [ONE, other]) == AskWhich((1, 1))
