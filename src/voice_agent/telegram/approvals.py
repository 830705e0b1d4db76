"""Approval prompts on the phone: one message per pending request, decided by its buttons.

Each request gets a message saying what will happen, with Approve / Always /
Reject buttons carrying its id. After a decision or a timeout the message is
edited to show the outcome and loses its buttons. A press on a finished request,
or on a request of another chat, is answered "no longer pending" and changes
nothing. ``/approvals`` lists the session's sticky rules with a revoke button
each; ``/mode`` sets the permission mode.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from voice_agent.sessions import PendingPermission, Session, SessionManager
from voice_agent.sessions.open_prompts_table import OpenPrompt
from voice_agent.sessions.permissions import ASK_USER_QUESTION, PERMISSION_MODES
from voice_agent.sessions.records import AuditEntry
from voice_agent.telegram.approval_view import (
    Choices,
    answers_for,
    keyboard,
    outcome_line,
    prompt_markdown,
    question_keyboard,
    question_markdown,
    scope_keyboard,
)
from voice_agent.telegram.callbacks import Button, Kind, decode, encode
from voice_agent.telegram.diff_image import diff_png
from voice_agent.telegram.render import render

logger = logging.getLogger(__name__)

NO_LONGER_PENDING = "This request is no longer pending."
NOT_AN_APPROVER = "Only approvers can decide tool calls here."
LAPSED = "⌛ *Lapsed*: the bot restarted before a decision; the call was not run."


@dataclass
class _Prompt:
    session: Session
    request: PendingPermission
    markdown: str
    message: Message | None = None
    decided_by: str = ""
    chosen: Choices = field(default_factory=Choices)


class ApprovalDesk:
    """Shows permission requests and carries out button presses."""

    def __init__(self, manager: SessionManager) -> None:
        """Start with no prompts; :meth:`attach` gives the bot.

        Args:
            manager: The session manager whose requests are shown.

        Attributes:
            threads: Where each session's turns came from (forum topic, by session
                key), oldest first: the oldest is the running turn (the others
                wait for the session in order), and its prompts go there. A
                session without a turn uses its topic, if it has one.
        """
        self._manager = manager
        self._bot: Bot | None = None
        self._prompts: dict[str, _Prompt] = {}
        self.threads: dict[int, list[tuple[object, int | None]]] = {}

    def attach(self, bot: Bot) -> None:
        """Use ``bot`` to send prompts."""
        self._bot = bot

    def pending_prompts(self) -> list[PendingPermission]:
        """Requests with a prompt on screen, oldest first."""
        return [p.request for p in self._prompts.values()]

    async def on_request(self, session: Session, request: PendingPermission) -> None:
        """Send the approval prompt for a new request.

        Raises:
            TelegramError: The prompt could not be sent (the request is then denied).
        """
        assert self._bot is not None
        several = len(self._manager.sessions.get(session.chat_id, {})) > 1
        label = session.name if several else ""
        asking = request.tool_name == ASK_USER_QUESTION
        markdown = (
            question_markdown(request, label)
            if asking
            else prompt_markdown(request, session.cwd, label)
        )
        prompt = _Prompt(session, request, markdown)
        self._prompts[request.request_id] = prompt
        chunk = render(markdown)[0]
        try:
            prompt.message = await self._bot.send_message(
                session.chat_id,
                chunk.text,
                entities=list(chunk.entities) or None,
                reply_markup=question_keyboard(request, Choices()) if asking else keyboard(request),
                message_thread_id=self.thread_of(session),
            )
        except TelegramError:
            self._prompts.pop(request.request_id, None)
            raise
        if self._manager.storage is not None:
            self._manager.storage.open_prompts.add(
                OpenPrompt(request.request_id, session.chat_id, prompt.message.message_id, markdown)
            )
        await self._send_picture(session, request, prompt.message)

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
        self, session: Session, request: PendingPermission, prompt: Message
    ) -> None:
        """Add a picture of a long diff under the prompt (never blocks the approval)."""
        assert self._bot is not None
        png = await asyncio.to_thread(diff_png, request.tool_name, request.input_data, session.cwd)
        if png is None:
            return
        try:
            await self._bot.send_photo(
                session.chat_id,
                png,
                caption=f"Approval #{request.number}: the change",
                reply_to_message_id=prompt.message_id,
                message_thread_id=prompt.message_thread_id if prompt.is_topic_message else None,
            )
        except TelegramError as error:
            logger.info("could not send the diff picture: %s", error)

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
        if self._manager.storage is not None:
            self._manager.storage.open_prompts.remove(request.request_id)

    async def mark_lapsed(self) -> int:
        """At start-up: edit prompts left from the last run to say they lapsed.

        Their requests ended with that run; the calls were not run, and their buttons
        are removed (a press would be refused anyway).

        Returns:
            How many prompts were marked.
        """
        assert self._bot is not None
        if self._manager.storage is None:
            return 0
        lapsed = self._manager.storage.open_prompts.take_all()
        for old in lapsed:
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
        handler = prompt.session.permission_handler
        return handler.answer_questions(prompt.request.request_id, answers, user_id=user_id)

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
        prompt = self.live(request_id, chat_id)
        if prompt is None:
            return False
        handler = prompt.session.permission_handler
        prompt.decided_by = who
        if button.kind is Kind.APPROVE:
            return handler.approve(request_id, user_id=user_id)
        if button.kind is Kind.ANSWER:
            return self._answer(prompt, scope, user_id)
        if button.kind is Kind.SCOPE:
            ttl = 3600.0 if scope.endswith("1") else None
            rule = handler.sticky_approve(
                request_id, user_id=user_id, ttl=ttl, project=scope.startswith("p")
            )
            return rule is not None
        message = (
            "Keep planning: the user did not approve the plan yet."
            if (prompt.request.tool_name == "ExitPlanMode")
            else None
        )
        return handler.deny(message, request_id=request_id, user_id=user_id)


async def on_decision_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Approve / Always / Reject pressed."""
    from voice_agent.telegram.services import services

    query = update.callback_query
    assert query is not None
    button = decode(query.data)
    chat = update.effective_chat
    user = update.effective_user
    svc = services(context)
    if not svc.gate.may_approve(user.id if user else None):
        refuse_chatter(svc.manager, chat.id if chat else None, user.id if user else None, "button")
        await query.answer(NOT_AN_APPROVER, show_alert=True)
        return
    if button is not None and chat is not None and button.kind in (Kind.ALWAYS, Kind.BACK):
        prompt = svc.desk.live(button.arg, chat.id)
        if prompt is None:
            await query.answer(NO_LONGER_PENDING)
            return
        choosing = button.kind is Kind.ALWAYS
        markup = scope_keyboard(prompt.request) if choosing else keyboard(prompt.request)
        await query.edit_message_reply_markup(markup)
        await query.answer("How far should “Always” go?" if choosing else None)
        return
    done = (
        button is not None
        and chat is not None
        and svc.desk.decide(
            button, chat.id, user.id if user else None, user.first_name if user else ""
        )
    )
    if button is not None and chat is not None and button.kind is Kind.ANSWER:
        prompt = svc.desk.live(button.arg.rpartition(":")[2], chat.id)
        if prompt is not None and not done:
            await query.answer("Pick at least one option first.")
            return
        if prompt is not None:  # still waiting for other answers: show what was chosen
            await query.edit_message_reply_markup(question_keyboard(prompt.request, prompt.chosen))
    await query.answer(None if done else NO_LONGER_PENDING)


def refuse_chatter(
    manager: SessionManager, chat_id: int | None, user_id: int | None, via: str
) -> None:
    """Log (and audit) a decision attempt by someone who may chat but not approve."""
    logger.warning("user %s may not approve (chat %s, by %s); refused", user_id, chat_id, via)
    if manager.storage is not None:
        manager.storage.audit.record(
            AuditEntry(
                tool_name="-",
                input_summary=f"decision by {via} refused",
                decision="refused",
                chat_id=chat_id,
                user_id=user_id,
                rule="not an approver",
            )
        )


def rules_keyboard(session: Session) -> tuple[str, InlineKeyboardMarkup | None]:
    """The ``/approvals`` text and its revoke buttons."""
    handler = session.permission_handler
    rules = [*handler.get_sticky_approvals(), *handler.project_rules()]
    if not rules:
        return f"No sticky approvals in session {session.name}.", None
    lines = [f"Sticky approvals in session {session.name}:"]
    buttons = []
    for number, rule in enumerate(rules, start=1):
        lines.append(f"{number}. {rule.describe()}")
        if rule.rule_id is not None:
            data = encode(Kind.REVOKE, f"{session.key}:{rule.rule_id}")
            buttons.append([InlineKeyboardButton(f"🗑 Revoke {number}", callback_data=data)])
    buttons.append(
        [
            InlineKeyboardButton(
                "🗑 Revoke all", callback_data=encode(Kind.REVOKE_ALL, str(session.key))
            )
        ]
    )
    return "\n".join(lines), InlineKeyboardMarkup(buttons)


def find_session(svc_sessions: dict[str, Session], key: str) -> Session | None:
    """The session of a chat whose key (as text) is ``key``."""
    return next((s for s in svc_sessions.values() if str(s.key) == key), None)


async def approvals_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/approvals — list sticky rules with revoke buttons."""
    from voice_agent.telegram.services import Where, services
    from voice_agent.telegram.topics import current

    session = current(services(context), Where.of(update))
    text, markup = rules_keyboard(session)
    assert update.effective_message is not None
    await update.effective_message.reply_text(text, reply_markup=markup)


async def on_revoke_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Revoke one sticky rule, or all of a session's."""
    from voice_agent.telegram.services import Where, services

    query = update.callback_query
    assert query is not None
    button = decode(query.data)
    where = Where.of(update)
    chat_sessions = services(context).manager.sessions.get(where.chat_id, {})
    key, _, rule_id = (button.arg if button else "").partition(":")
    session = find_session(chat_sessions, key)
    if button is None or session is None:
        await query.answer("That session is gone.")
        return
    handler = session.permission_handler
    storage = services(context).manager.storage
    project_ids = {r.rule_id for r in handler.project_rules()}
    if button.kind is Kind.REVOKE_ALL:
        count = handler.clear_sticky_approvals()
        for rule_number in project_ids:
            if storage is not None and rule_number is not None:
                count += storage.sticky.remove(rule_number)
        note = f"Revoked {count} rule(s)."
    elif rule_id.isdigit() and int(rule_id) in project_ids and storage is not None:
        note = "Revoked." if storage.sticky.remove(int(rule_id)) else "Already revoked."
    else:
        rules = handler.get_sticky_approvals()
        index = next((i for i, r in enumerate(rules) if str(r.rule_id) == rule_id), None)
        removed = handler.remove_sticky_approval(index) if index is not None else None
        note = "Revoked." if removed else "Already revoked."
    text, markup = rules_keyboard(session)
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except TelegramError as error:
        logger.debug("could not refresh the rules list: %s", error)
    await query.answer(note)


async def mode_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/mode default|acceptEdits|plan — set the session's permission mode."""
    from voice_agent.telegram.services import Where, services
    from voice_agent.telegram.topics import current

    where = Where.of(update)
    manager = services(context).manager
    message = update.effective_message
    assert message is not None
    session = current(services(context), where)
    wanted = context.args[0] if context.args else ""
    match = {m.lower(): m for m in PERMISSION_MODES}.get(wanted.lower())
    if match is None:
        await message.reply_text(
            f"Permission mode of {session.name}: {session.permission_mode}.\n"
            f"Use /mode {' | '.join(PERMISSION_MODES)}."
        )
        return
    manager.set_permission_mode(where.chat_id, match, session.name)
    await message.reply_text(f"Permission mode of {session.name} is now {match}.")
