"""Spoken approvals: a short utterance that only approves or rejects a pending request.

While a permission request is pending, a voice note that is nothing but a
decision decides it instead of becoming a prompt:

* approve: "yes", "yeah", "yep", "sure", "ok", "okay", "approve", "approved",
  "allow", "accept", "confirm", "go ahead", "do it", "proceed", "sounds good";
* always: "always", "always approve", "always allow", "approve always", "yes always";
* reject: "no", "nope", "reject", "deny", "decline", "don't", "do not", "cancel that",
  "don't do it".

"please", "thanks", "that", "it", "the request" and the like may surround them.
When several requests are pending, the utterance must name the number shown on
the prompt ("approve two", "reject number 1", "yes 3"); otherwise the bot asks
which. Anything else, or anything longer than a few words, is an ordinary prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

APPROVE = "approve"
ALWAYS = "always"
REJECT = "reject"

_PHRASES: dict[str, tuple[str, ...]] = {
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

    action: str
    number: int | None = None

    def describe(self) -> str:
        """How the echo shows it ("approved #2")."""
        verb = {APPROVE: "✅ approved", ALWAYS: "♾ always approved", REJECT: "❌ rejected"}
        return verb[self.action] + (f" #{self.number}" if self.number else "")


def _words(text: str) -> list[str]:
    cleaned = re.sub(r"[^\w'\s]", " ", text.lower().replace("’", "'"))
    return cleaned.split()


def _take_number(words: list[str]) -> tuple[list[str], int | None]:
    number = None
    rest: list[str] = []
    for word in words:
        value = int(word) if word.isdigit() else _NUMBERS.get(word)
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
    return None
