"""``voice-agent sessions`` and ``voice-agent audit``: the store, for the machine's owner.

``sessions list|show|export`` read the same SQLite store the bot uses (safe while
it runs). ``sessions delete`` is refused while a bot (or terminal chat) serves
sessions from the store, since it would write the session back. ``export`` writes
the reference project's multi-session JSON format, which ``SessionStorage`` can
import again; with ``-o`` it replaces the file in one step (a failed export leaves
no half file) and never writes over the store itself. ``audit`` prints the
permission decision log, filtered by chat and date.

Everything printed that comes from the store (session names, working directories,
tool-call summaries the model chose) goes through
:func:`voice_agent.visible.printable`, so escape sequences in it are shown, not
obeyed by the terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from voice_agent.sessions import SessionStorage
from voice_agent.store.lock import StoreInUse
from voice_agent.visible import escape_char, printable

Printer = Callable[[str], None]

CANCELLED = 130
"""Exit status when the owner presses Ctrl-C at the ``delete`` question (128 + SIGINT)."""

# Files beside the store that SQLite and the store lock use; an export never replaces one.
_STORE_SIDECARS = ("-wal", "-shm", "-journal", ".lock")


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


def _on_screen(out: Printer) -> Printer:
    """``out`` for one line of text from the store: control characters shown, not obeyed."""
    return lambda line: out(printable(line, keep_newlines=False))


def sessions_command(storage: SessionStorage, args: argparse.Namespace, out: Printer) -> int:
    """Carry out ``voice-agent sessions ...``; returns the exit status."""
    action = args.action or "list"
    if action == "export":  # JSON with ensure_ascii: no control character reaches ``out``
        return _export(storage, args.chat, args.output, out)
    shown = _on_screen(out)
    if action == "show":
        return _show(storage, args.chat, args.name, shown)
    if action == "delete":
        return _delete(storage, args.chat, args.name, args.yes, shown)
    return _list(storage, getattr(args, "chat", None), shown)


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
    if not output:
        out(text)
        return 0
    shown = printable(output, keep_newlines=False)
    problem = _unwritable(storage, output)
    stream = _standard_stream(output) if problem is None else None
    if stream is not None:  # -o /dev/stdout, or the very file standard output goes to
        stream.write(text + "\n")
        stream.flush()
        if stream is not sys.stdout:
            out(f"Wrote {len(data)} chat(s) to {shown}.")
        return 0
    if problem is None:
        try:
            _write_whole(output, text + "\n")
        except OSError as error:
            problem = error.strerror or str(error)
    if problem is not None:
        print(f"voice-agent: nothing exported to {shown}: {problem}", file=sys.stderr)
        return 1
    out(f"Wrote {len(data)} chat(s) to {shown}.")
    return 0


def _unwritable(storage: SessionStorage, output: str) -> str | None:
    """Why the export may not be written to ``output``, or None when it may."""
    if os.path.isdir(output):
        return "it is a directory"
    if not os.path.isdir(os.path.dirname(os.path.realpath(output))):
        return f"there is no directory {os.path.dirname(os.path.abspath(output))}"
    database = storage.db_path
    store_files = [storage.path, database]
    store_files += [database.with_name(database.name + suffix) for suffix in _STORE_SIDECARS]
    for store_file in store_files:
        if _same_file(output, store_file):
            what = "the store" if store_file in (storage.path, database) else "a file of the store"
            return f"it is {what}; export to another file"
    return None


def _same_file(output: str, other: Path) -> bool:
    if os.path.realpath(output) == os.path.realpath(other):
        return True
    try:
        return os.path.samefile(output, other)  # a hard link to it, too
    except OSError:  # either is missing
        return False


def _standard_stream(output: str) -> TextIO | None:
    """Standard output or error when ``output`` is where it goes, else None."""
    try:
        found = os.stat(output)
    except OSError:
        return None
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            if os.path.samestat(found, os.fstat(stream.fileno())):
                return stream
    return None


def _write_whole(output: str, text: str) -> None:
    """Write ``text`` to the file ``output`` names all at once: a temporary file, renamed.

    The temporary file is beside the file itself (through symlinks), so the rename
    replaces it in one step and a failure leaves it as it was. A file written over
    keeps its permissions; a new one gets the usual ones (the umask's). A device or
    pipe is written as it is.

    Raises:
        OSError: When it cannot be written.
    """
    try:
        found = os.stat(output)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    else:
        if not stat.S_ISREG(found.st_mode):
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
            return
        mode = stat.S_IMODE(found.st_mode)
    target = Path(os.path.realpath(output))
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _delete(storage: SessionStorage, chat: int, name: str, yes: bool, out: Printer) -> int:
    if storage.get_session(chat, name) is None:
        out(f"No session {name!r} in chat {chat}.")
        return 1
    try:
        with storage.exclusively():  # refuse before asking, and again when deleting
            pass
        if not yes:
            try:
                question = printable(f"Delete session {name!r} of chat {chat}? [y/N] ")
                answer = _confirm(question, sys.stdin)
            except KeyboardInterrupt:
                print(flush=True)  # the shell's prompt comes back on a line of its own
                out("Cancelled; nothing was deleted.")
                return CANCELLED
            if answer is None:
                out("Cancelled; nothing was deleted.")
                return 1
            if not answer:
                out("Nothing deleted.")
                return 1
        with storage.exclusively():
            storage.delete_session(chat, name)
    except StoreInUse as busy:
        out(f"Nothing deleted: {busy}.")
        return 1
    out(f"Deleted session {name!r} of chat {chat} (its Claude Code transcript stays on disk).")
    return 0


def _confirm(question: str, stream: TextIO) -> bool | None:
    """Ask ``question`` at the terminal: True for yes, False for no, None at end of input.

    Without a terminal it is not asked (False). Ctrl-D ends the input; a line break
    is printed then, so what follows starts on a line of its own. Ctrl-C raises
    :class:`KeyboardInterrupt` as usual.
    """
    if not stream.isatty():
        return False
    print(question, end="", flush=True)
    answer = stream.readline()
    if not answer.endswith("\n"):  # Ctrl-D: end of input, whatever was typed before it
        print(flush=True)
        return None
    return answer.strip().lower() in {"y", "yes"}


def audit_command(storage: SessionStorage, args: argparse.Namespace, out: Printer) -> int:
    """Carry out ``voice-agent audit``; returns the exit status."""
    since = args.since.isoformat() if args.since else None
    until = (args.until + timedelta(days=1)).isoformat() if args.until else None
    entries = storage.audit.entries(chat_id=args.chat, since=since, until=until, limit=args.limit)
    if args.json:
        for entry in entries:
            out(_json_line(entry.__dict__))
        return 0
    out = _on_screen(out)
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


def _json_line(value: dict[str, Any]) -> str:
    r"""``value`` as one line of JSON, every hidden character as a ``\u`` escape.

    ``json.dumps`` escapes the C0 controls (ESC among them) but not DEL, the C1
    controls (``\x9b`` starts an escape sequence too) or bidi and zero-width
    characters; those are escaped here as well. Other text stays as it is.
    """
    text = json.dumps(value, ensure_ascii=False)
    return "".join(json.dumps(char)[1:-1] if escape_char(char) else char for char in text)
