"""The bot started in the benchmark's own process, polling the fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from voice_agent.agent.options import AgentSettings
from voice_agent.config import Settings
from voice_agent.telegram.app import build_application, build_services
from voice_agent.telegram.services import Services


@asynccontextmanager
async def polling_bot(settings: Settings, agent: AgentSettings) -> AsyncIterator[Services]:
    """The bot of ``settings`` started in this process and polling, as ``voice-agent run``."""
    svc = build_services(settings, agent)
    app = build_application(settings, svc)
    async with app:
        assert app.post_init is not None
        assert app.updater is not None
        await app.post_init(app)
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield svc
        finally:
            await app.updater.stop()
            await app.stop()
            assert app.post_stop is not None
            await app.post_stop(app)
