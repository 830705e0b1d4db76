"""The bot under test: the real Application on a fake Bot API, the real CLI on a fake model."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import Application

from tests.e2e.conftest import CliHarness
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from tests.fakes.telegram_types import StoredMessage
from voice_agent.agent.options import AgentSettings, SettingSource
from voice_agent.config import Settings, load_settings
from voice_agent.telegram.app import build_application, build_services
from voice_agent.telegram.services import Services

OWNER = 1001
TIMEOUT = 30.0


@dataclass
class BotHarness:
    """Everything a Telegram e2e test touches."""

    tg: FakeTelegram
    app: Application  # type: ignore[type-arg]
    svc: Services
    cli: CliHarness
    settings: Settings

    def messages(self, chat_id: int = OWNER) -> list[StoredMessage]:
        return self.tg.messages(chat_id)

    def bot_texts(self, chat_id: int = OWNER) -> list[str]:
        return [m.content for m in self.tg.messages(chat_id) if m.from_bot and not m.deleted]

    async def reply(self, match: Any, chat_id: int = OWNER) -> StoredMessage:
        return await self.tg.wait_for_message(chat_id, match, TIMEOUT)

    async def approval_prompt(self, number: int = 1, chat_id: int = OWNER) -> StoredMessage:
        return await self.reply(
            lambda m: m.from_bot and f"Approval #{number}" in m.content and m.callback_data,
            chat_id,
        )

    async def press(self, message: StoredMessage, label: str, chat_id: int = OWNER) -> str:
        """Press the button whose text contains ``label``; returns the callback answer text."""
        button = next(b for b in message.buttons if label in str(b.get("text")))
        injected = self.tg.press_button(
            chat_id, None, message.message_id, str(button["callback_data"])
        )
        answer = await self.tg.wait_for(
            lambda: next(
                (
                    a
                    for a in self.tg.callback_answers
                    if a.callback_query_id == injected.callback_query_id
                ),
                None,
            ),
            TIMEOUT,
        )
        return str(getattr(answer, "text", "") or "")


@asynccontextmanager
async def running_bot(
    cli: CliHarness,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tg: FakeTelegram | None = None,
    *,
    setting_sources: tuple[SettingSource, ...] = (),
    prepare: Callable[[Services], None] | None = None,
    **overrides: Any,
) -> AsyncIterator[BotHarness]:
    """Start the bot on a fake Bot API and stop it cleanly afterwards.

    Pass ``tg`` to run on an existing fake (a restart: Telegram keeps its messages),
    ``setting_sources`` for the Claude Code settings its CLIs load (``("project",)``:
    the working directory's ``.claude/``), ``prepare`` to adjust the shared state
    before the bot starts (e.g. the schedules' clock).
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOICE_AGENT_CONFIG", str(tmp_path / "no-config.toml"))
    async with contextlib.AsyncExitStack() as stack:
        if tg is None:
            tg = await stack.enter_async_context(FakeTelegram(token=DEFAULT_TOKEN))
            tg.private_chat(OWNER, "Ada")
        values: dict[str, Any] = {
            "telegram_bot_token": DEFAULT_TOKEN,
            "telegram_api_base_url": tg.base_url,
            "telegram_api_file_url": tg.base_file_url,
            "allowed_user_ids": frozenset({OWNER}),
            "default_cwd": cli.workdir,
            "voice_agent_data_dir": tmp_path / "data",
            "stream_mode": "edit",
            # Telegram's 20 calls a minute per group, with a one-second "minute": every
            # call still passes the rate limiter, and group tests stay quick (the fake
            # enforces no limit unless a test asks, see test_telegram_limits).
            "telegram_group_time_period": 1.0,
        }
        values.update(overrides)
        settings = load_settings(**values)
        agent = AgentSettings(env=cli.env, setting_sources=setting_sources, idle_timeout=None)
        svc = build_services(settings, agent)
        if prepare is not None:
            prepare(svc)
        app = build_application(settings, svc)
        async with app:
            assert app.post_init is not None
            await app.post_init(app)
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=1)
            try:
                yield BotHarness(tg, app, svc, cli, settings)
            finally:
                await app.updater.stop()
                await app.stop()
                assert app.post_stop is not None
                await asyncio.wait_for(app.post_stop(app), TIMEOUT)
        assert tg.internal_errors == []


@asynccontextmanager
async def team_bot(
    cli: CliHarness,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    group: int,
    chatter: int,
    **overrides: Any,
) -> AsyncIterator[BotHarness]:
    """The bot in the supergroup ``group`` ("team"): the owner approves, ``chatter`` (Carol)
    may only chat; ``overrides`` are more settings, as for :func:`running_bot`."""
    async with running_bot(
        cli,
        tmp_path,
        monkeypatch,
        allowed_chat_ids=frozenset({group}),
        allowed_user_ids=frozenset({OWNER, chatter}),
        approver_user_ids=frozenset({OWNER}),
        **overrides,
    ) as bot:
        bot.tg.supergroup(group, "team")
        bot.tg.user(chatter, "Carol")
        yield bot
