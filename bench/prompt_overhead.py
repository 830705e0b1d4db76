"""Prompt overhead: what SessionManager adds over driving the SDK client directly.

Run: ``python -m bench.prompt_overhead`` (``--prompts N`` for more warm samples).

Both paths run the real bundled Claude Code CLI against the scripted Anthropic
fake on 127.0.0.1, answering every prompt at once with a short text. For each
prompt it measures the wall time from sending the prompt to the turn's result:

* raw: ``ClaudeSDKClient.query`` + ``receive_response`` (the SDK and the CLI alone);
* manager: ``SessionManager.stream`` (our session lookup, pool, owner task,
  permission wiring, event parsing, persistence) on top of the same.

Cold = a new CLI process (connect + first prompt); warm = later prompts on the
same process. Warm prompts alternate raw and manager so drift hits both. The
overhead is the difference of medians; the fake's own time per request is shown too.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from claude_agent_sdk import (
    ClaudeAgentOptions,
    ClaudeSDKClient,
    PermissionResultAllow,
    ResultMessage,
)

from bench.common import ms, summary
from tests.fakes.anthropic import FakeAnthropic, Reply
from tests.fakes.cli_env import cli_env
from voice_agent.agent.events import TurnResult
from voice_agent.agent.options import AgentSettings
from voice_agent.sessions import SessionManager, SessionStorage


async def _allow(*_: object) -> PermissionResultAllow:
    return PermissionResultAllow()


async def _raw_prompt(client: ClaudeSDKClient, text: str) -> float:
    start = time.perf_counter()
    await client.query(text)
    async for message in client.receive_response():
        if isinstance(message, ResultMessage):
            break
    return time.perf_counter() - start


async def _manager_prompt(manager: SessionManager, chat: int, text: str) -> float:
    start = time.perf_counter()
    async for event in manager.stream(chat, text):
        if isinstance(event, TurnResult):
            break
    return time.perf_counter() - start


async def run(prompts: int, cold_runs: int) -> None:
    """Measure and print the figures."""
    with (
        FakeAnthropic(lambda request: Reply.text("ok")) as fake,
        tempfile.TemporaryDirectory() as tmp,
    ):
        home, work = Path(tmp) / "home", Path(tmp) / "work"
        home.mkdir()
        work.mkdir()
        env = cli_env(fake.base_url, home)
        options = ClaudeAgentOptions(
            cwd=work,
            env=env,
            setting_sources=[],
            can_use_tool=_allow,
            include_partial_messages=True,
        )
        settings = AgentSettings(env=env, setting_sources=(), idle_timeout=None)
        manager = SessionManager(
            default_cwd=str(work), storage=SessionStorage(Path(tmp) / "s.db"), agent=settings
        )

        raw_cold, manager_cold = [], []
        for run_index in range(cold_runs):
            start = time.perf_counter()
            client = ClaudeSDKClient(options)
            await client.connect()
            await _raw_prompt(client, "hello")
            raw_cold.append(time.perf_counter() - start)
            await client.disconnect()
            manager_cold.append(await _manager_prompt(manager, 100 + run_index, "hello"))
            await manager.restart(100 + run_index)

        client = ClaudeSDKClient(options)
        await client.connect()
        await _raw_prompt(client, "warm up")
        await _manager_prompt(manager, 1, "warm up")
        raw_warm, manager_warm = [], []
        for index in range(prompts):
            raw_warm.append(await _raw_prompt(client, f"prompt {index}"))
            manager_warm.append(await _manager_prompt(manager, 1, f"prompt {index}"))
        await client.disconnect()
        await manager.aclose()
        model = [
            e.finished_at - e.request.received_at
            for e in fake.exchanges
            if e.finished_at is not None and e.request.is_main()
        ]

    print(f"fake model's own time per request: {summary(model)}")
    print(f"cold  raw SDK:  {summary(raw_cold)}")
    print(f"cold  manager:  {summary(manager_cold)}")
    print(f"warm  raw SDK:  {summary(raw_warm)}")
    print(f"warm  manager:  {summary(manager_warm)}")
    cold = statistics.median(manager_cold) - statistics.median(raw_cold)
    warm = statistics.median(manager_warm) - statistics.median(raw_warm)
    paired = [m - r for m, r in zip(manager_warm, raw_warm, strict=True)]
    print(f"overhead cold (median difference): {ms(cold)}")
    print(f"overhead warm (median difference): {ms(warm)}")
    print(f"overhead warm (median of paired differences): {ms(statistics.median(paired))}")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prompts", type=int, default=40, help="warm prompts per path")
    parser.add_argument("--cold", type=int, default=5, help="cold starts per path")
    args = parser.parse_args()
    asyncio.run(run(args.prompts, args.cold))


if __name__ == "__main__":
    main()
