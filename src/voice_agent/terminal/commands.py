"""The slash commands of the terminal chat (``/new``, ``/switch``, ``/status``…)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from voice_agent.sessions.manager import SessionManager
from voice_agent.sessions.session import Session, SessionBusy
from voice_agent.terminal.approval_text import printable
from voice_agent.terminal.render import Console

__all__ = ["HELP", "QUIT_COMMANDS", "Commands", "LocalRules", "RuleBook"]

QUIT_COMMANDS = frozenset({"quit", "exit", "q"})

HELP = """\
Type a prompt and press Enter; the answer streams below it.
While a turn runs, what you type answers approval prompts; Ctrl-C stops the turn.
  /new [NAME]         start a new session (one of that name is replaced)
  /switch NAME        switch to another session
  /sessions           list the sessions
  /status             show the active session
  /cwd [PATH]         show or change the working directory
  /approvals [clear]  list the "always" rules (the session's, then its project's);
                      clear removes the session's
  /help               this text
  /quit               leave (also Ctrl-D, or Ctrl-C at the prompt)"""


class RuleBook(Protocol):
    """Where a session's "always" rules are kept and applied, for ``/approvals``."""

    async def lines(self, session: Session) -> list[str]:
        """The session's rules, one line each (or one line saying why there are none)."""
        ...

    async def clear(self, session: Session) -> str:
        """Remove the session's rules; what was done, in one line."""
        ...


class LocalRules:
    """The rules of sessions that run in this process (their permission handler's)."""

    async def lines(self, session: Session) -> list[str]:
        """The session's rules, then the project rules covering it, numbered; or none.

        Args:
            session: The session.
        """
        handler = session.permission_handler
        rules = [(rule, "") for rule in handler.get_sticky_approvals()]
        rules += [(rule, " (every session of the project)") for rule in handler.project_rules()]
        if not rules:
            return ['No "always" rules in this session.']
        return [
            f"{number}. {rule.describe()}{scope}" for number, (rule, scope) in enumerate(rules, 1)
        ]

    async def clear(self, session: Session) -> str:
        """Remove the session's rules.

        Args:
            session: The session.
        """
        return f"Removed {session.permission_handler.clear_sticky_approvals()} rule(s)."


class Commands:
    """Runs slash commands against the manager for one chat."""

    def __init__(
        self,
        manager: SessionManager,
        chat_id: int,
        console: Console,
        rules: RuleBook | None = None,
    ) -> None:
        """Act on ``manager``'s sessions of chat ``chat_id``, answering at ``console``.

        Args:
            manager: The session manager.
            chat_id: The chat.
            console: Where results are written.
            rules: Where ``/approvals`` finds the rules (default: this process).
        """
        self._manager = manager
        self._chat_id = chat_id
        self._console = console
        self._rules: RuleBook = rules if rules is not None else LocalRules()
        self._table: dict[str, Callable[[str], Awaitable[None]]] = {
            "new": self._new,
            "switch": self._switch,
            "sessions": self._sessions,
            "status": self._status,
            "cwd": self._cwd,
            "approvals": self._approvals,
            "help": self._help,
            "stop": self._stop,
        }

    async def run(self, text: str) -> bool:
        """Run one command line.

        Args:
            text: The line, starting with ``/``.

        Returns:
            False when the command was to leave.
        """
        name, _, arg = text.strip()[1:].partition(" ")
        name = name.lower()
        if name in QUIT_COMMANDS:
            return False
        command = self._table.get(name)
        if command is None:
            self._say(f"Unknown command /{name}; /help lists the commands.")
        else:
            await command(arg.strip())
        return True

    def _say(self, text: str) -> None:
        self._console.line(printable(text))

    async def _new(self, arg: str) -> None:
        name = arg.split()[0] if arg else self._manager.generate_session_name(self._chat_id)
        replaced = self._manager.get(self._chat_id, name) is not None
        session = await self._manager.create_new_async(self._chat_id, name=name)
        verb = "Replaced session" if replaced else "New session"
        self._say(f"{verb} {session.name} in {session.cwd}")

    async def _switch(self, arg: str) -> None:
        if not arg:
            self._say("Usage: /switch NAME (/sessions lists them)")
        elif self._manager.switch_session(self._chat_id, arg) is None:
            self._say(f"No session named {arg}; /sessions lists them.")
        else:
            session = self._manager.get_or_create(self._chat_id)
            self._say(f"Switched to session {session.name} in {session.cwd}")

    async def _sessions(self, arg: str) -> None:
        self._manager.get_or_create(self._chat_id)
        for info in self._manager.list_sessions(self._chat_id):
            mark = "*" if info.is_active else " "
            count = f"{info.message_count} message{'s' if info.message_count != 1 else ''}"
            self._say(f"{mark} {info.name}  ({count})  {info.cwd}")

    async def _status(self, arg: str) -> None:
        session = self._manager.get_or_create(self._chat_id)
        self._say(session.get_status())
        self._say(f"Claude Code processes alive: {self._manager.live_clients}")

    async def _cwd(self, arg: str) -> None:
        session = self._manager.get_or_create(self._chat_id)
        if not arg:
            self._say(f"Working directory: {session.cwd}")
            return
        path = directory(session.cwd, arg)
        if path is None:
            self._say(f"Not a directory: {arg}")
            return
        try:
            self._manager.set_cwd(self._chat_id, str(path))
        except SessionBusy as busy:
            self._say(str(busy))
            return
        self._say(
            f"Working directory: {path} (Claude Code restarts there; the conversation goes on)"
        )

    async def _approvals(self, arg: str) -> None:
        session = self._manager.get_or_create(self._chat_id)
        if arg == "clear":
            self._say(await self._rules.clear(session))
            return
        for line in await self._rules.lines(session):
            self._say(line)

    async def _help(self, arg: str) -> None:
        self._say(HELP)

    async def _stop(self, arg: str) -> None:
        self._say("Nothing is running. (During a turn, press Ctrl-C to stop it.)")


def directory(base: str, arg: str) -> Path | None:
    """The directory ``arg`` names (``~`` expanded, relative to ``base``), if it is one.

    Args:
        base: The directory a relative ``arg`` starts from.
        arg: What was typed.

    Returns:
        The resolved directory, or None when it is not a directory.
    """
    path = Path(arg).expanduser()
    path = (path if path.is_absolute() else Path(base) / path).resolve()
    return path if path.is_dir() else None
