"""The live status of a running turn: one message with the current tool, the time, and Stop.

While Claude works the chat shows "typing…", and one status message says what is
happening ("🔧 Bash: pytest -q · 12 s") with a Stop button that interrupts the
turn. The message is updated when a tool starts and every few seconds; it is
deleted when the turn ends (the answer's footer takes over). It is sent silently:
progress never alerts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from types import TracebackType

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ChatAction
from telegram.error import TelegramError

from voice_agent.agent.events import ToolFinished, ToolStarted
from voice_agent.telegram.callbacks import Kind, encode
from voice_agent.visible import reveal

logger = logging.getLogger(__name__)

TICK = 5.0  # seconds between elapsed-time updates
TYPING_EVERY = 4.5  # Telegram shows "typing" for about 5 s
_SUMMARY_LIMIT = 120


def _short(text: str, limit: int = _SUMMARY_LIMIT) -> str:
    flat = reveal(" ".join(text.split()), keep_newlines=False).text
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class TurnStatus:
    """The status message and typing indicator of one turn (an async context manager).

    Attributes:
        tools_used: How many tools the turn started.
    """

    def __init__(
        self,
        bot: Bot,
        chat_id: int,
        thread_id: int | None,
        stop_key: str,
        label: str = "",
    ) -> None:
        """Prepare the status; it appears when the context is entered.

        Args:
            bot: The bot to send with.
            chat_id: The chat.
            thread_id: The forum topic, if any.
            stop_key: The argument of the Stop button (identifies the session).
            label: Session name to show when the chat has several.
        """
        self.bot = bot
        self.chat_id = chat_id
        self.thread_id = thread_id
        self.tools_used = 0
        self._stop = InlineKeyboardMarkup(
            [[InlineKeyboardButton("⏹ Stop", callback_data=encode(Kind.STOP, stop_key))]]
        )
        self._label = label
        self._started = time.monotonic()
        self._tool: str | None = None
        self._message: Message | None = None
        self._shown = ""
        self._changed = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    @property
    def elapsed(self) -> float:
        """Seconds since the turn started."""
        return time.monotonic() - self._started

    def tool_started(self, event: ToolStarted) -> None:
        """Show the tool now running."""
        self.tools_used += 1
        self._tool = f"🔧 {event.name}: {_short(event.summary)}" if event.summary else event.name
        self._changed.set()

    def tool_finished(self, event: ToolFinished) -> None:
        """Go back to "thinking" once the tool is done."""
        self._tool = None
        self._changed.set()

    def _text(self) -> str:
        doing = self._tool or "💭 Thinking…"
        prefix = f"[{self._label}] " if self._label else ""
        return f"{prefix}{doing} · {int(self.elapsed)} s"

    async def __aenter__(self) -> TurnStatus:
        """Start showing the status; the turn does not wait for Telegram to show it."""
        self._ticker = asyncio.create_task(self._run(), name=f"status-{self.chat_id}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the ticker and delete the status message (once it was sent)."""
        self._closing.set()
        if self._ticker is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._message is not None:
            with contextlib.suppress(TelegramError):
                await self._message.delete()

    async def _run(self) -> None:
        """Show "typing" and the status message, then keep them current until closed."""
        self._shown = self._text()
        typing = self.bot.send_chat_action(
            self.chat_id, ChatAction.TYPING, message_thread_id=self.thread_id
        )
        message = self.bot.send_message(
            self.chat_id,
            self._shown,
            reply_markup=self._stop,
            message_thread_id=self.thread_id,
            disable_notification=True,  # progress only: never an alert
        )
        # Both at once, and never cut short: a message sent but not known could not
        # be deleted at the end.
        results = await asyncio.gather(typing, message, return_exceptions=True)
        for result in results:
            if isinstance(result, TelegramError):
                logger.warning("could not show the status in chat %s: %s", self.chat_id, result)
            elif isinstance(result, BaseException):
                raise result
        if isinstance(results[1], Message):
            self._message = results[1]
        if not self._closing.is_set():
            ticking = asyncio.create_task(self._tick())
            await self._closing.wait()
            ticking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticking

    async def _tick(self) -> None:
        last_typing = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), TICK)
            self._changed.clear()
            now = time.monotonic()
            try:
                if now - last_typing >= TYPING_EVERY:
                    last_typing = now
                    await self.bot.send_chat_action(
                        self.chat_id, ChatAction.TYPING, message_thread_id=self.thread_id
                    )
                await self._update()
            except TelegramError as error:  # the rate limiter already retried a 429
                logger.debug("status update failed: %s", error)

    async def _update(self) -> None:
        text = self._text()
        if self._message is None or text == self._shown:
            return
        self._shown = text
        await self._message.edit_text(text, reply_markup=self._stop)
