"""``voice-agent sessions`` and ``voice-agent audit``: the store, for the machine's owner.

``sessions list|show|export`` read the same SQLite store the bot uses (safe while
it runs). ``sessions delete`` is refused while a bot (or terminal chat) serves
sessions from the store, since it would write the session back. ``export`` writes
the reference project's multi-session JSON format, which ``SessionStorage`` can
import again. ``audit`` prints the permission decision log, filtered by chat and
date.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TextIO

from voice_agent.sessions import SessionStorage
from voice_agent.store.lock import StoreInUse

Printer = Callable[[str], None]


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``sessions`` and ``audit`` commands to the CLI.

    Args:
        sub: The CLI's subcommand parsers.
    """
    sessions = sub.add_parser("sessions", help="list, show, export or delete stored sessions")
    actions = sessions.add_subparsers(dest="action")
    listing = actions.add_parser("list", help="one line per session (default)")
    listing.add_argument("--chat", type=int, help="only this chat")
    show = actions.add_parser("show", help="one session in detail, with its sticky rules")
    show.add_argument("chat", type=int)
    show.add_argument("name")
    export = actions.add_parser("export", help="JSON, in the reference sessions.json format")
    export.add_argument("--chat", type=int, help="only this chat")
    export.add_argument("--output", "-o", help="file to write (default: standard output)")
    delete = actions.add_parser("delete", help="delete one session (asks first)")
    delete.add_argument("chat", type=int)
    delete.add_argument("name")
    delete.add_argument("--yes", action="store_true", help="do not ask")
    audit = sub.add_parser("audit", help="the permission decision log")
    audit.add_argument("--chat", type=int, help="only this chat")
    audit.add_argument("--since", type=_day, help="from this date (YYYY-MM-DD) on")
    audit.add_argument("--until", type=_day, help="up to and including this date")
    audit.add_argument("--limit", type=int, default=200, help="at most this many (newest)")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-26") from error


def sessions_command(storage: SessionStorage, args: argparse.Namespace, out: Printer) -> int:
    """Carry out ``voice-agent sessions ...``; returns the exit status."""
    action = args.action or "list"
    if action == "show":
        return _show(storage, args.chat, args.name, out)
    if action == "export":
        return _export(storage, args.chat, args.output, out)
    if action == "delete":
        return _delete(storage, args.chat, args.name, args.yes, out)
    return _list(storage, getattr(args, "chat", None), out)


def _chats(storage: SessionStorage, chat: int | None) -> list[int]:
    return [chat] if chat is not None else storage.list_all_chats()


def _list(storage: SessionStorage, chat: int | None, out: Printer) -> int:
    rows = []
    for chat_id in _chats(storage, chat):
        state = storage.get_chat_state(chat_id)
        if state is None:
            continue
        for session in state.sessions.values():
            mark = "*" if session.name == state.active_session else " "
            claude = session.claude_session_id or "-"
            rows.append(
                f"{chat_id:>14} {mark}{session.name:<20} {session.message_count:>6}  "
                f"{claude:<36}  {session.cwd}"
            )
    if not rows:
        out("No sessions stored.")
        return 0
    out(f"{'chat':>14}  {'session':<20} {'msgs':>6}  {'claude session':<36}  cwd")
    for row in rows:
        out(row)
    return 0


def _show(storage: SessionStorage, chat: int, name: str, out: Printer) -> int:
    session = storage.get_session(chat, name)
    if session is None:
        out(f"No session {name!r} in chat {chat}.")
        return 1
    active = storage.get_active_session(chat)
    out(f"Session {name} in chat {chat}{' (active)' if active and active.name == name else ''}")
    out(f"  working directory: {session.cwd}")
    out(f"  created: {session.created_at}")
    out(f"  messages: {session.message_count}")
    out(f"  Claude session: {session.claude_session_id or '-'}")
    out(f"  permission mode: {storage.get_permission_mode(chat, name)}")
    rules = storage.sticky.list(chat, name)
    out(f"  sticky approvals: {len(rules)}")
    for rule in rules:
        out(f"    #{rule.id} {rule.label or rule.tool_name} (since {rule.created_at})")
    titles = storage.topics.titles()
    for thread, bound in storage.topics.all().get(chat, {}).items():
        if bound == name:
            out(f"  forum topic: {thread} ({titles.get((chat, thread), 'untitled')})")
    return 0


def _export(storage: SessionStorage, chat: int | None, output: str | None, out: Printer) -> int:
    data = {}
    for chat_id in _chats(storage, chat):
        state = storage.get_chat_state(chat_id)
        if state is not None:
            data[str(chat_id)] = state.to_dict()
    text = json.dumps(data, indent=2)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        out(f"Wrote {len(data)} chat(s) to {output}.")
    else:
        out(text)
    return 0


def _delete(storage: SessionStorage, chat: int, name: str, yes: bool, out: Printer) -> int:
    if storage.get_session(chat, name) is None:
        out(f"No session {name!r} in chat {chat}.")
        return 1
    try:
        with storage.exclusively():  # refuse before asking, and again when deleting
            pass
        if not yes and not _confirm(f"Delete session {name!r} of chat {chat}? [y/N] ", sys.stdin):
            out("Nothing deleted.")
            return 1
        with storage.exclusively():
            storage.delete_session(chat, name)
    except StoreInUse as busy:
        out(f"Nothing deleted: {busy}.")
        return 1
    out(f"Deleted session {name!r} of chat {chat} (its Claude Code transcript stays on disk).")
    return 0


def _confirm(question: str, stream: TextIO) -> bool:
    if not stream.isatty():
        return False
    print(question, end="", flush=True)
    return stream.readline().strip().lower() in {"y", "yes"}


def audit_command(storage: SessionStorage, args: argparse.Namespace, out: Printer) -> int:
    """Carry out ``voice-agent audit``; returns the exit status."""
    since = args.since.isoformat() if args.since else None
    until = (args.until + timedelta(days=1)).isoformat() if args.until else None
    entries = storage.audit.entries(chat_id=args.chat, since=since, until=until, limit=args.limit)
    if args.json:
        for entry in entries:
            out(json.dumps(entry.__dict__, ensure_ascii=False))
        return 0
    if not entries:
        out("No decisions logged.")
        return 0
    for entry in entries:
        when = datetime.fromisoformat(entry.ts).strftime("%Y-%m-%d %H:%M:%S")
        who = f" by {entry.user_id}" if entry.user_id else ""
        rule = f" [{entry.rule}]" if entry.rule else ""
        out(
            f"{when}  chat {entry.chat_id} {entry.session_name or '-'}  {entry.decision}{who}  "
            f"{entry.tool_name}: {entry.input_summary}{rule}"
        )
    return 0
