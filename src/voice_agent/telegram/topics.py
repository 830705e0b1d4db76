"""Which session a message works in: the chat's active session, or its forum topic's.

In a supergroup with topics, each topic is a session of its own (its own working
directory and Claude conversation), and topics run concurrently. A topic's first
message makes its session, named after the topic ("API work" gives ``api-work``)
and working in the configured project of that name, if there is one, else in
the default directory. The General topic, like any chat without topics, works in
the chat's active session. Session commands sent in a topic act on the topic:
``/switch``, ``/new`` and ``/project`` change which session the topic uses and
leave the chat's active session alone. Renaming a topic renames its session too,
unless the session was given a name of its own.
"""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import ContextTypes

from voice_agent.sessions import Session
from voice_agent.telegram.services import Services, Where, services


def _project_dir(svc: Services, title: str | None) -> str | None:
    """The directory of the configured project named like the topic, if any."""
    wanted = (title or "").strip().lower()
    found = next((p for n, p in svc.settings.projects.items() if n.lower() == wanted), None)
    return str(found) if found is not None else None


def is_new_topic(svc: Services, where: Where) -> bool:
    """Whether ``where`` is a forum topic that has no session yet."""
    return where.thread_id is not None and in_use(svc, where) is None


def current(svc: Services, where: Where) -> Session:
    """The session a message from ``where`` works in (made on first use).

    Args:
        svc: The shared state.
        where: The chat and topic.
    """
    if where.thread_id is None:
        return svc.manager.get_or_create(where.chat_id)
    return svc.manager.topic_session(
        where.chat_id, where.thread_id, where.topic, _project_dir(svc, where.topic)
    )


def current_name(svc: Services, where: Where) -> str | None:
    """The name of the session ``where`` works in, without making one."""
    if where.thread_id is None:
        return svc.manager.get_active_session_name(where.chat_id)
    return svc.manager.topics.session_name(where.chat_id, where.thread_id)


def in_use(svc: Services, where: Where) -> Session | None:
    """The session ``where`` works in, if it has one yet (none is made)."""
    name = current_name(svc, where)
    return svc.manager.get(where.chat_id, name) if name is not None else None


def use(svc: Services, where: Where, name: str) -> Session | None:
    """Work in session ``name`` from now on: made active, or bound to the topic.

    Returns:
        The session, or None if the chat has no such session.
    """
    if where.thread_id is None:
        return svc.manager.switch_session(where.chat_id, name)
    return svc.manager.bind_topic(where.chat_id, where.thread_id, name)


async def start_new(svc: Services, where: Where, name: str, cwd: str | None) -> Session:
    """A new session ``name`` for ``where``: the chat's active one, or the topic's.

    Args:
        svc: The shared state.
        where: The chat and topic.
        name: The session's name (one of that name is replaced).
        cwd: Its working directory (default: the configured one).
    """
    if where.thread_id is None:
        return await svc.manager.create_new_async(where.chat_id, cwd=cwd, name=name)
    return svc.manager.new_topic_session(where.chat_id, where.thread_id, name, cwd)


def here(where: Where) -> str:
    """`` in this topic`` inside a forum topic, else "" (for replies)."""
    return " in this topic" if where.thread_id is not None else ""


async def introduce_topic(message: Message, svc: Services, where: Where) -> None:
    """Make a forum topic's session and say which it is and where it works."""
    session = current(svc, where)
    await message.reply_text(
        f"🧵 This topic is session {session.name}, working in {session.cwd}. "
        "/cwd changes it; other topics run alongside."
    )


async def on_topic_created(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A new forum topic: its session is made now, named after it."""
    svc = services(context)
    where = Where.of(update)
    message = update.effective_message
    if message is not None and is_new_topic(svc, where):
        await introduce_topic(message, svc, where)


async def on_topic_edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A topic was renamed: its session follows when it is still named after the topic."""
    message = update.effective_message
    edited = message.forum_topic_edited if message is not None else None
    where = Where.of(update)
    if message is None or edited is None or not edited.name or where.thread_id is None:
        return
    svc = services(context)
    old = current_name(svc, where)
    new = svc.manager.retitle_topic(where.chat_id, where.thread_id, edited.name)
    if new is not None:
        await message.reply_text(f"✏️ Session {old} is now {new}, like its topic.")
