"""Small helpers for e2e tests: collecting a turn's events, finding CLI processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import psutil

from voice_agent.agent.events import AgentEvent, TextBlockDone, TurnError, TurnResult

TURN_TIMEOUT = 30.0


async def collect(
    events: AsyncIterator[AgentEvent],
    on_event: Callable[[AgentEvent], Any] | None = None,
) -> list[AgentEvent]:
    """All events of one turn (bounded by a timeout), calling ``on_event`` for each."""
    seen: list[AgentEvent] = []
    async with asyncio.timeout(TURN_TIMEOUT):
        async for event in events:
            seen.append(event)
            if on_event is not None:
                maybe = on_event(event)
                if asyncio.iscoroutine(maybe):
                    await maybe
    return seen


def final(events: list[AgentEvent]) -> TurnResult | TurnError:
    last = events[-1]
    assert isinstance(last, TurnResult | TurnError), last
    return last


def text_of(events: list[AgentEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextBlockDone))


def cli_processes() -> list[psutil.Process]:
    """Live Claude Code CLI processes started by this test process."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "claude" in child.name():
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found
