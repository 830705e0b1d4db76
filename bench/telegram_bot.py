"""Telegram bot benchmark: streaming delay, and the bot's own time per prompt.

Run: ``python -m bench.telegram_bot`` (``--prompts N``, ``--chunks N`` to change sizes).

Everything is real but the two network edges: the python-telegram-bot
Application against the fake Bot API (tests/fakes/telegram.py), and the bundled
Claude Code CLI against the scripted Anthropic fake.

* Streaming delay: for every text delta the bot receives from the SDK, the time
  until a Bot API request carrying that text starts. Measured with answers whose
  chunks arrive more slowly than the edit interval ("the rate limit allows"), in
  edit mode (groups, 1 s between edits) and draft mode (private chats, 0.25 s),
  and, for contrast, with a fast continuous stream that the throttle holds back.
* Bot time per prompt, model excluded: from the update reaching the fake's
  ``getUpdates`` to the final answer's last request, minus the time spent inside
  ``SessionManager.stream`` (the CLI and the model).
* Update → model request, what a user waits for before Claude starts: from an
  update becoming available to the bot (injected while the bot long-polls) to the
  Messages API request carrying the prompt reaching the scripted model; beside a
  plain ``ClaudeSDKClient`` with the same CLI and options (``build_options``), from
  ``query()`` to the same request. Prompts alternate bot and plain client. The fake
  Bot API answers every call after ``--latency`` ms (default 25), like a round trip
  to Telegram, so that calls awaited on the path show.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from claude_agent_sdk import ClaudeSDKClient, ResultMessage

from bench.bot import polling_bot
from bench.common import ms, percentile, summary
from tests.fakes.anthropic import FakeAnthropic, Reply
from tests.fakes.cli_env import cli_env
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from voice_agent.agent.options import AgentSettings, GateAnswer, build_options
from voice_agent.config import load_settings
from voice_agent.telegram import turn
from voice_agent.telegram.stream import StreamingReply

OWNER = 1001
REPLIES: list[StreamingReply] = []


class RecordedReply(StreamingReply):
    """A StreamingReply the benchmark can read afterwards."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        REPLIES.append(self)


def _delays(reply: StreamingReply) -> list[float]:
    """For each delta: time until a push that began after it showed its text."""
    delays = []
    for appended, length in reply.stats.appended_at:
        shown = next((t for t, n in reply.stats.shown_at if n >= length and t >= appended), None)
        if shown is not None:
            delays.append(shown - appended)
    return delays


@asynccontextmanager
async def _bot(
    tmp: Path, fake: FakeAnthropic, mode: str, latency: float = 0.0
) -> AsyncIterator[tuple[Any, Any]]:
    home, work = tmp / "home", tmp / "work"
    home.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    async with FakeTelegram(token=DEFAULT_TOKEN, latency=latency) as tg:
        tg.private_chat(OWNER, "Ada")
        settings = load_settings(
            telegram_bot_token=DEFAULT_TOKEN,
            telegram_api_base_url=tg.base_url,
            telegram_api_file_url=tg.base_file_url,
            allowed_user_ids=frozenset({OWNER}),
            default_cwd=work,
            voice_agent_data_dir=tmp / f"data-{mode}",
            stream_mode="auto" if mode == "draft" else "edit",
        )
        agent = AgentSettings(
            env=cli_env(fake.base_url, home), setting_sources=(), idle_timeout=None
        )
        async with polling_bot(settings, agent) as svc:
            yield tg, svc


FOOTER = re.compile(r"(?:^|· )\d+ s(?: ·|$)")


def _finished(content: str, done: str) -> bool:
    """Whether ``content`` is a final answer containing ``done`` (its footer is shown)."""
    return done in content and bool(FOOTER.search(content.splitlines()[-1]))


async def _prompt(tg: FakeTelegram, text: str, done: str) -> float:
    """Send ``text`` as the owner and wait for the final answer; returns when it was sent."""
    after = max((m.message_id for m in tg.messages(OWNER)), default=0)
    sent = time.monotonic()
    tg.send_text(OWNER, None, text)
    await tg.wait_for_message(
        OWNER,
        lambda m: m.from_bot and m.message_id > after and _finished(m.content, done),
        120,
    )
    return sent


async def streaming(tmp: Path, mode: str, chunks: int, chunk_delay: float) -> list[float]:
    """Median delay figures for one mode and pace."""
    words = " ".join(f"word{i}" for i in range(chunks * 4))
    reply = Reply.text(words + " END", chunk_size=len(words) // chunks + 1, chunk_delay=chunk_delay)
    REPLIES.clear()
    with FakeAnthropic(lambda request: reply) as fake:
        async with _bot(tmp, fake, mode) as (tg, _):
            await _prompt(tg, "warm up", "END")
            REPLIES.clear()
            await _prompt(tg, "stream please", "END")
    return _delays(REPLIES[0])


async def bot_time(tmp: Path, prompts: int) -> tuple[list[float], list[float]]:
    """(bot time excluding the model, model+CLI time) per prompt."""
    inside: list[float] = []
    with FakeAnthropic(lambda request: Reply.text("ok")) as fake:
        async with _bot(tmp, fake, "edit") as (tg, svc):
            original = svc.manager.stream

            async def timed(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                start = time.monotonic()
                async for event in original(*args, **kwargs):
                    yield event
                inside.append(time.monotonic() - start)

            svc.manager.stream = timed  # type: ignore[method-assign]
            await _prompt(tg, "warm up", "ok")
            inside.clear()
            totals = []
            for index in range(prompts):
                before = len(tg.sent)
                delivered = await _prompt(tg, f"prompt {index}", "ok")
                await tg.wait_for(lambda count=index + 1: len(inside) >= count, 60)
                replies = ("sendMessage", "editMessageText", "deleteMessage")
                final = max(c.time for c in tg.sent[before:] if c.method in replies)
                totals.append(final - delivered)
    return [t - m for t, m in zip(totals, inside, strict=True)], inside


def _plain_options(home: Path, work: Path, fake: FakeAnthropic) -> Any:
    """The options the bot gives a session's client, with callbacks that do nothing."""

    async def ask(*_: Any) -> tuple[bool, str | None, dict[str, Any] | None]:
        return True, None, None

    async def check(*_: Any) -> GateAnswer:
        return GateAnswer(allow=False)

    agent = AgentSettings(env=cli_env(fake.base_url, home), setting_sources=(), idle_timeout=None)
    return build_options(
        agent, cwd=str(work), resume=None, permission_mode="default", ask=ask, check=check
    )


async def _plain_prompt(client: ClaudeSDKClient, fake: FakeAnthropic, text: str) -> float:
    seen = len(fake.main_requests)
    start = time.monotonic()
    await client.query(text)
    async for message in client.receive_response():
        if isinstance(message, ResultMessage):
            break
    return fake.main_requests[seen].received_at - start


async def update_to_model(tmp: Path, prompts: int, latency: float) -> tuple[list[float], ...]:
    """(bot, plain client) times from the prompt being available to the model request."""
    bot_times: list[float] = []
    plain_times: list[float] = []
    with FakeAnthropic(lambda request: Reply.text("ok")) as fake:
        async with _bot(tmp / "bot", fake, "edit", latency) as (tg, _):
            plain_home, plain_work = tmp / "plain" / "home", tmp / "plain" / "work"
            plain_home.mkdir(parents=True)
            plain_work.mkdir(parents=True)
            options = _plain_options(plain_home, plain_work, fake)
            async with ClaudeSDKClient(options) as client:
                await _prompt(tg, "warm up", "ok")
                await _plain_prompt(client, fake, "warm up")
                for index in range(prompts):
                    seen = len(fake.main_requests)
                    available = await _prompt(tg, f"prompt {index}", "ok")
                    bot_times.append(fake.main_requests[seen].received_at - available)
                    plain_times.append(await _plain_prompt(client, fake, f"plain {index}"))
    return bot_times, plain_times


async def run(prompts: int, chunks: int, latency: float) -> None:
    """Measure and print the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bot_path, plain_path = await update_to_model(root / "e", prompts, latency)
        slow_edit = await streaming(root / "a", "edit", chunks, 1.3)
        slow_draft = await streaming(root / "b", "draft", chunks, 0.4)
        fast_edit = await streaming(root / "c", "edit", chunks * 4, 0.05)
        own, model = await bot_time(root / "d", prompts)
    print(f"streaming delay, edit mode, chunks every 1.3 s:  {summary(slow_edit)}")
    print(f"streaming delay, draft mode, chunks every 0.4 s: {summary(slow_draft)}")
    print(f"streaming delay, edit mode, continuous stream (throttled): {summary(fast_edit)}")
    print(f"CLI + model time per prompt: {summary(model)}")
    print(f"bot time per prompt, model excluded: {summary(own)}")
    print(f"bot time median: {ms(statistics.median(own))}")
    print(f"update -> model request, Bot API round trip {ms(latency)}:")
    for name, samples in (("bot", bot_path), ("plain SDK client", plain_path)):
        median, p95 = statistics.median(samples), percentile(samples, 0.95)
        print(f"  {name:17} median {ms(median)}  p95 {ms(p95)}  (n={len(samples)})")
    added = [b - p for b, p in zip(bot_path, plain_path, strict=True)]
    median, p95 = statistics.median(added), percentile(added, 0.95)
    print(f"  the bot adds: median {ms(median)}  p95 {ms(p95)}")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--latency", type=float, default=25.0, help="Bot API round trip, ms")
    args = parser.parse_args()
    turn.StreamingReply = RecordedReply  # type: ignore[misc]
    asyncio.run(run(args.prompts, args.chunks, args.latency / 1000))


if __name__ == "__main__":
    main()
