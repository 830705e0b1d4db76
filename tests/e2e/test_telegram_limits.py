"""Telegram's limits for every Bot API call: a flooded group, 429s, approval prompts.

The fake Bot API enforces a group's limit like Telegram (20 calls a "minute") and
answers 429 with ``retry_after`` beyond it; the bot's rate limiter runs with the
same rates, a minute scaled down to WINDOW seconds so the test is quick.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CliHarness
from tests.e2e.telegram_harness import OWNER, BotHarness, running_bot
from tests.fakes.anthropic import Reply
from tests.fakes.telegram_types import StoredMessage

pytestmark = pytest.mark.e2e

GROUP = -100900
PER_GROUP = 20  # Telegram: 20 messages a minute in a group
WINDOW = 0.25  # the test's "minute"
FLOOD = 30
FOOTER = re.compile(r"(?:^|· )\d+ s(?: ·|$)")


def _final(m: StoredMessage) -> bool:
    return m.from_bot and bool(FOOTER.search(m.content.splitlines()[-1]))


@pytest.fixture
async def group(harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    async with running_bot(
        harness,
        tmp_path,
        monkeypatch,
        allowed_chat_ids=frozenset({GROUP}),
        telegram_group_max_rate=PER_GROUP,
        telegram_group_time_period=WINDOW,
    ) as bot:
        bot.tg.supergroup(GROUP, "team")
        bot.tg.rate_limit("*", PER_GROUP, chat_id=GROUP, window=WINDOW)
        yield bot


def _refused(bot: BotHarness) -> list[str]:
    return [c.method for c in bot.tg.sent if c.status == 429]


async def test_a_flooded_group_gets_every_answer(group: BotHarness) -> None:
    bot = group
    bot.cli.fake.script = lambda request: Reply.text(f"answer to {request.last_user_text()}")
    bot.tg.fail_next("sendMessage", 429, retry_after=1, times=2)  # and Telegram says so anyway
    bot.tg.fail_next("editMessageText", 429, retry_after=1, times=1)
    for n in range(1, FLOOD + 1):
        bot.tg.send_text(GROUP, OWNER, f"prompt {n}")
    for n in range(1, FLOOD + 1):
        await bot.reply(lambda m, n=n: _final(m) and f"answer to prompt {n}\n" in m.content, GROUP)
    texts = bot.bot_texts(GROUP)
    assert sum(t.startswith("⏳ Queued") for t in texts) == FLOOD - 1  # every notice too
    assert not [t for t in texts if "Something went wrong" in t]
    assert _refused(bot)  # Telegram did refuse calls, and each was sent again
    prompts = [r.last_user_text() for r in bot.cli.fake.main_requests]
    assert prompts == [f"prompt {n}" for n in range(1, FLOOD + 1)]


async def test_an_approval_prompt_refused_once_with_429_still_arrives(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(harness, tmp_path, monkeypatch) as bot:
        target = bot.cli.workdir / "limits.txt"
        bot.cli.fake.enqueue(
            Reply.tool_use("Write", {"file_path": str(target), "content": "x\n"}),
            Reply.text("Written."),
        )
        bot.tg.fail_next(
            "sendMessage", 429, retry_after=1, when=lambda p: "Approval #1" in str(p.get("text"))
        )
        bot.tg.send_text(OWNER, None, "create limits.txt")
        prompt = await bot.approval_prompt()
        assert _refused(bot) == ["sendMessage"]  # the prompt was refused once, then sent again
        await bot.press(prompt, "Approve")
        await bot.reply(lambda m: _final(m) and "Written." in m.content)
        assert target.read_text() == "x\n"
