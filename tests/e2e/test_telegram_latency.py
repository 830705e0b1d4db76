"""What a user waits for: the prompt goes to Claude without waiting on Telegram.

The status line ("💭 Thinking…" with Stop) and the typing indicator are shown while
the prompt is already on its way: a slow Bot API (every call held here until the
test lets it through) must not delay the model request.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CliHarness
from tests.e2e.telegram_harness import OWNER, running_bot
from tests.e2e.test_telegram_e2e import final_answer
from tests.fakes.anthropic import Reply

pytestmark = pytest.mark.e2e


@pytest.fixture
async def bot(harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    async with running_bot(harness, tmp_path, monkeypatch) as running:
        yield running


async def test_the_prompt_reaches_the_model_before_telegram_answers(bot: Any) -> None:
    bot.cli.fake.enqueue(Reply.text("warm"), Reply.text("Here it is."))
    bot.tg.send_text(OWNER, None, "warm up")  # the CLI process starts
    await bot.reply(final_answer(bot, "warm"))
    bot.tg.gate = asyncio.Event()  # Telegram answers nothing for now
    try:
        bot.tg.send_text(OWNER, None, "the real question")
        request = await bot.cli.fake.main_request(2)
        assert "the real question" in request.last_user_text()
        waiting = [c for c in bot.tg.sent if c.method == "sendMessage" and c.finished is None]
        assert waiting, "the status line is being sent at the same time"
    finally:
        bot.tg.gate.set()
        bot.tg.gate = None
    await bot.reply(final_answer(bot, "Here it is."))
    status = [m for m in bot.messages() if m.from_bot and "Thinking" in m.content]
    assert status  # shown…
    assert all(m.deleted for m in status)  # …then gone with the answer
