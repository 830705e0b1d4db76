"""The approval desk: one prompt message per pending request, and where each waits.

Each request gets a message saying what will happen, with Approve / Always /
Reject buttons carrying its id; details too long for it come first as a file
(the prompt replies to it and says so). After a decision or a timeout the
message is edited to show the outcome and loses its buttons. The desk remembers
which messages are whose prompts and where (chat and forum topic) each waits, so
that a decision in words can be bound to the prompt it replies to, or to the one
request waiting there. What a decision means is
:mod:`voice_agent.sessions.decisions`; the handlers that take presses are in
:mod:`voice_agent.telegram.approvals`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from telegram import Bot, Message
from telegram.error import BadRequest, TelegramError

from voice_agent.edit_preview import read_target, target_path
from voice_agent.sessions import PendingPermission, Session, SessionManager
from voice_agent.sessions.decisions import (
    ALWAYS,
    ANSWER,
    APPROVE,
    HOUR,
    NOT_PENDING,
    REJECT,
    Decision,
    Outcome,
    Scope,
    apply,
)
from voice_agent.sessions.permissions import ASK_USER_QUESTION
from voice_agent.telegram.approval_view import (
    Attachment,
    Choices,
    answers_for,
    keyboard,
    outcome_line,
    prompt_view,
    question_keyboard,
    question_markdown,
)
from voice_agent.telegram.callbacks import Button, Kind
from voice_agent.telegram.diff_image import diff_png
from voice_agent.telegram.render import formatting_refused, render
from voice_agent.telegram.state.open_prompts import OpenPrompt, OpenPromptsTable
from voice_agent.voice_commands import Shown

logger = logging.getLogger(__name__)

LAPSED = "⌛ *Lapsed*: the bot restarted before a decision; the call was not run."
REMEMBERED_MESSAGES = 10_000
"""Prompt messages the desk remembers (oldest forgotten first): a decision replying to
a forgotten one is refused, never taken for another request."""

Place = tuple[int, int | None]
"""Where a prompt waits: (chat id, forum topic or None)."""


@dataclass
class _Prompt:
    session: Session
    request: PendingPermission
    markdown: str
    place: Place
    message: Message | None = None
    decided_by: str = ""
    chosen: Choices = field(default_factory=Choices)


@dataclass(frozen=True)
class Seen:
    """A prompt that was on screen: its request and number (None: from an earlier run).

    Attributes:
        request_id: The request it asks about.
        number: The number it shows.
        question: Whether it is one of Claude's questions (answered with its
            buttons, never by a decision in words).
    """

    request_id: str
    number: int | None
    question: bool = False


class ApprovalDesk:
    """Shows permission requests and carries out button presses."""

    def __init__(
        self, manager: SessionManager, elsewhere: Callable[[Session], str | None] | None = None
    ) -> None:
        """Start with no prompts; :meth:`attach` gives the bot.

        Args:
            manager: The session manager whose requests are shown.
            elsewhere: The machine a session lives on when it is not this one (None:
                every session is here); kept as :attr:`elsewhere`.

        Attributes:
            elsewhere: The other machine a session lives on, or None. The file an
                Edit of a session elsewhere changes is on that machine, so it is
                never read here: its prompt shows the diff that machine placed
                (``request.placed_diff``), or the plain hunk.
            threads: Where each session's turns came from (forum topic, by session
                key), oldest first: the oldest is the running turn (the others
                wait for the session in order), and its prompts go there. A
                session without a turn uses its topic, if it has one.
        """
        self._manager = manager
        self.elsewhere = elsewhere
        storage = manager.storage
        self._open_prompts = OpenPromptsTable(storage.database) if storage is not None else None
        self._bot: Bot | None = None
        self._prompts: dict[str, _Prompt] = {}
        self._messages: dict[tuple[int, int], Seen] = {}
        self.threads: dict[int, list[tuple[object, int | None]]] = {}

    def attach(self, bot: Bot) -> None:
        """Use ``bot`` to send prompts."""
        self._bot = bot

    async def on_request(self, session: Session, request: PendingPermission) -> None:
        """Send the approval prompt for a new request (after its details file, if any).

        Raises:
            TelegramError: The prompt or its file could not be sent (the request is
                then denied).
        """
        assert self._bot is not None
        several = self._manager.count(session.chat_id) > 1
        label = session.name if several else ""
        asking = request.tool_name == ASK_USER_QUESTION
        # The file an Edit changes, read off the loop: its diff shows real line numbers.
        file_text = None
        here = self.elsewhere is None or self.elsewhere(session) is None
        if here and target_path(request.tool_name, request.input_data) is not None:
            file_text = await asyncio.to_thread(
                read_target, request.tool_name, request.input_data, session.cwd
            )
        view = None if asking else prompt_view(request, session.cwd, label, file_text)
        markdown = question_markdown(request, label) if view is None else view.markdown
        thread = self.thread_of(session)
        prompt = _Prompt(session, request, markdown, (session.chat_id, thread))
        self._prompts[request.request_id] = prompt
        chunk = render(markdown)[0]
        attached: Message | None = None
        markup = question_keyboard(request, Choices()) if asking else keyboard(request)
        try:
            if view is not None and view.attachment is not None:
                attached = await self._send_attachment(session, request, view.attachment, thread)
            reply_to = attached.message_id if attached is not None else None
            try:
                prompt.message = await self._bot.send_message(
                    session.chat_id,
                    chunk.text,
                    entities=list(chunk.entities) or None,
                    reply_markup=markup,
                    message_thread_id=thread,
                    reply_to_message_id=reply_to,
                )
            except BadRequest as error:
                if not formatting_refused(error):
                    raise
                prompt.message = await self._bot.send_message(  # the formatting refused: plain
                    session.chat_id,
                    chunk.text,
                    reply_markup=markup,
                    message_thread_id=thread,
                    reply_to_message_id=reply_to,
                )
        except TelegramError as error:
            self._prompts.pop(request.request_id, None)
            await self._say_not_shown(session, request, thread, error)
            raise
        seen = Seen(request.request_id, request.number, question=asking)
        self._remember(session.chat_id, prompt.message.message_id, seen)
        if attached is not None:
            self._remember(session.chat_id, attached.message_id, seen)
        if self._open_prompts is not None:
            self._open_prompts.add(
                OpenPrompt(request.request_id, session.chat_id, prompt.message.message_id, markdown)
            )
        await self._send_picture(session, request, prompt.message, file_text)

    async def _send_attachment(
        self,
        session: Session,
        request: PendingPermission,
        attachment: Attachment,
        thread: int | None,
    ) -> Message:
        """Send the whole of what the prompt cannot show, as a file just before it."""
        assert self._bot is not None
        size = len(attachment.data)
        return await self._bot.send_document(
            session.chat_id,
            attachment.data,
            filename=attachment.filename,
            caption=f"🔐 Approval #{request.number}: the whole {attachment.what} ({size:,} bytes)",
            message_thread_id=thread,
        )

    def _remember(self, chat_id: int, message_id: int, seen: Seen) -> None:
        self._messages[(chat_id, message_id)] = seen
        while len(self._messages) > REMEMBERED_MESSAGES:
            del self._messages[next(iter(self._messages))]

    async def _say_not_shown(
        self, session: Session, request: PendingPermission, thread: int | None, error: Exception
    ) -> None:
        """Tell the chat a request was denied because its prompt could not be shown."""
        assert self._bot is not None
        text = (
            f"⚠️ Claude asked to use {request.tool_name} (#{request.number}), but the "
            f"approval prompt could not be shown ({error}), so it was denied and did not "
            "run. Ask Claude to try again."
        )
        try:
            await self._bot.send_message(session.chat_id, text, message_thread_id=thread)
        except TelegramError as again:
            logger.warning("could not say that request %s was denied: %s", request.number, again)

    def seen_in(self, chat_id: int, thread_id: int | None, by: datetime | None) -> list[Seen]:
        """The prompts waiting in one place that were on screen at ``by``, oldest first.

        Claude's questions are left out: they are answered with their buttons.

        Args:
            chat_id: The chat.
            thread_id: The forum topic (None: the chat itself, or the General topic).
            by: When the person spoke or typed (a message's date); None: now.
        """
        return [
            Seen(p.request.request_id, p.request.number)
            for p in self._prompts.values()
            if p.place == (chat_id, thread_id)
            and p.message is not None
            and p.request.tool_name != ASK_USER_QUESTION
            and (by is None or p.message.date <= by)
        ]

    def prompt_of(self, chat_id: int, message_id: int) -> Seen | None:
        """The request whose prompt (or its file or picture) is this message, if any."""
        return self._messages.get((chat_id, message_id))

    def shown(self, seen: Seen, chat_id: int) -> Shown:
        """What a decision rule needs of a prompt that was seen: does it still wait?"""
        pending = self.live(seen.request_id, chat_id) is not None
        return Shown(seen.request_id, seen.number, pending)

    @contextmanager
    def turn_from(self, session: Session, thread_id: int | None) -> Iterator[None]:
        """While inside, a turn of ``session`` asked from ``thread_id`` runs or waits.

        Its approval prompts go to that topic once it is the oldest (the running) one.
        """
        places = self.threads.setdefault(session.key, [])
        place = (object(), thread_id)
        places.append(place)
        try:
            yield
        finally:
            places.remove(place)
            if not places:
                self.threads.pop(session.key, None)

    def thread_of(self, session: Session) -> int | None:
        """The forum topic where ``session``'s prompts go (None: the chat itself)."""
        waiting = self.threads.get(session.key)
        if waiting:
            return waiting[0][1]
        return self._manager.topic_of(session)

    async def _send_picture(
        self,
        session: Session,
        request: PendingPermission,
        prompt: Message,
        file_text: str | None,
    ) -> None:
        """Add a picture of a long diff under the prompt (never blocks the approval)."""
        assert self._bot is not None
        png = await asyncio.to_thread(
            diff_png,
            request.tool_name,
            request.input_data,
            session.cwd,
            file_text,
            request.placed_diff,
        )
        if png is None:
            return
        try:
            picture = await self._bot.send_photo(
                session.chat_id,
                png,
                caption=f"Approval #{request.number}: the change",
                reply_to_message_id=prompt.message_id,
                message_thread_id=prompt.message_thread_id if prompt.is_topic_message else None,
            )
        except TelegramError as error:
            logger.info("could not send the diff picture: %s", error)
            return
        self._remember(
            session.chat_id, picture.message_id, Seen(request.request_id, request.number)
        )

    async def on_resolved(self, session: Session, request: PendingPermission) -> None:
        """Edit the prompt to show how the request ended."""
        prompt = self._prompts.pop(request.request_id, None)
        if prompt is None or prompt.message is None:
            return
        markdown = f"{prompt.markdown}\n{outcome_line(request, prompt.decided_by)}"
        chunk = render(markdown)[0]
        try:
            await prompt.message.edit_text(chunk.text, entities=list(chunk.entities) or None)
        except TelegramError as error:
            # Kept in open_prompts: the next start marks it lapsed.
            logger.warning("could not update approval prompt %s: %s", request.request_id, error)
            return
        if self._open_prompts is not None:
            self._open_prompts.remove(request.request_id)

    async def mark_lapsed(self) -> int:
        """At start-up: edit prompts left from the last run to say they lapsed.

        Their requests ended with that run; the calls were not run, and their buttons
        are removed (a press would be refused anyway).

        Returns:
            How many prompts were marked.
        """
        assert self._bot is not None
        if self._open_prompts is None:
            return 0
        lapsed = self._open_prompts.take_all()
        for old in lapsed:
            self._remember(old.chat_id, old.message_id, Seen(old.request_id, None))
            chunk = render(f"{old.text}\n{LAPSED}")[0]
            try:
                await self._bot.edit_message_text(
                    chunk.text,
                    chat_id=old.chat_id,
                    message_id=old.message_id,
                    entities=list(chunk.entities) or None,
                )
            except TelegramError as error:
                logger.info("could not mark prompt %s lapsed: %s", old.request_id, error)
        return len(lapsed)

    def live(self, request_id: str, chat_id: int) -> _Prompt | None:
        """The prompt of a request still pending in this chat, or None."""
        prompt = self._prompts.get(request_id)
        if prompt is None or prompt.session.chat_id != chat_id:
            return None
        if prompt.session.permission_handler.get_request(request_id) is None:
            return None
        return prompt

    def _answer(self, prompt: _Prompt, choice: str, user_id: int | None) -> bool:
        """Record a press under an ``AskUserQuestion``; answer it once all are answered."""
        question, _, option = choice.partition(".")
        if not question.isdigit() or not prompt.chosen.press(prompt.request, int(question), option):
            return False
        answers = answers_for(prompt.request, prompt.chosen)
        if answers is None:
            return True  # more questions to answer; the keyboard is refreshed by the caller
        decision = Decision(ANSWER, answers=answers)
        return apply(
            prompt.session.permission_handler, prompt.request, decision, user_id=user_id
        ).done

    def decide(self, button: Button, chat_id: int, user_id: int | None, who: str) -> bool:
        """Carry out an Approve / Reject press, or an "Always" with its chosen scope.

        Args:
            button: The decoded press.
            chat_id: The chat the press came from.
            user_id: Who pressed.
            who: Their name, for the edited prompt.

        Returns:
            False when the request is finished, unknown or of another chat.
        """
        scope, _, request_id = button.arg.rpartition(":")
        if button.kind is Kind.ANSWER:
            prompt = self.live(request_id, chat_id)
            if prompt is None:
                return False
            prompt.decided_by = who
            return self._answer(prompt, scope, user_id)
        if button.kind is Kind.APPROVE:
            decision = Decision(APPROVE)
        elif button.kind is Kind.SCOPE:
            ttl = HOUR if scope.endswith("1") else None
            decision = Decision(ALWAYS, Scope(project=scope.startswith("p"), ttl=ttl))
        else:
            decision = Decision(REJECT)
        return self.settle(request_id, chat_id, decision, user_id, who).done

    def settle(
        self, request_id: str, chat_id: int, decision: Decision, user_id: int | None, who: str
    ) -> Outcome:
        """Decide one request of this chat, however the decision came (button or words).

        Args:
            request_id: The request.
            chat_id: The chat the decision came from (another chat's request is refused).
            decision: What was decided (see :mod:`voice_agent.sessions.decisions`).
            user_id: Who decided.
            who: Their name, for the edited prompt.

        Returns:
            The outcome; not ``done`` when the request is finished, unknown or of
            another chat.
        """
        prompt = self.live(request_id, chat_id)
        if prompt is None:
            return NOT_PENDING
        prompt.decided_by = who
        handler = prompt.session.permission_handler
        return apply(handler, prompt.request, decision, user_id=user_id)
