"""The per-chat queues: places taken on arrival, filled or given up later, in order."""

from __future__ import annotations

import asyncio

import pytest

from voice_agent.telegram.workers import ChatWorkers, Job


class Ran:
    """The names of the jobs that ran, in order; tests wait for them without sleeping."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._changed = asyncio.Event()

    def job(self, name: str, gate: asyncio.Event | None = None) -> Job:
        async def job() -> None:
            if gate is not None:
                await gate.wait()
            self.names.append(name)
            self._changed.set()

        return job

    async def until(self, name: str) -> list[str]:
        async def seen() -> None:
            while name not in self.names:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(seen(), 5)
        return self.names


async def _yield(times: int = 5) -> None:
    for _ in range(times):
        await asyncio.sleep(0)  # let every ready task run (no time passes)


async def test_a_reserved_place_runs_before_what_was_submitted_after_it() -> None:
    workers, ran = ChatWorkers(), Ran()
    place = workers.reserve("chat")
    assert workers.submit("chat", ran.job("text")) == 1
    await _yield()
    assert ran.names == []  # the text waits for the note
    assert place.fill(ran.job("voice")) == 0
    assert await ran.until("text") == ["voice", "text"]


async def test_a_released_place_lets_the_queue_go_on() -> None:
    workers, ran = ChatWorkers(), Ran()
    place = workers.reserve("chat")
    workers.submit("chat", ran.job("text"))
    place.release()
    assert await ran.until("text") == ["text"]
    with pytest.raises(RuntimeError):
        place.fill(ran.job("late"))


async def test_fill_tells_how_many_are_still_ahead() -> None:
    workers, ran, gate = ChatWorkers(), Ran(), asyncio.Event()
    workers.submit("chat", ran.job("first", gate))
    place = workers.reserve("chat")
    workers.submit("chat", ran.job("third"))
    assert workers.waiting("chat") == 3
    assert place.fill(ran.job("second")) == 1
    gate.set()
    assert await ran.until("third") == ["first", "second", "third"]


async def test_cancel_drops_a_place_still_waiting_for_its_job() -> None:
    workers, ran = ChatWorkers(), Ran()
    place = workers.reserve("chat")
    workers.submit("chat", ran.job("text"))
    await _yield()  # the worker now waits at the place
    assert workers.cancel_queued("chat") == 2
    assert place.dropped
    assert place.fill(ran.job("voice")) == 0
    workers.submit("chat", ran.job("after"))
    assert await ran.until("after") == ["after"]


async def test_other_chats_do_not_wait_for_a_place() -> None:
    workers, ran = ChatWorkers(), Ran()
    place = workers.reserve("one")
    workers.submit("two", ran.job("two"))
    assert await ran.until("two") == ["two"]
    place.release()
    await workers.close()
