"""Approval prompts on the phone, decided by their buttons; /approvals and /mode.

The prompts themselves are :class:`~voice_agent.telegram.approval_desk.ApprovalDesk`'s.
A press on a finished request, or on a request of another chat, is answered "no
longer pending" and changes nothing. ``/approvals`` lists the session's sticky
rules with a revoke button each; ``/mode`` sets the permission mode. Only
approvers decide, revoke or change the mode (:mod:`voice_agent.telegram.roles`).
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
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
from voice_agent.telegram.services import Where, services
from voice_agent.telegram.topics import current

logger = logging.getLogger(__name__)

NO_LONGER_PENDING = "This request is no longer pending."


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


async def approvals_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/approvals — list sticky rules with revoke buttons."""
    session = current(services(context), Where.of(update))
    text, markup = rules_keyboard(session)
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
    handler = session.permission_handler
    storage = svc.manager.storage
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
