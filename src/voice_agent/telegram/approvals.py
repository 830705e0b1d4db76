"""Approval prompts on the phone, decided by their buttons; /approvals and /mode.

The prompts themselves are :class:`~voice_agent.telegram.approval_desk.ApprovalDesk`'s.
A press on a finished request, or on a request of another chat, is answered "no
longer pending" and changes nothing. ``/approvals`` lists the session's sticky
rules with a revoke button each (for a session on another machine, the rules
its worker keeps and applies, listed and revoked there through the protocol);
``/mode`` sets the permission mode. Only
approvers decide, revoke or change the mode (:mod:`voice_agent.telegram.roles`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from voice_agent.sessions import Session
from voice_agent.sessions.permissions import PERMISSION_MODES
from voice_agent.telegram.approval_desk import ApprovalDesk as ApprovalDesk
from voice_agent.telegram.approval_view import (
    keyboard,
    question_keyboard,
    scope_keyboard,
)
from voice_agent.telegram.callbacks import Kind, decode, encode
from voice_agent.telegram.roles import DECIDE, refusal
from voice_agent.telegram.services import Services, Where, services
from voice_agent.telegram.topics import current

if TYPE_CHECKING:  # nats-py and the machines are imported only with NATS_URL set
    from voice_agent.machines.protocol import RulesAction, RulesReply

logger = logging.getLogger(__name__)

NO_LONGER_PENDING = "This request is no longer pending."
ANSWER_LIMIT = 200
"""Characters of a button's answer (Telegram's limit)."""


async def on_decision_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Approve / Always / Reject pressed."""
    query = update.callback_query
    assert query is not None
    button = decode(query.data)
    chat = update.effective_chat
    user = update.effective_user
    svc = services(context)
    refused = refusal(svc, Where.of(update), DECIDE, "decision by button")
    if refused is not None:
        await query.answer(refused, show_alert=True)
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


def _keyboard(
    session: Session, title: str, rules: Sequence[tuple[int | None, str]]
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The ``/approvals`` text for ``rules`` (id, description) and a revoke button each."""
    if not rules:
        return f"No sticky approvals in session {title}.", None
    lines = [f"Sticky approvals in session {title}:"]
    buttons = []
    for number, (rule_id, text) in enumerate(rules, start=1):
        lines.append(f"{number}. {text}")
        if rule_id is not None:
            data = encode(Kind.REVOKE, f"{session.key}:{rule_id}")
            buttons.append([InlineKeyboardButton(f"🗑 Revoke {number}", callback_data=data)])
    buttons.append(
        [
            InlineKeyboardButton(
                "🗑 Revoke all", callback_data=encode(Kind.REVOKE_ALL, str(session.key))
            )
        ]
    )
    return "\n".join(lines), InlineKeyboardMarkup(buttons)


def rules_keyboard(session: Session) -> tuple[str, InlineKeyboardMarkup | None]:
    """The ``/approvals`` text and its revoke buttons, for a session on this machine."""
    handler = session.permission_handler
    rules = [*handler.get_sticky_approvals(), *handler.project_rules()]
    return _keyboard(session, session.name, [(r.rule_id, r.describe()) for r in rules])


async def remote_rules(
    svc: Services,
    session: Session,
    machine: str,
    action: RulesAction = "list",
    rule_id: int | None = None,
) -> tuple[str, InlineKeyboardMarkup | None, RulesReply | None]:
    """The ``/approvals`` of a session on ``machine``: its worker's rules, after ``action``.

    The worker keeps and applies that session's rules, so they are listed (and
    revoked) there, through the protocol (:mod:`voice_agent.machines.rules`).

    Returns:
        The text, its revoke buttons, and the worker's reply. When nothing could
        be listed (the machine offline, NATS not connected) the text says why
        and the reply is not ``ok`` (None: NATS is not connected).
    """
    remote = svc.machines.remote if svc.machines is not None else None
    if remote is None:
        doing = "listed" if action == "list" else "revoked"
        return f"⚠️ NATS is not connected: {machine}'s rules can't be {doing} now", None, None
    reply = await remote.rules(machine, session.chat_id, session.name, session.cwd, action, rule_id)
    if not reply.ok:
        return f"⚠️ {reply.error}", None, reply
    title = f"{session.name} on 🖥 {machine}"
    text, markup = _keyboard(session, title, [(r.rule_id, r.text) for r in reply.rules])
    return text, markup, reply


async def approvals_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/approvals — list sticky rules with revoke buttons (a remote session's: its machine's)."""
    svc = services(context)
    session = current(svc, Where.of(update))
    machine = svc.machine_of(session)
    if machine is None:
        text, markup = rules_keyboard(session)
    else:
        text, markup, _ = await remote_rules(svc, session, machine)
    assert update.effective_message is not None
    await update.effective_message.reply_text(text, reply_markup=markup)


async def on_revoke_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Revoke one sticky rule, or all of a session's (approvers only)."""
    query = update.callback_query
    assert query is not None
    button = decode(query.data)
    where = Where.of(update)
    svc = services(context)
    key, _, rule_id = (button.arg if button else "").partition(":")
    session = svc.manager.session_by_key(where.chat_id, key)
    if button is None or session is None:
        await query.answer("That session is gone.")
        return
    everything = button.kind is Kind.REVOKE_ALL
    attempt = "revoke all rules" if everything else f"revoke rule {rule_id}"
    refused = refusal(svc, where, "revoke rules", attempt, session.name)
    if refused is not None:
        await query.answer(refused, show_alert=True)
        return
    machine = svc.machine_of(session)
    if machine is not None:
        await _revoke_remote(query, svc, session, machine, everything, rule_id)
        return
    rules = session.permission_handler.rules
    if everything:
        note = f"Revoked {rules.revoke_all()} rule(s)."
    else:
        revoked = rule_id.isdigit() and rules.revoke(int(rule_id))
        note = "Revoked." if revoked else "Already revoked."
    text, markup = rules_keyboard(session)
    await _refresh(query, text, markup)
    await query.answer(note)


async def _revoke_remote(
    query: CallbackQuery,
    svc: Services,
    session: Session,
    machine: str,
    everything: bool,
    rule_id: str,
) -> None:
    """Revoke on ``machine``, which keeps the session's rules, then show what is left."""
    if not everything and not rule_id.isdigit():
        await query.answer("Already revoked.")
        return
    action: RulesAction = "revoke_all" if everything else "revoke"
    number = None if everything else int(rule_id)
    text, markup, reply = await remote_rules(svc, session, machine, action, number)
    if reply is None or not reply.ok:
        await query.answer(text[:ANSWER_LIMIT], show_alert=True)
        return
    await _refresh(query, text, markup)
    if everything:
        await query.answer(f"Revoked {reply.revoked} rule(s) on {machine}.")
    else:
        await query.answer(f"Revoked on {machine}." if reply.revoked else "Already revoked.")


async def _refresh(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except TelegramError as error:
        logger.debug("could not refresh the rules list: %s", error)


async def mode_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/mode default|acceptEdits|plan — set the session's permission mode (approvers only)."""
    where = Where.of(update)
    svc = services(context)
    manager = svc.manager
    message = update.effective_message
    assert message is not None
    session = current(svc, where)
    wanted = " ".join(context.args or [])
    if wanted:
        attempt = f"/mode {wanted}"
        refused = refusal(svc, where, "change the permission mode", attempt, session.name)
        if refused is not None:
            await message.reply_text(
                f"{refused} {session.name} stays in {session.permission_mode}."
            )
            return
    match = {m.lower(): m for m in PERMISSION_MODES}.get(wanted.lower())
    if match is None:
        await message.reply_text(
            f"Permission mode of {session.name}: {session.permission_mode}.\n"
            f"Use /mode {' | '.join(PERMISSION_MODES)}."
        )
        return
    manager.set_permission_mode(where.chat_id, match, session.name)
    await message.reply_text(f"Permission mode of {session.name} is now {match}.")
