"""One prompt from Telegram through the session manager, shown live in the chat."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing

from telegram import Bot, InlineKeyboardMarkup
from telegram.error import TelegramError

from voice_agent.agent.events import (
    AgentEvent,
    CommandsReported,
    TextBlockDone,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnError,
    TurnResult,
)
from voice_agent.logs import chat_context, session_context
from voice_agent.policy.rules import EDIT_TOOLS
from voice_agent.sessions import ImageAttachment, Session
from voice_agent.speech.tts import speakable
from voice_agent.telegram.diff_command import diff_button
from voice_agent.telegram.files import changed_files_keyboard
from voice_agent.telegram.services import Services, Where
from voice_agent.telegram.status import TurnStatus
from voice_agent.telegram.stream import StreamingReply
from voice_agent.telegram.topics import current

logger = logging.getLogger(__name__)


def session_label(svc: Services, session: Session) -> str:
    """The session's name when its chat has more than one session, and its machine.

    A session living on another machine is always labelled with it (``🖥 build-box``).
    """
    name = session.name if svc.manager.count(session.chat_id) > 1 else ""
    machine = svc.machines.label(session) if svc.machines is not None else ""
    return " · ".join(part for part in (name, machine) if part)


CONTEXT_WINDOW = 200_000


def _tokens(count: int) -> str:
    return f"{count / 1000:.1f}k" if count >= 1000 else str(count)


def footer(
    result: TurnResult | TurnError | None, status: TurnStatus, label: str, full: bool = True
) -> str:
    """The answer's last line: outcome, time, tools, tokens, context, cost (Markdown).

    With ``full`` off only a failure or a stop is reported.
    """
    parts = [f"{int(status.elapsed)} s"]
    if status.tools_used:
        parts.append(f"{status.tools_used} tool{'s' if status.tools_used > 1 else ''}")
    if label:
        parts.insert(0, label)
    if isinstance(result, TurnResult):
        tokens = result.input_tokens + result.output_tokens
        if tokens:
            parts.append(f"{_tokens(tokens)} tokens")
        if result.context_tokens:
            parts.append(f"context {100 * result.context_tokens / CONTEXT_WINDOW:.0f}%")
        if not full and not result.interrupted and not result.is_error:
            return ""
    if isinstance(result, TurnError):
        return f"⚠️ {result.message}\n_{' · '.join(parts)}_"
    if result is None:
        return f"⚠️ The turn ended without a result\n_{' · '.join(parts)}_"
    if result.cost_usd:
        parts.append(f"${result.cost_usd:.4f}")
    if result.interrupted:
        return f"⏹ _Stopped · {' · '.join(parts)}_"
    if result.is_error:
        reason = "; ".join(result.errors) or result.result or "Claude reported an error"
        return f"⚠️ {reason}\n_{' · '.join(parts)}_"
    return f"_{' · '.join(parts)}_"


class _Relay:
    """Routes a turn's events to the reply and the status."""

    def __init__(self, reply: StreamingReply, status: TurnStatus) -> None:
        self.reply = reply
        self.status = status
        self.result: TurnResult | TurnError | None = None
        self.changed: list[str] = []
        self._editing: dict[str, str] = {}
        self._deltas = False
        self._new_block = False

    def _text(self, text: str) -> None:
        if self._new_block and self.reply.text.strip():
            self.reply.append("\n\n")
        self._new_block = False
        self.reply.append(text)

    def handle(self, event: AgentEvent) -> None:
        if isinstance(event, TextDelta):
            self._deltas = True
            self._text(event.text)
        elif isinstance(event, TextBlockDone) and not self._deltas:
            self._new_block = True
            self._text(event.text)
        elif isinstance(event, ToolStarted):
            self._new_block = True
            self.status.tool_started(event)
            path = event.input.get("file_path") or event.input.get("notebook_path")
            if event.name in EDIT_TOOLS and isinstance(path, str):
                self._editing[event.tool_use_id] = path
        elif isinstance(event, ToolFinished):
            self.status.tool_finished(event)
            path = self._editing.pop(event.tool_use_id, None)
            if path is not None and not event.is_error and path not in self.changed:
                self.changed.append(path)
        elif isinstance(event, TurnResult | TurnError):
            self.result = event


async def run_prompt(
    bot: Bot,
    svc: Services,
    where: Where,
    prompt: str,
    images: list[ImageAttachment] | None = None,
    *,
    spoken: bool = False,
    session_name: str | None = None,
    watched: bool = True,
) -> None:
    """Send ``prompt`` to the chat's (or topic's) session and stream the answer back.

    Args:
        bot: The bot.
        svc: The shared state.
        where: The chat (and topic) the prompt came from.
        prompt: The prompt text.
        images: Images sent with it.
        spoken: The prompt was a voice note: speak the answer too if the chat wants it.
        session_name: The session it was sent to (default: the one ``where`` works in
            now); if that session was closed meanwhile, nothing is sent.
        watched: Whether the user just sent it (False: a scheduled prompt, whose answer
            always alerts, however quick).
    """
    if session_name is None:
        session = current(svc, where)
    elif (found := svc.manager.get(where.chat_id, session_name)) is not None:
        session = found
    else:
        gone = f"⚠️ Session {session_name} was closed before this prompt's turn; nothing was sent."
        await bot.send_message(
            where.chat_id,
            gone,
            message_thread_id=where.thread_id,
            disable_notification=svc.quiet(where.chat_id),
        )
        return
    refusal = svc.over_budget(where.chat_id)
    if refusal is not None:
        await bot.send_message(
            where.chat_id,
            refusal,
            message_thread_id=where.thread_id,
            disable_notification=svc.quiet(where.chat_id),
        )
        return
    chat_context.set(where.chat_id)
    session_context.set(session.name)
    logger.debug("prompt: %s", prompt)  # prompts are logged only at DEBUG
    events = svc.manager.stream(where.chat_id, prompt, images, name=session.name)
    await show_turn(bot, svc, where, session, events, spoken=spoken, watched=watched)


async def show_turn(
    bot: Bot,
    svc: Services,
    where: Where,
    session: Session,
    events: AsyncGenerator[AgentEvent, None],
    *,
    spoken: bool = False,
    watched: bool = True,
) -> None:
    """Stream a turn's events into the chat: one live reply, its footer, changed files.

    Args:
        bot: The bot.
        svc: The shared state.
        where: The chat (and topic) the answer goes to.
        session: The session the turn runs in.
        events: The turn's events (closed here, also when this task is cancelled).
        spoken: Speak the answer too, if the chat wants it.
        watched: Whether the user is watching it start (False: its answer alerts).
    """
    label = session_label(svc, session)
    mode = "draft" if svc.stream_mode == "auto" and where.private else "edit"
    reply = StreamingReply(bot, where.chat_id, where.thread_id, mode=mode)
    status = TurnStatus(bot, where.chat_id, where.thread_id, str(session.key), label)
    relay = _Relay(reply, status)
    async with status:
        try:
            # Its approval prompts go there; the stream is closed even when this task
            # is cancelled (a stopping bot).
            with svc.desk.turn_from(session, where.thread_id):
                async with aclosing(events):
                    async for event in events:
                        if isinstance(event, CommandsReported):
                            await svc.menus.follow(bot, where.chat_id, event.commands)
                        relay.handle(event)
                        if isinstance(event, ToolStarted):  # words a voice note may use
                            svc.voice.saw_tool(session.key, event.name, event.input)
        except Exception as error:  # the user must hear of any failure; details go to the log
            logger.exception("the turn failed in chat %s", where.chat_id)
            relay.result = TurnError(f"The turn failed: {type(error).__name__}: {error}")
    try:
        ending = footer(relay.result, status, label, svc.footer_on(where.chat_id))
        machine = svc.machines.label(session) if svc.machines is not None else ""
        await reply.finish(
            ending or (f"_{machine}_" if machine else ""),  # /footer off still names it
            alert=should_alert(svc, where.chat_id, relay.result, status.elapsed, watched),
        )
    except TelegramError as error:
        logger.error("could not deliver the answer in chat %s: %s", where.chat_id, error)
    if relay.changed and svc.machine_of(session) is None:  # their 📥 would read this disk
        await _list_changed(bot, svc, where, relay.changed, session.cwd)
    answer = reply.text
    if spoken and isinstance(relay.result, TurnResult) and svc.voice_replies(where.chat_id):
        await speak(bot, svc, where, answer)


def should_alert(
    svc: Services,
    chat_id: int,
    result: TurnResult | TurnError | None,
    elapsed: float,
    watched: bool = True,
) -> bool:
    """Whether the turn's answer notifies: a failure, a long turn, or an unwatched one.

    A turn is long past NOTIFY_AFTER; nobody watches a scheduled prompt start. A quick
    answer is silent (the user is watching); ``/quiet on`` silences every answer.
    """
    if svc.quiet(chat_id):
        return False
    failed = not isinstance(result, TurnResult) or (result.is_error and not result.interrupted)
    return failed or not watched or elapsed > svc.settings.notify_after


async def _list_changed(bot: Bot, svc: Services, where: Where, paths: list[str], cwd: str) -> None:
    text, markup = changed_files_keyboard(paths, cwd)
    diff = await diff_button(svc, where, cwd)  # in a git working tree: 📄 Diff
    if diff is not None:
        markup = InlineKeyboardMarkup([*markup.inline_keyboard, [diff]])
    try:
        await bot.send_message(
            where.chat_id,
            text,
            reply_markup=markup,
            message_thread_id=where.thread_id,
            disable_notification=True,  # the answer above carries the alert
        )
    except TelegramError as error:
        logger.warning("could not list the changed files: %s", error)


async def speak(bot: Bot, svc: Services, where: Where, answer: str) -> None:
    """Send the answer's speakable part as a voice note (code and long output left out)."""
    text = speakable(answer)
    if svc.tts is None or not text:
        return
    try:
        audio = await svc.tts.synthesize(text, _voice_language(svc.settings.stt_language))
        await bot.send_voice(
            where.chat_id, audio, message_thread_id=where.thread_id, disable_notification=True
        )
    except Exception:  # a failed voice reply must not hide the written answer
        logger.exception("could not send the spoken reply in chat %s", where.chat_id)


def _voice_language(stt_language: str) -> str:
    """espeak-ng's language for answers: the speech setting's, English for ``auto``."""
    language = stt_language.split("-")[0].strip().lower()
    return "en" if language in ("", "auto") else language
