"""Scheduled prompts end to end: /schedule, /schedules with ❌, firing, restarts.

Nothing waits for real time: a job is run now through the job queue's own
``Job.run`` (as if its time had come), and a restart is given a clock past a
one-shot's time (:attr:`ScheduleDesk.clock`), so it is due when the bot starts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import JobQueue

from tests.e2e.conftest import CliHarness
from tests.e2e.telegram_harness import OWNER, TIMEOUT, BotHarness, running_bot, team_bot
from tests.e2e.test_telegram_e2e import final_answer
from tests.fakes.anthropic import Reply
from tests.fakes.telegram import DEFAULT_TOKEN, MAX_TEXT_LENGTH, FakeTelegram, utf16_len
from tests.fakes.telegram_types import StoredMessage
from voice_agent.schedule_when import parse_when
from voice_agent.telegram.schedules import MAX_PER_CHAT
from voice_agent.telegram.services import Services

pytestmark = pytest.mark.e2e

QUICK = 3600.0  # every test turn is "quick": only an unwatched one alerts
GROUP, CHATTER = -100991, 3007


def _job_queue(bot: BotHarness) -> JobQueue[Any]:
    queue = bot.app.job_queue
    assert queue is not None
    return queue


async def _answer(bot: BotHarness, text: str, match: str, chat_id: int = OWNER) -> StoredMessage:
    """Send ``text`` and wait for a new bot message containing ``match``."""
    since = time.monotonic()
    bot.tg.send_text(chat_id, None, text)
    return await bot.tg.wait_for_message(
        chat_id, lambda m: m.from_bot and match in m.content, TIMEOUT, since=since
    )


async def _schedule(bot: BotHarness, text: str) -> int:
    reply = await _answer(bot, f"/schedule {text}", " scheduled in session ")
    return int(reply.content.split("#", 1)[1].split(" ", 1)[0])


async def _run_now(bot: BotHarness, schedule_id: int) -> None:
    """Run the schedule's job as the job queue does when its time comes."""
    (job,) = _job_queue(bot).get_jobs_by_name(f"schedule-{schedule_id}")
    await job.run(bot.app)


async def test_schedule_list_and_cancel_with_the_button(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(harness, tmp_path, monkeypatch) as bot:
        for bad in ("tomorrow run the tests", "in 30 m run the tests", "daily 09:00", "every 1m x"):
            await _answer(bot, f"/schedule {bad}", "Usage: /schedule <when> <prompt>")
        for ours in ("/status", "/Diff@bot src", "/schedules"):
            refused = await _answer(bot, f"/schedule in 30m {ours}", "Nothing was scheduled")
            assert "one of this bot's commands" in refused.content
        assert bot.svc.schedules.of_chat(OWNER) == []

        daily = await _schedule(bot, "daily 09:00 run the tests")
        later = await _schedule(bot, "in 2h check the deploy")
        stored = {s.id: s for s in bot.svc.schedules.of_chat(OWNER)}
        assert stored[daily].spec == "daily 09:00"
        assert stored[later].prompt == "check the deploy"
        assert stored[later].session_name == "main"
        assert _job_queue(bot).get_jobs_by_name(f"schedule-{daily}")

        bot.tg.send_text(OWNER, None, "/schedules")
        listing = await bot.reply("Scheduled prompts")
        assert len(listing.buttons) == 2
        assert "run the tests" in listing.content
        assert "check the deploy" in listing.content
        answer = await bot.press(listing, f"❌ #{daily}")
        assert f"Cancelled #{daily}" in answer
        assert [s.id for s in bot.svc.schedules.of_chat(OWNER)] == [later]
        assert not _job_queue(bot).get_jobs_by_name(f"schedule-{daily}")

        def refreshed_listing() -> StoredMessage | None:
            message = bot.tg.message(OWNER, listing.message_id)
            return message if len(message.buttons) == 1 else None

        refreshed = await bot.tg.wait_for(refreshed_listing, TIMEOUT)
        assert "run the tests" not in refreshed.content


async def test_a_chatter_cannot_schedule(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with team_bot(harness, tmp_path, monkeypatch, GROUP, CHATTER) as bot:
        bot.tg.send_text(GROUP, CHATTER, "/schedule every 2h rm -rf the build")
        await bot.reply("Only an approver can schedule prompts.", GROUP)
        bot.tg.send_text(GROUP, CHATTER, "/schedules")
        await bot.reply("Only an approver can see and cancel scheduled prompts.", GROUP)
        assert bot.svc.schedules.of_chat(GROUP) == []


async def test_a_scheduled_prompt_runs_in_its_session_as_a_normal_turn_and_alerts(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = harness.workdir / "report.txt"
    async with running_bot(harness, tmp_path, monkeypatch, notify_after=QUICK) as bot:
        schedule_id = await _schedule(bot, "every 30m write the CI report")
        first_due = bot.svc.schedules.of_chat(OWNER)[0].next_run
        bot.tg.send_text(OWNER, None, "/new other")  # the chat works elsewhere meanwhile
        await bot.reply("Session other")
        bot.cli.fake.enqueue(
            Reply.tool_use("Write", {"file_path": str(target), "content": "all green\n"}),
            Reply.text("Report written."),
        )
        await _run_now(bot, schedule_id)
        header = await bot.reply(f"⏰ #{schedule_id} (every 30m) Running in main")
        assert header.silent
        prompt = await bot.approval_prompt()  # approvals wait for the user, as usual
        assert not prompt.silent
        assert "write the CI report" in bot.cli.fake.main_requests[0].last_user_text()
        await bot.press(prompt, "Approve")
        answer = await bot.reply(final_answer(bot, "Report written."))
        assert not answer.silent  # nobody watched it start: it alerts, however quick
        assert target.read_text() == "all green\n"
        main, other = bot.svc.manager.get(OWNER, "main"), bot.svc.manager.get(OWNER, "other")
        assert main is not None
        assert other is not None
        assert main.claude_session_id
        assert other.claude_session_id is None
        (moved,) = bot.svc.schedules.of_chat(OWNER)  # a repeating one goes on
        assert moved.next_run - first_due >= timedelta(minutes=30) - timedelta(seconds=5)
        assert _job_queue(bot).get_jobs_by_name(f"schedule-{schedule_id}")


async def test_a_closed_sessions_schedule_says_so_and_is_cancelled(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(harness, tmp_path, monkeypatch) as bot:
        bot.tg.send_text(OWNER, None, "/new side")
        await bot.reply("Session side")
        schedule_id = await _schedule(bot, "daily 07:30 look at the logs")
        bot.tg.send_text(OWNER, None, "/close side")
        await bot.reply("Closed session side")
        await _run_now(bot, schedule_id)
        said = await bot.reply(f"⏰ #{schedule_id} was scheduled in session side, which is closed")
        assert not said.silent
        assert bot.svc.schedules.of_chat(OWNER) == []
        assert not _job_queue(bot).get_jobs_by_name(f"schedule-{schedule_id}")
        assert bot.cli.fake.main_requests == []  # never ran elsewhere


def _clock_ahead(by: timedelta) -> Callable[[Services], None]:
    def prepare(svc: Services) -> None:
        svc.schedules.clock = lambda: datetime.now(UTC) + by

    return prepare


async def test_a_scheduled_prompt_fires_after_a_restart(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeTelegram(token=DEFAULT_TOKEN) as tg:
        tg.private_chat(OWNER, "Ada")
        async with running_bot(harness, tmp_path, monkeypatch, tg=tg) as bot:
            once = await _schedule(bot, "in 30m summarize the day")
            every = await _schedule(bot, "every 2h check the queue")
        assert harness.fake.main_requests == []

        # The bot was down past the one-shot's time: it runs once at start, late.
        harness.fake.enqueue(Reply.text("Here is the summary."))
        ahead = _clock_ahead(timedelta(minutes=31))
        async with running_bot(
            harness, tmp_path, monkeypatch, tg=tg, prepare=ahead, notify_after=QUICK
        ) as bot:
            late = await bot.reply(f"⏰ #{once} (in 30m) is late")
            assert "summarize the day" in late.content
            answer = await bot.reply(final_answer(bot, "Here is the summary."))
            assert not answer.silent
            await harness.fake.main_request(1)
            assert "summarize the day" in harness.fake.main_requests[0].last_user_text()
            assert [s.id for s in bot.svc.schedules.of_chat(OWNER)] == [every]
            assert _job_queue(bot).get_jobs_by_name(f"schedule-{every}")  # armed again
            assert not _job_queue(bot).get_jobs_by_name(f"schedule-{once}")


async def test_a_repeating_prompt_still_queued_or_running_skips_its_next_run(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(harness, tmp_path, monkeypatch) as bot:
        schedule_id = await _schedule(bot, "every 5m poll the build")
        release = threading.Event()
        bot.cli.fake.enqueue(Reply.text("still polling " * 20, chunk_size=6, hang=release))
        await _run_now(bot, schedule_id)
        await bot.reply(lambda m: m.from_bot and m.content.startswith("still"))  # under way
        await _run_now(bot, schedule_id)  # its next time comes while it runs: skipped
        headers = [m for m in bot.messages() if m.from_bot and "Running in main" in m.content]
        assert len(headers) == 1
        assert bot.svc.workers.queued_or_running(OWNER) == 1
        release.set()
        await bot.reply(final_answer(bot, "still polling"))
        await bot.tg.wait_for(lambda: not bot.svc.schedules.running(schedule_id), TIMEOUT)
        bot.cli.fake.enqueue(Reply.text("polled again"))
        await _run_now(bot, schedule_id)  # done: the next run runs
        await bot.reply(final_answer(bot, "polled again"))
        assert len(bot.cli.fake.main_requests) == 2

        # Queued behind a typed prompt and dropped by /cancel: the schedule is free again.
        await bot.tg.wait_for(lambda: not bot.svc.schedules.running(schedule_id), TIMEOUT)
        hold = threading.Event()
        bot.cli.fake.enqueue(Reply.text("typed work " * 20, chunk_size=6, hang=hold))
        bot.tg.send_text(OWNER, None, "do the typed work")
        await bot.reply(lambda m: m.from_bot and m.content.startswith("typed"))
        await _run_now(bot, schedule_id)
        assert bot.svc.schedules.running(schedule_id)
        await _answer(bot, "/cancel", "dropped 1 queued prompt(s)")
        hold.set()
        assert not bot.svc.schedules.running(schedule_id)


async def test_schedules_listing_fits_telegrams_limits_and_a_chat_has_at_most_twenty(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_prompt = "<b>deploy</b> & " + "🎉" * 100  # emoji count twice, as Telegram counts
    async with running_bot(harness, tmp_path, monkeypatch) as bot:
        for _ in range(MAX_PER_CHAT):
            await _schedule(bot, f"in 5m {long_prompt}")
        refused = await _answer(bot, "/schedule in 5m one more", "Nothing was scheduled")
        assert f"{MAX_PER_CHAT} scheduled prompts" in refused.content
        assert len(bot.svc.schedules.of_chat(OWNER)) == MAX_PER_CHAT

        listing = await _answer(bot, "/schedules", "Scheduled prompts")
        assert utf16_len(listing.content) <= MAX_TEXT_LENGTH
        assert "<b>deploy</b> &" in listing.content  # escaped, shown as typed
        assert len(listing.buttons) == listing.content.count("\n   “") == MAX_PER_CHAT

        # More than fit in one message (a store from before the limit): the next to run
        # are listed, with a button each, and the rest counted.
        when = parse_when("in 1d")
        for _ in range(15):
            bot.svc.schedules.add(OWNER, None, OWNER, "main", long_prompt, when)
        listing = await _answer(bot, "/schedules", "Scheduled prompts")
        assert utf16_len(listing.content) <= MAX_TEXT_LENGTH
        shown = listing.content.count("\n   “")
        assert MAX_PER_CHAT <= shown < MAX_PER_CHAT + 15
        assert f"… and {MAX_PER_CHAT + 15 - shown} more" in listing.content
        assert len(listing.buttons) == shown
