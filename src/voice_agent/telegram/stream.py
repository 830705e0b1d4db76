"""A streaming reply: Claude's answer shown live in Telegram as it is written.

The answer's Markdown grows with each text delta. A flusher task shows it, as
often as Telegram allows:

* ``edit`` mode (groups, topics, and the fallback): one message is edited with
  the text so far; when it passes 4,096 characters the full part is frozen and
  the rest continues in a new message;
* ``draft`` mode (private chats): ``sendMessageDraft`` shows the text as a native
  live preview without the edit rate limit; finished parts are sent as messages.

Formatting comes from :mod:`voice_agent.telegram.render` (text plus entities); if
Telegram refuses the entities, the same text goes out plain. Telegram's limits are
the bot's rate limiter's (:func:`voice_agent.telegram.app.rate_limiter`): it paces
every call and sends one refused with 429 again after the wait Telegram asks for;
the flush interval comes on top. An error that still comes through is retried at
the next flush. A very long answer is also attached as a ``.md`` document.

Every message of the reply is sent silently (``disable_notification``): watching an
answer being written needs no alert. When :meth:`StreamingReply.finish` is asked to
``alert`` (a long turn), the answer's last part arrives as a new message that does
alert, and the streamed message it replaces is deleted: an edit never notifies, and
the alert should carry the answer itself, at the bottom of the chat.

The flusher never outlives the task that streams the reply: if that task ends
without :meth:`StreamingReply.finish` (cancelled when the bot stops, say), the
flusher is cancelled with it, so no task is left pending when the loop closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from telegram import Bot, Message
from telegram.error import BadRequest, TelegramError

from voice_agent.telegram.render import (
    Chunk,
    formatting_refused,
    render,
    render_plain,
    split_for_streaming,
)

logger = logging.getLogger(__name__)

EDIT_INTERVAL = 1.0
DRAFT_INTERVAL = 0.25
DOCUMENT_THRESHOLD = 12_000
FINAL_ATTEMPTS = 5


@dataclass
class _Sent:
    """A Telegram message holding one chunk of the answer."""

    message: Message
    shown: Chunk | None = None
    plain: bool = False


@dataclass
class StreamStats:
    """What the reply did (for tests and benchmarks).

    Attributes:
        flushes: Times the text was pushed to Telegram.
        appended_at: For each delta, ``(clock time, characters of Markdown so far)``.
        shown_at: For each flush, ``(clock time its requests began, characters shown)``.
        plain_fallbacks: Chunks sent without formatting after Telegram refused it.
    """

    flushes: int = 0
    appended_at: list[tuple[float, int]] = field(default_factory=list)
    shown_at: list[tuple[float, int]] = field(default_factory=list)
    plain_fallbacks: int = 0


class StreamingReply:
    """One answer streamed into Telegram messages.

    Attributes:
        chat_id: The chat.
        thread_id: The forum topic, if any.
        mode: ``edit`` or ``draft``.
        stats: What was done so far.
    """

    def __init__(
        self,
        bot: Bot,
        chat_id: int,
        thread_id: int | None = None,
        *,
        mode: str = "edit",
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        header: str = "",
    ) -> None:
        """Prepare a reply; nothing is sent before the first text.

        Args:
            bot: The bot to send with.
            chat_id: The chat.
            thread_id: The forum topic, if any.
            mode: ``edit`` or ``draft`` (private chats only).
            interval: Seconds between pushes (default: 1.0 for edits, 0.25 for drafts).
            clock: Time source (tests).
            header: Markdown put before the answer (e.g. the session's name).
        """
        self.bot = bot
        self.chat_id = chat_id
        self.thread_id = thread_id
        self.mode = mode
        self.stats = StreamStats()
        self._interval = (
            interval
            if interval is not None
            else (DRAFT_INTERVAL if mode == "draft" else EDIT_INTERVAL)
        )
        self._clock = clock
        self._header = header
        self._text = ""
        self._sent: list[_Sent] = []
        self._frozen = 0  # chunks final in Telegram
        self._draft_id = self._new_draft_id()
        self._not_before = 0.0
        self._dirty = asyncio.Event()
        self._closed = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._owner: asyncio.Task[object] | None = None
        self._alert = False

    @staticmethod
    def _new_draft_id() -> int:
        return secrets.randbelow(2**31 - 1) + 1

    @property
    def text(self) -> str:
        """The answer's Markdown so far."""
        return self._text

    @property
    def messages(self) -> list[Message]:
        """The Telegram messages of the answer so far."""
        return [sent.message for sent in self._sent]

    def append(self, delta: str) -> None:
        """Add streamed text; it is shown at the next allowed flush."""
        if not delta:
            return
        self._text += delta
        self.stats.appended_at.append((self._clock(), len(self._text)))
        self._dirty.set()
        if self._task is None:
            self._task = asyncio.create_task(self._flusher(), name=f"reply-{self.chat_id}")
            self._owner = asyncio.current_task()
            if self._owner is not None:
                self._owner.add_done_callback(self._owner_done)

    def replace(self, text: str) -> None:
        """Set the whole answer text (e.g. the final result when no deltas came)."""
        self._text = ""
        self.append(text)

    async def finish(self, footer: str = "", *, alert: bool = False) -> list[Message]:
        """Show the final, fully formatted answer and stop streaming.

        Args:
            footer: Markdown appended after the answer (duration, cost…).
            alert: Notify the user: the last part is sent as a new, alerting message
                (replacing the streamed one) instead of a silent edit.

        Returns:
            The messages holding the answer.

        Raises:
            TelegramError: Telegram kept refusing the final text.
        """
        self._closing = True
        self._closed.set()
        self._dirty.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        self._let_owner_go()
        self._alert = alert
        if footer:
            self._text = f"{self._text}\n\n{footer}" if self._text.strip() else footer
        if self._text.strip():
            await self._push_final()
            if len(self._text) > DOCUMENT_THRESHOLD:
                await self._attach_document()
        return self.messages

    async def aclose(self) -> None:
        """Stop streaming without showing anything more (the reply stays as it is)."""
        self._closing = True
        self._closed.set()
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})
        self._let_owner_go()

    def _owner_done(self, _owner: asyncio.Task[object]) -> None:
        """The streaming task ended without finishing the reply: stop the flusher too."""
        self._closing = True
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def _let_owner_go(self) -> None:
        if self._owner is not None:
            self._owner.remove_done_callback(self._owner_done)
            self._owner = None

    # -- flushing ------------------------------------------------------------

    async def _flusher(self) -> None:
        while True:
            await self._dirty.wait()
            delay = self._not_before - self._clock()
            if delay > 0 and not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closed.wait(), delay)
            if self._closing:
                return
            self._dirty.clear()
            try:
                await self._push(final=False)
            except TelegramError as error:
                logger.warning("could not update the reply in chat %s: %s", self.chat_id, error)
                self._not_before = self._clock() + self._interval
                self._dirty.set()

    async def _push_final(self) -> None:
        for attempt in range(1, FINAL_ATTEMPTS + 1):
            try:
                await self._push(final=True)
                return
            except BadRequest:
                raise
            except TelegramError as error:
                if attempt == FINAL_ATTEMPTS:
                    raise
                logger.warning("final reply failed (%s); retrying", error)
                await asyncio.sleep(min(2.0 * attempt, 10.0))

    def _chunks(self, final: bool) -> tuple[list[Chunk], Chunk | None]:
        text = f"{self._header}\n{self._text}" if self._header else self._text
        if final:
            return render(text), None
        return split_for_streaming(text)

    async def _push(self, final: bool) -> None:
        started, length = self._clock(), len(self._text)
        complete, tail = self._chunks(final)
        for index in range(self._frozen, len(complete)):
            last = final and index == len(complete) - 1
            await self._show(index, complete[index], final=True, last=last)
            self._frozen = index + 1
        if tail is not None:
            await self._show(len(complete), tail, final=False)
        self.stats.flushes += 1
        self.stats.shown_at.append((started, length))
        self._not_before = self._clock() + self._interval

    async def _show(self, index: int, chunk: Chunk, final: bool, last: bool = False) -> None:
        """Put ``chunk`` in the ``index``-th message (draft while streaming, if drafting).

        The answer's ``last`` chunk of an alerting reply is always a new message.
        """
        if self.mode == "draft" and not final:
            await self._draft(chunk)
            return
        if last and self._alert:
            await self._resend_alerting(index, chunk)
            return
        if index < len(self._sent):
            await self._edit(self._sent[index], chunk)
        else:
            self._sent.append(await self._send(chunk))
            if self.mode == "draft":
                self._draft_id = self._new_draft_id()

    async def _draft(self, chunk: Chunk) -> None:
        try:
            await self.bot.send_message_draft(
                self.chat_id,
                self._draft_id,
                chunk.text,
                message_thread_id=self.thread_id,
                entities=list(chunk.entities) or None,
            )
        except BadRequest as error:
            if "parse entities" not in str(error) and "entit" not in str(error).lower():
                logger.info("drafts refused (%s); editing a message instead", error)
                self.mode = "edit"
                await self._show(len(self._sent), chunk, final=False)
                return
            self.stats.plain_fallbacks += 1
            await self.bot.send_message_draft(
                self.chat_id, self._draft_id, chunk.text, message_thread_id=self.thread_id
            )

    async def _resend_alerting(self, index: int, chunk: Chunk) -> None:
        """Send ``chunk`` as a new alerting message; delete the one it replaces."""
        sent = await self._send(chunk, alert=True)
        if index < len(self._sent):
            old, self._sent[index] = self._sent[index], sent
            try:
                await old.message.delete()
            except TelegramError as error:
                logger.warning("could not delete the streamed answer: %s", error)
        else:
            self._sent.append(sent)

    async def _send(self, chunk: Chunk, alert: bool = False) -> _Sent:
        try:
            message = await self.bot.send_message(
                self.chat_id,
                chunk.text,
                entities=list(chunk.entities) or None,
                message_thread_id=self.thread_id,
                disable_web_page_preview=True,
                disable_notification=not alert,
            )
            return _Sent(message, chunk)
        except BadRequest as error:
            if not formatting_refused(error):
                raise
            self.stats.plain_fallbacks += 1
            message = await self.bot.send_message(
                self.chat_id,
                chunk.text,
                message_thread_id=self.thread_id,
                disable_notification=not alert,
            )
            return _Sent(message, chunk, plain=True)

    async def _edit(self, sent: _Sent, chunk: Chunk) -> None:
        if sent.shown == chunk:
            return
        try:
            await self.bot.edit_message_text(
                chunk.text,
                chat_id=self.chat_id,
                message_id=sent.message.message_id,
                entities=None if sent.plain else (list(chunk.entities) or None),
                disable_web_page_preview=True,
            )
        except BadRequest as error:
            if "not modified" in str(error):
                sent.shown = chunk
                return
            if _message_gone(error):  # deleted on the phone, or too old to edit
                logger.info("the streamed answer cannot be edited (%s); sending it anew", error)
                again = await self._send(chunk)
                sent.message, sent.plain, sent.shown = again.message, again.plain, chunk
                return
            if not formatting_refused(error):
                raise
            self.stats.plain_fallbacks += 1
            sent.plain = True
            await self.bot.edit_message_text(
                chunk.text, chat_id=self.chat_id, message_id=sent.message.message_id
            )
        sent.shown = chunk

    async def _attach_document(self) -> None:
        data = io.BytesIO(self._text.encode())
        try:
            await self.bot.send_document(
                self.chat_id,
                document=data,
                filename="answer.md",
                caption="The whole answer as a Markdown file",
                message_thread_id=self.thread_id,
                disable_notification=True,
            )
        except TelegramError as error:
            logger.warning("could not attach the answer document: %s", error)


def _message_gone(error: BadRequest) -> bool:
    """Whether Telegram refused an edit because the message is no longer there to edit."""
    text = str(error).lower()
    return any(
        sign in text
        for sign in ("message to edit not found", "message_id_invalid", "message can't be edited")
    )


__all__ = ["StreamStats", "StreamingReply", "render_plain"]
