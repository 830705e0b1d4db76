"""A queued prompt belongs to the session it was sent to, whatever happens meanwhile."""

from __future__ import annotations

import threading
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


async def test_a_switch_does_not_carry_queued_prompts_along(bot: Any) -> None:
    release = threading.Event()
    bot.cli.fake.enqueue(Reply.text("first", hang=release), Reply.text("second"))
    bot.tg.send_text(OWNER, None, "one")
    await bot.cli.fake.main_request(1)
    bot.tg.send_text(OWNER, None, "two")  # waits behind "one", in session main
    await bot.reply("Queued")
    bot.tg.send_text(OWNER, None, "/new other")  # the chat moves on to a new session
    await bot.reply(lambda m: m.from_bot and "other" in m.content)
    release.set()
    await bot.reply(final_answer(bot, "second"))
    manager = bot.svc.manager
    assert manager.get(OWNER, "main").message_count == 2
    assert manager.get(OWNER, "other").message_count == 0
    assert manager.get_active_session_name(OWNER) == "other"


async def test_a_prompt_for_a_closed_session_is_not_sent_elsewhere(bot: Any) -> None:
    release = threading.Event()
    bot.cli.fake.enqueue(Reply.text("first", hang=release))
    bot.tg.send_text(OWNER, None, "/new work")
    await bot.reply(lambda m: m.from_bot and "work" in m.content)
    bot.tg.send_text(OWNER, None, "one")
    await bot.cli.fake.main_request(1)
    bot.tg.send_text(OWNER, None, "two")
    await bot.reply("Queued")
    bot.svc.manager.switch_session(OWNER, "main")
    await bot.svc.manager.close_session_async(OWNER, "work")
    release.set()
    await bot.reply(lambda m: m.from_bot and "nothing was sent" in m.content)
    assert len(bot.cli.fake.main_requests) == 1
