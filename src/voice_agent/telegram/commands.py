"""Session and project commands: /new, /switch, /rename, /close, /cwd, /project and more."""

from __future__ import annotations

import contextlib
import html
import os
import re
import shlex
from datetime import UTC, datetime
from pathlib import Path

from telegram import CopyTextButton, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from voice_agent.sessions import Session
from voice_agent.sessions.session import SessionBusy
from voice_agent.telegram.dir_picker import show_directory_keyboard
from voice_agent.telegram.machines import (
    inherit_machine,
    machine_line,
    machine_projects,
    new_on_machine,
    remote_directory,
    switch_machine_project,
)
from voice_agent.telegram.render import TELEGRAM_LIMIT, utf16_len
from voice_agent.telegram.roles import refusal
from voice_agent.telegram.services import Services, Where, services
from voice_agent.telegram.topics import current, here, in_use, start_new, use

NAME = re.compile(r"^[\w.-]{1,32}$")

HELP = """🎙 voice-agent drives Claude Code on this machine.

Send a text, a voice note or a photo: it goes to the active session.
In a group with topics, each topic is a session of its own.
Risky tool calls ask first: ✅ Approve · ♾ Always · ❌ Reject.
Or reply "yes", "no" or "always" to a prompt (voice or text); without a reply
that works when just one request waits here.
Approvers only: deciding, /mode, /cwd, /get, /diff, /resume all, revoking rules.

/sessions — list, switch, create, close sessions
/new [name] — new session (in the current directory); /new alone: tap a directory
/new name@machine — a new session on another machine
/machines — the machines of this bot, online or offline
/switch name — make another session active
/rename old new · /close name
/cwd [path] — change the working directory; /cwd alone: tap a directory
/project name — switch to a configured project (or say "work on api")
/status — the active session, and the command that continues it in a terminal
/approvals — sticky approvals (revoke them)
/mode default|acceptEdits|plan
/clear — forget Claude's context, keep the session
/restart — restart Claude Code, keep the context
/resume — continue an earlier Claude Code conversation of this directory
/resume all — take over one of any directory (say, started in a terminal)
/cancel — stop the running turn and drop queued prompts
/voice on|off — also speak answers to voice notes
/get path — send a file from the working directory (files you send go to uploads/)
/diff — uncommitted changes as a .diff file and a picture, a button per file
/footer on|off — time, tokens, context and cost under each answer
/quiet on|off — no alerts but approvals and questions
/schedule in 30m|at 18:00|daily 09:00|every 2h <prompt> — run it later (approvers)
/schedules — scheduled prompts, ❌ to cancel
Other /commands go to Claude Code as slash commands."""

COMMANDS = [
    ("start", "Start and show help"),
    ("help", "Show help"),
    ("status", "Show the active session"),
    ("sessions", "List and manage sessions"),
    ("new", "Start a new session"),
    ("machines", "List the machines"),
    ("switch", "Switch to another session"),
    ("rename", "Rename a session"),
    ("close", "Close a session"),
    ("cwd", "Change the working directory"),
    ("project", "Switch to a project"),
    ("approvals", "List sticky approvals"),
    ("mode", "Set the permission mode"),
    ("clear", "Forget Claude's context"),
    ("restart", "Restart Claude Code"),
    ("resume", "Resume an earlier conversation"),
    ("cancel", "Stop the running turn"),
    ("voice", "Spoken replies on or off"),
    ("get", "Send a file from the working directory"),
    ("diff", "Show uncommitted changes"),
    ("footer", "Cost footer on or off"),
    ("quiet", "Alerts only for approvals"),
    ("schedule", "Run a prompt later or repeatedly"),
    ("schedules", "List and cancel scheduled prompts"),
]


def _message(update: Update) -> Message:
    message = update.effective_message
    assert message is not None
    return message


def _valid_name(name: str) -> bool:
    return bool(NAME.match(name))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start and /help — what the bot does."""
    await _message(update).reply_text(HELP)


async def status_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/status — the active session's state."""
    where = Where.of(update)
    svc = services(context)
    session = current(svc, where)
    others = svc.manager.count(where.chat_id) - 1
    lines = [session.get_status()]
    if where.thread_id is not None:
        lines.append("This topic works in this session.")
    if session.busy:
        lines.append("Working on a prompt now.")
    queued = max(svc.workers.queued_or_running(where.queue_key) - (1 if session.busy else 0), 0)
    if queued:
        lines.append(f"Queued prompts: {queued}")
    if others:
        lines.append(f"Other sessions in this chat: {others} (/sessions)")
    if (machine := machine_line(svc, session)) is not None:
        lines.append(machine)
    lines.extend(_usage_lines(svc, where.chat_id, session.name))
    command = terminal_command(session)
    if command is None:
        lines.append("Nothing to resume in a terminal yet: no Claude conversation so far.")
        await _message(update).reply_text(_clipped(lines, TELEGRAM_LIMIT))
        return
    machine = svc.machine_of(session)
    lead = f"Continue in a terminal on {machine}:" if machine else "Continue in a terminal:"
    ending = f"\n\n{lead}\n{command}"
    body = _clipped(lines, TELEGRAM_LIMIT - utf16_len(ending))
    text = (
        f"{html.escape(body)}\n\n{html.escape(lead)}\n"
        f'<pre><code class="language-sh">{html.escape(command)}</code></pre>'
    )
    markup = None
    if len(command) <= COPY_TEXT_LIMIT:
        copy = InlineKeyboardButton("📋 Copy command", copy_text=CopyTextButton(command))
        markup = InlineKeyboardMarkup([[copy]])
    await _message(update).reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


COPY_TEXT_LIMIT = 256  # Telegram's limit for a CopyTextButton's text


def _clipped(lines: list[str], limit: int) -> str:
    """``lines`` joined, cut at ``limit`` UTF-16 units (a pending command can be a script)."""
    text = "\n".join(lines)
    while utf16_len(text) > limit:
        text = text[: limit - 1 - max(utf16_len(text) - len(text), 0)].rstrip() + "…"
    return text


def terminal_command(session: Session) -> str | None:
    """The shell command that continues the session's conversation in a terminal.

    ``cd <dir> && claude --resume <id>``, shell-quoted; None before the first turn
    (no Claude session id yet).
    """
    if not session.claude_session_id:
        return None
    return (
        f"cd {shlex.quote(str(session.cwd))} && "
        f"claude --resume {shlex.quote(session.claude_session_id)}"
    )


def _usage_lines(svc: Services, chat_id: int, session_name: str) -> list[str]:
    storage = svc.manager.storage
    if storage is None:
        return []
    today = datetime.now(UTC).date().isoformat()
    session = storage.usage.totals(chat_id, session_name)
    day = storage.usage.totals(chat_id, since=today)
    lines = [
        f"This session: {session.turns} turns, {session.input_tokens + session.output_tokens} "
        f"tokens, ${session.cost_usd:.4f}",
        f"Today in this chat: {day.turns} turns, {day.input_tokens + day.output_tokens} tokens, "
        f"${day.cost_usd:.4f}",
    ]
    if svc.settings.daily_budget_usd:
        lines.append(f"Daily budget: ${svc.settings.daily_budget_usd:.2f}")
    return lines


async def footer_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/footer on|off — the time, tokens, context and cost line under each answer."""
    svc = services(context)
    where = Where.of(update)
    wanted = (context.args[0].lower() if context.args else "").strip()
    if wanted in ("on", "off"):
        svc.set_footer(where.chat_id, wanted == "on")
    state = "on" if svc.footer_on(where.chat_id) else "off"
    await _message(update).reply_text(f"🧾 The answer footer is {state}. Use /footer on|off.")


async def quiet_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/quiet on|off — silence every message of this chat but approvals and questions."""
    svc = services(context)
    where = Where.of(update)
    wanted = (context.args[0].lower() if context.args else "").strip()
    if wanted in ("on", "off"):
        svc.set_quiet(where.chat_id, wanted == "on")
    if svc.quiet(where.chat_id):
        text = "🔕 Quiet: only approvals and questions alert. Use /quiet off."
    else:
        text = (
            f"🔔 Alerts on: approvals, questions, errors, and answers to turns longer than "
            f"{svc.settings.notify_after:g} s. Use /quiet on."
        )
    await _message(update).reply_text(text)


async def new_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/new [name] — a new session, made active, in the current session's directory.

    Without a name: the directory keyboard first (the session gets an automatic name).
    """
    if not context.args:
        await show_directory_keyboard(update, context, new=True)
        return
    where = Where.of(update)
    svc = services(context)
    manager = svc.manager
    if "@" in context.args[0]:  # /new name@machine
        await new_on_machine(update, svc, context.args[0])
        return
    name = context.args[0]
    if not _valid_name(name):
        await _message(update).reply_text("Session names are 1-32 letters, digits, . _ or -.")
        return
    if manager.get(where.chat_id, name) is not None:
        await _message(update).reply_text(f"Session {name} exists; /switch {name} to use it.")
        return
    now = in_use(svc, where)
    session = await start_new(svc, where, name, now.cwd if now else None)
    inherit_machine(svc, now, session)  # a session on another machine begets one there
    await _message(update).reply_text(
        f"🆕 Session {session.name} in {session.cwd} is active{here(where)}."
    )


async def switch_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/switch name — make another session active."""
    where = Where.of(update)
    if not context.args:
        await _message(update).reply_text("Usage: /switch name (see /sessions)")
        return
    session = use(services(context), where, context.args[0])
    if session is None:
        await _message(update).reply_text(f"No session {context.args[0]}; see /sessions.")
        return
    await _message(update).reply_text(
        f"➡️ Session {session.name} ({session.cwd}) is active{here(where)}."
    )


async def rename_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/rename old new."""
    where = Where.of(update)
    manager = services(context).manager
    if len(context.args or []) != 2:
        await _message(update).reply_text("Usage: /rename old new")
        return
    old, new = (context.args or [])[:2]
    if not _valid_name(new):
        await _message(update).reply_text("Session names are 1-32 letters, digits, . _ or -.")
    elif manager.rename_session(where.chat_id, old, new):
        await _message(update).reply_text(f"✏️ Session {old} is now {new}.")
    elif manager.get(where.chat_id, old) is None:
        await _message(update).reply_text(f"No session {old}; see /sessions.")
    else:
        await _message(update).reply_text(f"A session called {new} already exists.")


async def close_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/close name — close a session (its Claude conversation stays on disk)."""
    where = Where.of(update)
    manager = services(context).manager
    if not context.args:
        await _message(update).reply_text("Usage: /close name (see /sessions)")
        return
    name = context.args[0]
    if not await manager.close_session_async(where.chat_id, name):
        await _message(update).reply_text(f"No session {name}.")
        return
    active = manager.get_active_session_name(where.chat_id)
    after = f" Active: {active}." if active and where.thread_id is None else ""
    await _message(update).reply_text(f"🗑 Closed session {name}.{after}")


def _directory(raw: str, base: str) -> Path | str:
    """The directory ``raw`` names (relative to ``base``), or the resolved text if it is none."""
    target = Path(os.path.expanduser(raw))
    if not target.is_absolute():
        target = Path(base) / target
    target = target.resolve()
    return target if target.is_dir() else str(target)


async def cwd_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/cwd path — change the active session's working directory (it must exist; approvers only).

    Without a path: the directory keyboard (choosing there needs an approver too).
    """
    if not context.args:
        await show_directory_keyboard(update, context, new=False)
        return
    where = Where.of(update)
    svc = services(context)
    session = current(svc, where)
    attempt = f"/cwd {' '.join(context.args)}"
    refused = refusal(svc, where, "change the working directory", attempt, session.name)
    if refused is not None:
        await _message(update).reply_text(f"{refused} {session.name} stays in {session.cwd}.")
        return
    raw = " ".join(context.args)
    if svc.machine_of(session) is not None:  # it is checked there, before the next turn
        target: Path | str = Path(remote_directory(session, raw))
    else:
        target = _directory(raw, session.cwd)
    if isinstance(target, str):
        await _message(update).reply_text(f"{target} is not a directory; nothing changed.")
        return
    try:
        svc.manager.set_cwd(where.chat_id, str(target), name=session.name)
    except SessionBusy as busy:  # its Claude Code process still runs in the old directory
        await _message(update).reply_text(f"⏳ {busy}")
        return
    await _message(update).reply_text(f"📁 {session.name} now works in {target}")


async def switch_project(svc: Services, where: Where, name: str) -> Session | None:
    """Work on project ``name`` (in the chat, or in the topic), in the project's directory.

    The project's session is made active (or the topic's), created if needed.

    Args:
        svc: The shared state.
        where: The chat and topic.
        name: A configured project name.

    Returns:
        The session, or None when there is no such project.
    """
    path = svc.settings.projects.get(name)
    if path is None:
        return None
    existing = use(svc, where, name)
    if existing is None:
        return await start_new(svc, where, name, str(path))
    if existing.cwd != str(path):
        # A session running a turn stays where it works (the reply says where).
        with contextlib.suppress(SessionBusy):
            svc.manager.set_cwd(where.chat_id, str(path), name=name)
    return existing


async def work_on_project(svc: Services, where: Where, name: str) -> Session | str | None:
    """Work on project ``name``: one of this bot's ``PROJECTS``, or one another machine declares.

    Returns:
        The session, why it cannot be used (fit to show), or None when no machine has
        a project of that name.
    """
    if name in svc.settings.projects:
        return await switch_project(svc, where, name) or f"No project {name}."
    if name in machine_projects(svc):
        return await switch_machine_project(svc, where, name)
    return None


def command_name(text: str) -> str | None:
    """The name of the /command ``text`` is (``/Compact@bot x`` -> compact), or None."""
    stripped = text.lstrip()
    if not stripped.startswith("/"):
        return None
    words = stripped[1:].split(maxsplit=1)
    return words[0].split("@", 1)[0].lower() if words else ""


async def project_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/project name — switch to a configured project (this machine's or another's)."""
    where = Where.of(update)
    svc = services(context)
    elsewhere = machine_projects(svc)
    listed = [*sorted(svc.settings.projects)]
    listed += [f"{name} (🖥 {machine})" for name, (machine, _) in sorted(elsewhere.items())]
    names = ", ".join(listed) or "none configured (PROJECTS)"
    if not context.args:
        await _message(update).reply_text(f"Projects: {names}")
        return
    name = context.args[0]
    found = await work_on_project(svc, where, name)
    if found is None:
        await _message(update).reply_text(f"No project {name}. Projects: {names}")
        return
    if isinstance(found, str):
        await _message(update).reply_text(found)
        return
    label = f" on 🖥 {elsewhere[name][0]}" if name in elsewhere else ""
    await _message(update).reply_text(f"📂 Working on {found.name}{label} in {found.cwd}")


async def clear_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/clear — start a fresh Claude conversation in the active session."""
    where = Where.of(update)
    svc = services(context)
    session = current(svc, where)
    await svc.manager.clear_context(where.chat_id, session.name)
    await _message(update).reply_text(f"🧹 {session.name}: Claude's context is cleared.")


async def restart_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/restart — a new Claude Code process for the session, same conversation."""
    where = Where.of(update)
    svc = services(context)
    session = current(svc, where)
    await svc.manager.restart(where.chat_id, session.name)
    await _message(update).reply_text(
        f"🔄 {session.name}: Claude Code restarts with the next prompt (context kept)."
    )


async def cancel_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/cancel — stop the running turn and drop queued prompts."""
    where = Where.of(update)
    svc = services(context)
    dropped = svc.workers.cancel_queued(where.queue_key)
    stopped = await svc.manager.interrupt(where.chat_id, current(svc, where).name)
    parts = []
    if stopped:
        parts.append("stopped the running turn")
    if dropped:
        parts.append(f"dropped {dropped} queued prompt(s)")
    await _message(update).reply_text(
        ("⏹ " + " and ".join(parts)) if parts else "Nothing to cancel."
    )
