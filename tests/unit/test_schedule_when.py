"""The strict parser of ``/schedule``'s ``<when>``, and when each form runs."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from voice_agent.schedule_when import USAGE, When, WhenError, parse_when, split_schedule

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 10, 17, 30, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("words", "kind", "every", "at", "text"),
    [
        ("in 30m", "in", timedelta(minutes=30), None, "in 30m"),
        ("in 2h", "in", timedelta(hours=2), None, "in 2h"),
        ("IN 1d", "in", timedelta(days=1), None, "in 1d"),
        ("in 90m", "in", timedelta(minutes=90), None, "in 90m"),
        ("in 120m", "in", timedelta(hours=2), None, "in 2h"),
        ("at 18:00", "at", None, time(18, 0), "at 18:00"),
        ("at 7:05", "at", None, time(7, 5), "at 07:05"),
        ("daily 09:00", "daily", None, time(9, 0), "daily 09:00"),
        ("every 2h", "every", timedelta(hours=2), None, "every 2h"),
        ("every   30m", "every", timedelta(minutes=30), None, "every 30m"),
    ],
)
def test_the_four_forms(
    words: str, kind: str, every: timedelta | None, at: time | None, text: str
) -> None:
    when = parse_when(words)
    assert (when.kind, when.every, when.at, when.text) == (kind, every, at, text)
    assert when.repeats == (kind in ("daily", "every"))


@pytest.mark.parametrize(
    "words",
    [
        "",
        "in",
        "in 30",
        "in 30 m",
        "in 30min",
        "in 0m",
        "in -5m",
        "in 1.5h",
        "in 31d",
        "every 4m",
        "every 1m",
        "at 24:00",
        "at 18:60",
        "at 18",
        "at 6pm",
        "daily 9",
        "tomorrow 09:00",
        "weekly 09:00",
        "in 30m extra",
        "every 2h30m",
    ],
)
def test_anything_else_is_refused_with_the_usage(words: str) -> None:
    with pytest.raises(WhenError) as refused:
        parse_when(words)
    assert USAGE in str(refused.value)


def test_split_schedule_keeps_the_whole_prompt() -> None:
    when, prompt = split_schedule("daily 09:00 run the tests\nand tell me   what fails")
    assert when == When("daily", at=time(9, 0))
    assert prompt == "run the tests\nand tell me   what fails"
    for bad in ("daily 09:00", "daily 09:00   ", "run the tests daily", ""):
        with pytest.raises(WhenError):
            split_schedule(bad)


def test_first_runs() -> None:
    assert parse_when("in 30m").first_run(NOW) == NOW + timedelta(minutes=30)
    assert parse_when("every 2h").first_run(NOW) == NOW + timedelta(hours=2)
    assert parse_when("at 18:00").first_run(NOW) == NOW.replace(hour=18, minute=0)
    tomorrow = datetime(2026, 3, 11, 9, 0, tzinfo=BERLIN)
    assert parse_when("daily 09:00").first_run(NOW) == tomorrow
    assert parse_when("at 17:30").first_run(NOW) == NOW + timedelta(days=1)  # not "now"


def test_next_runs_skip_what_was_missed() -> None:
    assert parse_when("in 30m").next_run(NOW, NOW) is None
    every = parse_when("every 2h")
    assert every.next_run(NOW, NOW) == NOW + timedelta(hours=2)
    down_for_five_hours = NOW + timedelta(hours=5)
    assert every.next_run(NOW, down_for_five_hours) == NOW + timedelta(hours=6)
    daily = parse_when("daily 09:00")
    due = datetime(2026, 3, 11, 9, 0, tzinfo=BERLIN)
    assert daily.next_run(due, due) == due + timedelta(days=1)
    assert daily.next_run(due, due + timedelta(days=3, hours=1)) == due + timedelta(days=4)


def test_daily_keeps_the_wall_clock_across_daylight_saving() -> None:
    before = datetime(2026, 3, 28, 9, 0, tzinfo=BERLIN)  # Europe moves its clocks on the 29th
    after = parse_when("daily 09:00").next_run(before, before)
    assert after == datetime(2026, 3, 29, 9, 0, tzinfo=BERLIN)
    assert after.astimezone(UTC) - before.astimezone(UTC) == timedelta(hours=23)  # a short day
    one_am = datetime(2026, 3, 29, 1, 0, tzinfo=BERLIN)  # clocks jump from 02:00 to 03:00
    assert parse_when("every 2h").next_run(one_am, one_am) == one_am.replace(hour=4)
    assert parse_when("in 2h").first_run(one_am) == one_am.replace(hour=4)  # real hours
