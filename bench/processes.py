"""Live Claude Code processes and memory with 50 sessions over 20 chats.

Run: ``python -m bench.processes`` (``--max-live N`` to change the cap, default 4).

Twenty chats send prompts at the same time, each to its own sessions in turn
(50 sessions in all, the first 10 chats having 3 and the others 2), then every
session gets a second prompt, which resumes evicted conversations. A sampler
counts live CLI processes (children of this process) every 20 ms; the figures
are the most seen at once, the cap, the resident memory of the CLI processes
at the peak, and this process's own resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import psutil

from tests.fakes.anthropic import FakeAnthropic, Reply
from tests.fakes.cli_env import cli_env
from voice_agent.agent.events import TurnError, TurnResult
from voice_agent.agent.options import AgentSettings
from voice_agent.sessions import SessionManager, SessionStorage

CHATS = 20
SESSIONS = 50


def _cli_processes() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "claude" in child.name() and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _rss(processes: list[psutil.Process]) -> int:
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


class Sampler:
    """Counts live CLI processes in the background."""

    def __init__(self) -> None:
        self.peak = 0
        self.peak_rss = 0
        self.samples = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            processes = _cli_processes()
            self.samples += 1
            if len(processes) >= self.peak:
                self.peak = len(processes)
                self.peak_rss = max(self.peak_rss, _rss(processes))
            await asyncio.sleep(0.02)


def _plan() -> dict[int, list[str]]:
    plan: dict[int, list[str]] = {chat: ["main"] for chat in range(1, CHATS + 1)}
    chat = 1
    while sum(len(names) for names in plan.values()) < SESSIONS:
        plan[chat].append(f"session-{len(plan[chat]) + 1}")
        chat = chat % CHATS + 1
    return plan


async def _chat(manager: SessionManager, chat: int, names: list[str], tag: str) -> int:
    errors = 0
    for name in names:
        if manager.get(chat, name) is None:
            manager.create_new(chat, name=name)
        async for event in manager.stream(chat, f"{tag} {name}", name=name):
            errors += isinstance(event, TurnError)
            if isinstance(event, TurnResult | TurnError):
                break
    return errors


async def run(max_live: int) -> None:
    """Measure and print the figures."""
    with (
        FakeAnthropic(lambda request: Reply.text("ok")) as fake,
        tempfile.TemporaryDirectory() as tmp,
    ):
        home, work = Path(tmp) / "home", Path(tmp) / "work"
        home.mkdir()
        work.mkdir()
        settings = AgentSettings(
            env=cli_env(fake.base_url, home),
            setting_sources=(),
            max_live_clients=max_live,
            idle_timeout=None,
        )
        manager = SessionManager(
            default_cwd=str(work), storage=SessionStorage(Path(tmp) / "s.db"), agent=settings
        )
        plan = _plan()
        sampler, stop = Sampler(), asyncio.Event()
        sampling = asyncio.create_task(sampler.run(stop))
        start = time.perf_counter()
        errors = 0
        for tag in ("first", "second"):
            results = await asyncio.gather(
                *(_chat(manager, chat, names, tag) for chat, names in plan.items())
            )
            errors += sum(results)
        elapsed = time.perf_counter() - start
        stop.set()
        await sampling
        await manager.aclose()
        leftover = len(_cli_processes())
        resumed = sum(1 for r in fake.main_requests if "first" in " ".join(r.user_texts()[:-1]))
    sessions = sum(len(names) for names in plan.values())
    print(f"{sessions} sessions over {len(plan)} chats, 2 prompts each, cap {max_live}")
    print(f"turns: {2 * sessions} in {elapsed:.1f} s, errors: {errors}")
    print(f"live CLI processes: at most {sampler.peak} at once ({sampler.samples} samples)")
    print(f"pool's own count: at most {manager._runner.pool.peak_live} at once")
    print(f"CLI resident memory at the peak: {sampler.peak_rss / 2**20:.0f} MiB")
    print(f"this process's resident memory: {psutil.Process().memory_info().rss / 2**20:.0f} MiB")
    print(f"second prompts that saw the first one (resumed): {resumed} of {sessions}")
    print(f"CLI processes left after close: {leftover}")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-live", type=int, default=4, help="max_live_clients")
    args = parser.parse_args()
    asyncio.run(run(args.max_live))


if __name__ == "__main__":
    main()
