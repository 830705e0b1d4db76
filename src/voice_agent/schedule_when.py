"""When a scheduled prompt runs: a small, strict parser of ``/schedule``'s ``<when>``.

Four forms, nothing else (times are wall-clock times in the bot's time zone)::

    in 30m        once, 30 minutes from now (m, h or d: in 2h, in 1d)
    at 18:00      once, at the next 18:00 (today, or tomorrow if it has passed)
    daily 09:00   every day at 09:00
    every 2h      every 2 hours from now (every 30m; at least every 5 minutes)

Durations are a whole number and one unit, at most 30 days; a time is ``H:MM``
or ``HH:MM`` on a 24-hour clock. Anything else is a :class:`WhenError` whose
message is :data:`USAGE`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal

USAGE = (
    "Usage: /schedule <when> <prompt>, with <when> one of:\n"
    "  in 30m · in 2h · in 1d — once, after that long\n"
    "  at 18:00 — once, at the next 18:00\n"
    "  daily 09:00 — every day at 09:00\n"
    "  every 2h · every 30m — repeatedly (at least every 5m)\n"
    "Example: /schedule daily 09:00 run the tests and tell me what fails"
)

MAX_DURATION = timedelta(days=30)
MIN_REPEAT = timedelta(minutes=5)
"""The shortest ``every``: a turn a minute would pile up behind itself and cost a lot."""

_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
_DURATION = re.compile(r"([1-9][0-9]{0,4})([mhd])")
_CLOCK = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")

Kind = Literal["in", "at", "daily", "every"]


class WhenError(ValueError):
    """``<when>`` is not one of the forms; the message is the usage to show."""


@dataclass(frozen=True)
class When:
    """A parsed ``<when>``.

    Attributes:
        kind: ``in``, ``at``, ``daily`` or ``every``.
        every: The interval of ``in`` and ``every`` (None for a clock time).
        at: The wall-clock time of ``at`` and ``daily`` (None for a duration).
    """

    kind: Kind
    every: timedelta | None = None
    at: time | None = None

    @property
    def repeats(self) -> bool:
        """Whether it runs more than once (``daily``, ``every``)."""
        return self.kind in ("daily", "every")

    @property
    def text(self) -> str:
        """The canonical spelling (``every 2h``, ``daily 09:00``), as stored."""
        if self.at is not None:
            return f"{self.kind} {self.at:%H:%M}"
        assert self.every is not None
        for unit in ("d", "h", "m"):
            count, rest = divmod(self.every, _UNITS[unit])
            if not rest:
                return f"{self.kind} {count}{unit}"
        raise AssertionError("durations are whole minutes")  # pragma: no cover

    def first_run(self, now: datetime) -> datetime:
        """When it runs first, scheduled at ``now`` (an aware time in the bot's zone)."""
        if self.every is not None:
            return _later(now, self.every)
        return _next_clock(now, self._clock())

    def next_run(self, previous: datetime, now: datetime) -> datetime | None:
        """When it runs after the run due at ``previous``: the first such time after ``now``.

        Runs missed meanwhile (the bot was down) are skipped, not caught up.

        Args:
            previous: When the last run was due.
            now: The time now (aware, in the bot's zone).

        Returns:
            The next run, or None for a one-shot.
        """
        if not self.repeats:
            return None
        if self.every is not None:
            missed = max((now.astimezone(UTC) - previous.astimezone(UTC)) // self.every, 0)
            return _later(previous, (missed + 1) * self.every)
        return _next_clock(max(previous, now), self._clock())

    def _clock(self) -> time:
        assert self.at is not None
        return self.at


def _later(start: datetime, span: timedelta) -> datetime:
    """``span`` of real time after ``start`` (not of wall-clock time across a DST change)."""
    return (start.astimezone(UTC) + span).astimezone(start.tzinfo)


def _next_clock(now: datetime, at: time) -> datetime:
    """The first wall-clock ``at`` strictly after ``now``, in ``now``'s zone."""
    zone = now.tzinfo
    day = now.date()
    for _ in range(3):  # today, tomorrow, and one more day across a DST gap
        candidate = datetime.combine(day, at, tzinfo=zone)
        if candidate > now:
            return candidate
        day += timedelta(days=1)
    raise AssertionError("a clock time comes within two days")  # pragma: no cover


def parse_when(words: str) -> When:
    """Read a ``<when>`` (``in 30m``, ``at 18:00``, ``daily 09:00``, ``every 2h``).

    Args:
        words: The two words, any case, any spacing between them.

    Returns:
        The parsed form.

    Raises:
        WhenError: It is none of the forms (or out of bounds); the message is the usage.
    """
    parts = words.lower().split()
    if len(parts) != 2:
        raise WhenError(USAGE)
    kind, value = parts
    if kind in ("in", "every"):
        match = _DURATION.fullmatch(value)
        if match is None:
            raise WhenError(USAGE)
        every = int(match.group(1)) * _UNITS[match.group(2)]
        if every > MAX_DURATION:
            raise WhenError(f"At most 30 days ahead.\n\n{USAGE}")
        if kind == "every" and every < MIN_REPEAT:
            raise WhenError(f"At most every 5 minutes.\n\n{USAGE}")
        return When("in" if kind == "in" else "every", every=every)
    if kind in ("at", "daily"):
        clock = _CLOCK.fullmatch(value)
        if clock is None:
            raise WhenError(USAGE)
        at = time(int(clock.group(1)), int(clock.group(2)))
        return When("at" if kind == "at" else "daily", at=at)
    raise WhenError(USAGE)


def split_schedule(text: str) -> tuple[When, str]:
    """Split ``/schedule``'s arguments into the ``<when>`` and the prompt.

    Args:
        text: Everything after ``/schedule`` (``daily 09:00 run the tests``).

    Returns:
        The parsed ``<when>`` and the prompt (stripped, never empty).

    Raises:
        WhenError: No valid ``<when>``, or no prompt after it.
    """
    parts = text.split(maxsplit=2)
    if len(parts) < 3 or not parts[2].strip():
        raise WhenError(USAGE)
    return parse_when(f"{parts[0]} {parts[1]}"), parts[2].strip()
