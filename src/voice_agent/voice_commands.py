"""Approvals in words: a short utterance that only approves or rejects, and which request it means.

While a permission request is pending, a voice note (or a text) that is nothing
but a decision decides it instead of becoming a prompt:

* approve: "yes", "yeah", "yep", "sure", "ok", "okay", "approve", "approved",
  "allow", "accept", "confirm", "go ahead", "do it", "proceed", "sounds good";
* always: "always", "always approve", "always allow", "approve always", "yes always";
* reject: "no", "nope", "reject", "deny", "decline", "don't", "do not", "cancel that",
  "don't do it", "don't approve", "don't allow", "do not proceed", "not yet".

"please", "thanks", "that", "it", "the request" and the like may surround them,
and a number shown on a prompt may follow ("approve two", "reject number 1",
"yes #3"); "this one", "that one" name no number. Several of these phrases said
together decide when they agree ("yes, go ahead", "no, don't", "no no no"; "yes,
always" is always); when they disagree ("yes, no") it is no decision. Anything
else, or anything longer than a few words, is an ordinary prompt.

Which request a decision decides is :func:`choose`, the one rule for every front
end that takes decisions in words. A decision is bound to what the person saw:

* replying to an approval prompt, it decides that prompt's request and only it
  (already decided: it says so, and never falls back to another);
* otherwise it decides only when exactly one request was waiting in that place
  when it was said; with several it asks which, and a number that names none of
  the requests waiting there is refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from voice_agent.sessions.decisions import ALWAYS, APPROVE, REJECT, SHOWN, Action
from voice_agent.sessions.decisions import Decision as Decided

__all__ = [
    "ALWAYS",
    "APPROVE",
    "REJECT",
    "AskWhich",
    "Decide",
    "Decision",
    "Mismatch",
    "NoSuchRequest",
    "NotAPrompt",
    "NotPending",
    "Shown",
    "Target",
    "choose",
    "parse_decision",
]

_PHRASES: dict[Action, tuple[str, ...]] = {
    ALWAYS: (
        "always approve",
        "always allow",
        "approve always",
        "allow always",
        "yes always",
        "always",
    ),
    REJECT: (
        "don't do it",
        "do not do it",
        "don't do",
        "do not do",
        "don't approve",
        "do not approve",
        "don't allow",
        "do not allow",
        "don't proceed",
        "do not proceed",
        "don't accept",
        "do not accept",
        "not yet",
        "cancel that",
        "don't",
        "do not",
        "no",
        "nope",
        "nah",
        "reject",
        "rejected",
        "deny",
        "denied",
        "decline",
    ),
    APPROVE: (
        "go ahead",
        "do it",
        "sounds good",
        "yes",
        "yeah",
        "yep",
        "yup",
        "sure",
        "ok",
        "okay",
        "approve",
        "approved",
        "allow",
        "accept",
        "confirm",
        "proceed",
    ),
}

_FILLER = frozenset(
    {
        *"please thanks thank you that it this the request number".split(),
        *"one one's ones hmm uh um so just i we can".split(),
    }
)
_NUMBERS = {
    "one": 1, "first": 1, "two": 2, "to": 2, "too": 2, "second": 2, "three": 3, "third": 3,
    "four": 4, "for": 4, "fourth": 4, "five": 5, "fifth": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
_MAX_WORDS = 7


@dataclass(frozen=True)
class Decision:
    """A spoken decision.

    Attributes:
        action: ``approve``, ``always`` or ``reject``.
        number: The request number named, if any.
    """

    action: Action
    number: int | None = None

    def decided(self) -> Decided:
        """The decision it stands for (an "always" for this session, until revoked)."""
        return Decided(self.action)

    def describe(self) -> str:
        """How the echo shows it ("approved #2")."""
        return SHOWN[self.action] + (f" #{self.number}" if self.number else "")


def _words(text: str) -> list[str]:
    cleaned = re.sub(r"[^\w'\s]", " ", text.lower().replace("’", "'"))
    return cleaned.split()


_POINTING = frozenset({"this", "that", "the"})  # "this one" points; it is no number


def _take_number(words: list[str]) -> tuple[list[str], int | None]:
    number = None
    rest: list[str] = []
    for index, word in enumerate(words):
        value = int(word) if word.isdigit() else _NUMBERS.get(word)
        if word == "one" and index and words[index - 1] in _POINTING:
            value = None
        if (
            value is not None
            and number is None
            and (word.isdigit() or word not in ("to", "too", "for"))
        ):
            number = value
        elif value is not None and number is None and rest:
            number = value  # "approve to" / "approve for": a number after a verb
        else:
            rest.append(word)
    return rest, number


def parse_decision(text: str) -> Decision | None:
    """The decision ``text`` is, or None when it is an ordinary prompt.

    Args:
        text: A transcript.

    Returns:
        The decision, with the request number if one was named.
    """
    words = _words(text)
    if not words or len(words) > _MAX_WORDS:
        return None
    words, number = _take_number(words)
    candidates = (" ".join(words), " ".join(w for w in words if w not in _FILLER))
    for action, phrases in _PHRASES.items():
        if any(candidate in phrases for candidate in candidates):
            return Decision(action, number)
    agreed = _agreeing(words)
    return Decision(agreed, number) if agreed is not None else None


_BY_LENGTH = sorted(
    ((tuple(phrase.split()), action) for action, phrases in _PHRASES.items() for phrase in phrases),
    key=lambda item: -len(item[0]),
)


def _agreeing(words: Sequence[str]) -> Action | None:
    """The action of words that are all decision phrases (and filler) of one mind.

    The longest phrase is taken first ("don't approve" is one rejection, not a
    rejection and an approval; "do it" is one approval though "it" is filler);
    "always" among approvals makes them "always". None otherwise.
    """
    rest = tuple(words)
    found: set[Action] = set()
    while rest:
        match = next(((p, a) for p, a in _BY_LENGTH if rest[: len(p)] == p), None)
        if match is None and rest[0] not in _FILLER:
            return None
        if match is not None:
            found.add(match[1])
        rest = rest[len(match[0]) if match is not None else 1 :]
    if found == {REJECT} or found == {APPROVE}:
        return found.pop()
    if found and found <= {APPROVE, ALWAYS}:
        return ALWAYS
    return None


@dataclass(frozen=True)
class Shown:
    """A request whose approval prompt the person could see.

    Attributes:
        key: The request's id.
        number: The number on its prompt (None when unknown, e.g. a prompt from before
            a restart).
        pending: Whether it still waits for a decision.
    """

    key: str
    number: int | None
    pending: bool


@dataclass(frozen=True)
class Decide:
    """Decide this request.

    Attributes:
        key: The request's id.
        number: The number on its prompt.
    """

    key: str
    number: int | None


@dataclass(frozen=True)
class NotPending:
    """The request meant is already decided (or lapsed): nothing is decided.

    Attributes:
        number: Its number, when known.
    """

    number: int | None


@dataclass(frozen=True)
class AskWhich:
    """Several requests wait here and the decision names none: ask which.

    Attributes:
        numbers: The numbers of the requests waiting (in the order shown).
    """

    numbers: tuple[int, ...]


@dataclass(frozen=True)
class NoSuchRequest:
    """The number named is not one of the requests waiting here: refused.

    Attributes:
        number: The number said.
        numbers: The numbers of the requests that do wait here.
    """

    number: int
    numbers: tuple[int, ...]


@dataclass(frozen=True)
class Mismatch:
    """A reply to prompt ``replied`` that names another number: refused.

    Attributes:
        replied: The number of the prompt replied to.
        said: The number said.
    """

    replied: int
    said: int


@dataclass(frozen=True)
class NotAPrompt:
    """A reply to a message that is no approval prompt: refused (it may not mean any)."""


Target = Decide | NotPending | AskWhich | NoSuchRequest | Mismatch | NotAPrompt


def choose(
    decision: Decision,
    seen: Sequence[Shown],
    replied: Shown | NotAPrompt | None = None,
) -> Target:
    """Which request ``decision`` decides: the one rule for decisions in words.

    Args:
        decision: What was said or typed.
        seen: The requests whose prompts were waiting in this place (chat and forum
            topic) when it was said, oldest first, with whether each still waits.
        replied: The prompt the message replies to; :class:`NotAPrompt` when it
            replies to another message; None when it is no reply.

    Returns:
        :class:`Decide` with the request, or why nothing is decided.
    """
    if isinstance(replied, NotAPrompt):
        return replied
    if replied is not None:
        said = decision.number
        if said is not None and replied.number is not None and said != replied.number:
            return Mismatch(replied.number, said)
        return (
            Decide(replied.key, replied.number) if replied.pending else NotPending(replied.number)
        )
    waiting = tuple(s.number for s in seen if s.pending and s.number is not None)
    if decision.number is not None:
        named = [s for s in seen if s.number == decision.number]
        if not named:
            return NoSuchRequest(decision.number, waiting)
        if len(named) > 1:  # the same number on prompts of two sessions
            return AskWhich(waiting)
        return _one(named[0])
    if len(seen) == 1:
        return _one(seen[0])
    return AskWhich(waiting) if waiting else NotPending(None)


def _one(shown: Shown) -> Decide | NotPending:
    return Decide(shown.key, shown.number) if shown.pending else NotPending(shown.number)
