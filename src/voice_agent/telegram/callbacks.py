"""The one codec for inline-button payloads (Telegram allows 64 bytes of callback data).

Every button's data is ``<kind>:<arg>[:<arg>...]``; :func:`decode` returns a typed
:class:`Button` or None for data this version did not make (a stale or forged
button), which handlers answer with "no longer pending" and otherwise ignore.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MAX_DATA_BYTES = 64
MAX_ANSWER = 200
"""Characters of a button press's answer (Telegram refuses a longer one)."""


class Kind(StrEnum):
    """What a button does."""

    APPROVE = "ok"  # arg: request id
    ALWAYS = "al"  # arg: request id
    REJECT = "no"  # arg: request id
    STOP = "st"  # arg: session key
    REVOKE = "rv"  # arg: sticky rule id
    REVOKE_ALL = "ra"  # arg: session name
    SWITCH = "sw"  # arg: session name
    CLOSE = "cl"  # arg: session name (asks for confirmation)
    CLOSE_YES = "cy"  # arg: session name
    NEW = "nw"  # no arg
    RESUME = "rs"  # arg: Claude session id
    CANCEL = "cx"  # no arg: dismiss a dialog
    VOICE_SEND = "vs"  # arg: transcript token
    VOICE_CANCEL = "vc"  # arg: transcript token
    GET = "gf"  # arg: file token
    SCOPE = "sc"  # arg: "<s|s1|p|p1>:<request id>" (session/project, until revoked/1 hour)
    BACK = "bk"  # arg: request id (back from the scope choice)
    ANSWER = "an"  # arg: "<question>.<option>:<request id>" (AskUserQuestion)
    RESUME_ALL = "rz"  # arg: "<keyboard token>.<index>" (/resume all, telegram/offers.py)
    DIRECTORY = "dz"  # arg: "<keyboard token>.<index>" (the directory keyboard)
    DIFF = "dd"  # arg: diff list token (a turn's 📄 Diff: the whole working tree)
    DIFF_FILE = "dv"  # arg: "<diff list token>.<file index>"
    UNSCHEDULE = "us"  # arg: schedule id


@dataclass(frozen=True)
class Button:
    """A decoded button press.

    Attributes:
        kind: What the button does.
        arg: Its argument ("" when none).
    """

    kind: Kind
    arg: str = ""


def encode(kind: Kind, arg: str = "") -> str:
    """Callback data for a button.

    Args:
        kind: What the button does.
        arg: Its argument (must not make the data longer than 64 bytes).

    Returns:
        The data string.

    Raises:
        ValueError: The data would be longer than Telegram allows.
    """
    data = f"{kind.value}:{arg}"
    if len(data.encode()) > MAX_DATA_BYTES:
        raise ValueError(f"callback data too long: {data!r}")
    return data


def decode(data: str | None) -> Button | None:
    """Read callback data; None for anything this codec did not produce.

    Args:
        data: The callback query's data.
    """
    if not data or ":" not in data:
        return None
    prefix, arg = data.split(":", 1)
    try:
        kind = Kind(prefix)
    except ValueError:
        return None
    return Button(kind, arg)


def pattern(*kinds: Kind) -> str:
    """A ``CallbackQueryHandler`` pattern matching these kinds.

    Args:
        *kinds: The button kinds the handler serves.
    """
    return "^(?:" + "|".join(k.value for k in kinds) + "):"


def answer_text(text: str) -> str:
    """``text`` cut to fit a button press's answer (``MAX_ANSWER``, "…" when cut)."""
    return text if len(text) <= MAX_ANSWER else text[: MAX_ANSWER - 1] + "…"
