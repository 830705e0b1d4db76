"""Scheduled prompts on python-telegram-bot's job queue, armed again from the store at start.

Each stored schedule is one ``run_once`` job (named ``schedule-<id>``) at its next
run; when it fires, a repeating schedule is moved on to its next run first (and
armed again), a one-shot is forgotten, and then the prompt is handed to the
``fire`` callback (:mod:`voice_agent.telegram.schedules` queues it like a typed one).

At start (:meth:`ScheduleDesk.attach`) every schedule is armed again. A one-shot
whose time passed while the bot was not running runs once, now, marked late; a
repeating one skips the runs it missed and goes on at its next regular time.

The clock is injectable (:attr:`ScheduleDesk.clock`): tests move it instead of waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, tzinfo

from telegram import Bot
from telegram.ext import CallbackContext, ContextTypes, JobQueue

from voice_agent.schedule_when import When, WhenError, parse_when
from voice_agent.store.schedules_table import Schedule, SchedulesTable
from voice_agent.telegram.workers import Place

logger = logging.getLogger(__name__)

Fire = Callable[[Bot, Schedule, bool], Awaitable[None]]
"""``(bot, schedule, late)``: run the prompt of a schedule whose time has come."""
AnyJobQueue = JobQueue[CallbackContext]  # type: ignore[type-arg]

_JOB_OPTIONS = {"misfire_grace_time": None, "coalesce": True}  # late (a busy loop) still runs


class ScheduleDesk:
    """The bot's scheduled prompts: stored, armed on the job queue, moved on as they run.

    Attributes:
        zone: The time zone of the times users write (``TIMEZONE``).
        clock: The time now, aware (tests replace it).
    """

    def __init__(
        self,
        table: SchedulesTable | None,
        zone: tzinfo = UTC,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """A desk on ``table`` (None: nothing can be scheduled).

        Args:
            table: The stored schedules.
            zone: The time zone of the times users write.
            clock: The time now (default: the system clock).
        """
        self.zone = zone
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._table = table
        self._queue: AnyJobQueue | None = None
        self._fire: Fire | None = None
        self._running: dict[int, Place] = {}

    def now(self) -> datetime:
        """The time now, in the bot's zone."""
        return self.clock().astimezone(self.zone)

    @property
    def available(self) -> bool:
        """Whether prompts can be scheduled (a store, and a running job queue)."""
        return self._table is not None and self._queue is not None

    def attach(self, queue: AnyJobQueue, fire: Fire) -> int:
        """Arm every stored schedule on ``queue``; each one's time calls ``fire``.

        Args:
            queue: The application's job queue.
            fire: Runs a schedule's prompt.

        Returns:
            How many schedules were armed.
        """
        self._queue, self._fire = queue, fire
        if self._table is None:
            return 0
        now = self.now()
        armed = 0
        for schedule in self._table.all():
            due = schedule.next_run.astimezone(self.zone)
            if due > now:
                self._arm(schedule.id, due, late=False)
            elif (when := _when(schedule)) is not None and when.repeats:
                later = when.next_run(due, now)
                assert later is not None
                self._table.move_on(schedule.id, later)
                self._arm(schedule.id, later, late=False)
                logger.info("schedule #%s missed %s; next at %s", schedule.id, due, later)
            else:
                self._arm(schedule.id, now, late=True)
            armed += 1
        if armed:
            logger.info("armed %d scheduled prompt(s) from the store", armed)
        return armed

    def add(
        self,
        chat_id: int,
        thread_id: int | None,
        user_id: int | None,
        session_name: str,
        prompt: str,
        when: When,
        *,
        first_run: datetime | None = None,
    ) -> Schedule | None:
        """Store a schedule and arm it.

        Args:
            chat_id: The chat.
            thread_id: The forum topic, if any.
            user_id: Who schedules it.
            session_name: The session it runs in.
            prompt: What is sent.
            when: When it runs.
            first_run: Its first run (default: what ``when`` says from now).

        Returns:
            The schedule; None without a store or a job queue, or for a session the
            store does not know.
        """
        if self._table is None or self._queue is None:
            return None
        due = first_run or when.first_run(self.now())
        schedule = self._table.add(
            chat_id, thread_id, user_id, session_name, prompt, when.text, due.astimezone(UTC)
        )
        if schedule is not None:
            self._arm(schedule.id, due, late=False)
        return schedule

    def of_chat(self, chat_id: int) -> list[Schedule]:
        """The chat's schedules, the next to run first."""
        return self._table.of_chat(chat_id) if self._table is not None else []

    def cancel(self, chat_id: int, schedule_id: int) -> bool:
        """Forget schedule ``schedule_id`` of the chat and its job.

        Returns:
            False when the chat has no such schedule (another chat's is never touched).
        """
        if self._table is None:
            return False
        schedule = self._table.get(schedule_id)
        if schedule is None or schedule.chat_id != chat_id:
            return False
        self._table.remove(schedule_id)
        self._disarm(schedule_id)
        return True

    def running(self, schedule_id: int) -> bool:
        """Whether a run of the schedule is still queued or running (not dropped by /cancel)."""
        place = self._running.get(schedule_id)
        return place is not None and not place.dropped

    def started(self, schedule_id: int, place: Place) -> None:
        """A run of the schedule took ``place`` in its chat's queue."""
        self._running[schedule_id] = place

    def finished(self, schedule_id: int) -> None:
        """A run of the schedule is over."""
        self._running.pop(schedule_id, None)

    def _arm(self, schedule_id: int, due: datetime, *, late: bool) -> None:
        assert self._queue is not None
        self._disarm(schedule_id)
        delay = max((due - self.now()).total_seconds(), 0.0)
        self._queue.run_once(
            self._on_time,
            delay,
            data=(schedule_id, late),
            name=f"schedule-{schedule_id}",
            job_kwargs=dict(_JOB_OPTIONS),
        )

    def _disarm(self, schedule_id: int) -> None:
        if self._queue is not None:
            for job in self._queue.get_jobs_by_name(f"schedule-{schedule_id}"):
                job.schedule_removal()

    async def _on_time(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A schedule's time came: move it on (or forget it), then run its prompt."""
        job = context.job
        assert job is not None
        assert self._table is not None
        assert self._fire is not None
        data = job.data
        assert isinstance(data, tuple)
        schedule_id, late = int(data[0]), bool(data[1])
        schedule = self._table.get(schedule_id)
        if schedule is None:  # cancelled meanwhile
            return
        when = _when(schedule)
        due = schedule.next_run.astimezone(self.zone)
        later = when.next_run(due, self.now()) if when is not None else None
        if later is None:
            self._table.remove(schedule_id)
        else:
            self._table.move_on(schedule_id, later)
            self._arm(schedule_id, later, late=False)
        await self._fire(context.bot, schedule, late)


def _when(schedule: Schedule) -> When | None:
    try:
        return parse_when(schedule.spec)
    except WhenError:
        logger.error("schedule #%s has an unreadable time %r", schedule.id, schedule.spec)
        return None
