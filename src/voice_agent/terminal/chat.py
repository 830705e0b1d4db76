"""The terminal front end: a REPL over :class:`~voice_agent.sessions.SessionManager`.

At the prompt (``> ``) a line is a prompt for Claude or a slash command; at a
terminal a paste is one line, newlines included (see
:mod:`voice_agent.terminal.editor`). While a turn runs its answer streams out, tool
calls show on lines of their own, and every line typed answers the approval prompt
on screen (one request at a time); a lone ``y``, ``n`` or ``a`` typed after its
prompt timed out is answered so and sent nowhere. Ctrl-C stops the turn. Ctrl-C at
the prompt, ``/quit`` or the end of the input leave, after every Claude Code process
is closed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path
from typing import TextIO

from voice_agent.agent.options import AgentSettings
from voice_agent.config import Settings, claude_environment
from voice_agent.sessions.manager import SessionManager
from voice_agent.sessions.session import Session
from voice_agent.sessions.storage import SessionStorage
from voice_agent.store.database import StorageError
from voice_agent.terminal.approvals import ApprovalDesk
from voice_agent.terminal.commands import Commands, RuleBook
from voice_agent.terminal.lines import LineReader
from voice_agent.terminal.render import Console, TurnPrinter

__all__ = [
    "PROMPT",
    "add_arguments",
    "build_manager",
    "chat_command",
    "main",
    "open_session",
    "run_chat",
]

logger = logging.getLogger(__name__)

PROMPT = "> "
TERMINAL_CHAT_ID = 0
"""The chat the terminal uses in the shared store (Telegram chat ids are never 0)."""
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
BUSY_NOTE = "(a turn is running: what you type answers approval prompts; Ctrl-C stops it)"
LATE_NOTE = "(that request already timed out; nothing was sent)"
"""Said for a lone ``y``/``n``/``a`` typed after its approval prompt timed out."""


async def run_chat(
    manager: SessionManager,
    *,
    chat_id: int = 0,
    input_stream: TextIO | None = None,
    output: TextIO | None = None,
    session: str | None = None,
    read_files: bool = True,
    rules: RuleBook | None = None,
) -> int:
    """Run the terminal chat until ``/quit``, the end of the input or Ctrl-C at the prompt.

    The manager is closed (``aclose``) before this returns, and the permission
    listeners it registers are removed.

    Args:
        manager: The session manager to drive.
        chat_id: The chat whose sessions are used.
        input_stream: Where lines are read (default ``sys.stdin``).
        output: Where everything is written (default ``sys.stdout``).
        session: Session to start in (created if missing); default the active one.
        read_files: Whether the sessions' files are on this disk (False: they are on
            another machine, and an Edit's approval never reads this disk).
        rules: Where ``/approvals`` finds the sessions' "always" rules (default:
            this process; for sessions on another machine, that machine).

    Returns:
        0 after ``/quit`` or the end of the input, 130 after Ctrl-C at the prompt,
        143 after SIGTERM or SIGHUP.
    """
    stream_in = input_stream if input_stream is not None else sys.stdin
    stream_out = output if output is not None else sys.stdout
    echoes = _isatty(stream_in) and _isatty(stream_out)
    console = Console(stream_out, echoes_input=echoes)
    chat = _Chat(
        manager,
        chat_id,
        stream_in,
        console,
        interactive=_isatty(stream_in),
        read_files=read_files,
        rules=rules,
    )
    return await chat.run(session)


def open_session(manager: SessionManager, chat_id: int, name: str | None) -> Session:
    """Make session ``name`` (created if missing) the chat's active one.

    Args:
        manager: The session manager.
        chat_id: The chat.
        name: The session; None keeps the active one (``main`` for a new chat).

    Returns:
        The active session.
    """
    if name is not None and manager.switch_session(chat_id, name) is None:
        manager.get_or_create(chat_id, name=name)
        manager.switch_session(chat_id, name)
    return manager.get_or_create(chat_id)


class _Chat:
    """One terminal chat: the prompt loop, the turns, and Ctrl-C."""

    def __init__(
        self,
        manager: SessionManager,
        chat_id: int,
        stream: TextIO,
        console: Console,
        *,
        interactive: bool,
        read_files: bool = True,
        rules: RuleBook | None = None,
    ) -> None:
        self._manager = manager
        self._interactive = interactive
        self._chat_id = chat_id
        self._lines = LineReader(stream, on_interrupt=self._on_ctrl_c)
        self._console = console
        self._desk = ApprovalDesk(console, chat_id, read_files=read_files)
        self._commands = Commands(manager, chat_id, console, rules)
        self._running: str | None = None  # the session whose turn runs
        self._status = 0
        self._tasks: set[asyncio.Task[bool]] = set()

    async def run(self, session: str | None) -> int:
        try:
            active = open_session(self._manager, self._chat_id, session)
            self._manager.set_permission_listeners(self._desk.on_request, self._desk.on_resolved)
            with self._signals():
                self._lines.start()
                self._console.line(
                    f"Session {active.name} in {active.cwd}. /help lists the commands;"
                    " Ctrl-D leaves."
                )
                await self._prompt_loop()
        finally:
            self._lines.close()
            self._manager.set_permission_listeners(None, None)
            await self._manager.aclose()
        return self._status

    async def _prompt_loop(self) -> None:
        while True:
            self._console.write(PROMPT)
            line = await self._lines.readline()
            if line is None:
                self._console.end_line()
                return
            self._console.typed(line)
            text = line.strip()
            late = self._desk.is_late_answer(text)
            self._desk.forget_timeout()
            if late:
                self._console.line(LATE_NOTE)
            elif text.startswith("/"):
                if not await self._commands.run(text):
                    return
            elif text:
                await self._turn(text)

    async def _turn(self, prompt: str) -> None:
        session = self._manager.get_or_create(self._chat_id)
        self._running = session.name
        printer = TurnPrinter(self._console)
        helpers = [asyncio.create_task(self._desk.serve()), asyncio.create_task(self._answers())]
        try:
            events = self._manager.stream(self._chat_id, prompt, name=session.name)
            async with aclosing(events):
                async for event in events:
                    printer.show(event)
        except Exception as exc:  # a front end keeps going; the log has the details
            logger.exception("turn failed")
            self._console.line(f"⚠ {exc}")
        finally:
            self._running = None
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            self._console.end_line()

    async def _answers(self) -> None:
        """While a turn runs, pass typed lines to the approval desk.

        At a terminal every line is read as it comes, and one typed while no
        question is open is dropped (an early ``y`` must not answer a later
        question). Other input (a script) is read only when a question is open,
        and a line no question took is kept for the next prompt.
        """
        while True:
            if not self._interactive:
                await self._desk.asking.wait()
            line = await self._lines.readline()
            if line is None:
                self._desk.feed(None)
                return
            answered = self._desk.feed(line)
            if not answered and not self._interactive:
                self._lines.unread(line)
                continue
            self._console.typed(line)
            if not answered and line.strip():
                self._console.line(LATE_NOTE if self._desk.is_late_answer(line) else BUSY_NOTE)

    # -- Ctrl-C ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        """While inside, SIGINT is Ctrl-C and SIGTERM/SIGHUP leave (on the main thread).

        Elsewhere (another thread, no signal support) KeyboardInterrupt works as usual.
        """
        loop = asyncio.get_running_loop()
        handlers = {signal.SIGINT: self._on_ctrl_c, signal.SIGTERM: self._on_term}
        if hasattr(signal, "SIGHUP"):
            handlers[signal.SIGHUP] = self._on_term
        previous = {}
        for signum, handler in handlers.items():
            before = signal.getsignal(signum)
            try:
                loop.add_signal_handler(signum, handler)
            except (NotImplementedError, RuntimeError, ValueError):
                continue
            previous[signum] = before
        try:
            yield
        finally:
            for signum, before in previous.items():
                loop.remove_signal_handler(signum)
                if before is not None:
                    signal.signal(signum, before)

    def _on_ctrl_c(self) -> None:
        """Ctrl-C: stop the running turn, or leave when at the prompt."""
        if self._running is None:
            self._status = EXIT_INTERRUPTED
            self._lines.abort()
            return
        self._console.line("Stopping the turn…")
        self._interrupt()

    def _on_term(self) -> None:
        """SIGTERM or SIGHUP: stop the turn if one runs, then leave."""
        self._status = EXIT_TERMINATED
        self._lines.abort()
        if self._running is not None:
            self._interrupt()

    def _interrupt(self) -> None:
        assert self._running is not None
        task = asyncio.create_task(self._manager.interrupt(self._chat_id, self._running))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


# -- the command line ----------------------------------------------------------------


def build_manager(settings: Settings, default_cwd: Path | None = None) -> SessionManager:
    """The session manager the settings describe.

    Args:
        settings: The loaded settings.
        default_cwd: Working directory of new sessions (default ``settings.default_cwd``).

    Returns:
        A manager on the settings' store.
    """
    return SessionManager(
        default_cwd=str(default_cwd or settings.default_cwd),
        permission_timeout=settings.permission_timeout,
        storage=SessionStorage(settings.store_path),
        agent=AgentSettings(
            env=claude_environment(),
            max_live_clients=settings.max_live_clients,
            idle_timeout=settings.idle_timeout,
            start_timeout=settings.start_timeout,
        ),
        jail=settings.build_jail(),
    )


DESCRIPTION = "Talk to Claude Code in this terminal."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``voice-agent chat`` (``--session``, ``--cwd``, ``--machine``).

    Args:
        parser: The ``chat`` command's parser.
    """
    parser.add_argument("--session", metavar="NAME", help="session to use (created if missing)")
    parser.add_argument(
        "--cwd", metavar="PATH", type=_directory, help="working directory of the session"
    )
    parser.add_argument(
        "--machine",
        metavar="NAME",
        help="run the session on another machine, through NATS (needs NATS_URL)",
    )


def _directory(value: str) -> Path:
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"not a directory: {value}")
    return path


def main(settings: Settings, argv: list[str]) -> int:
    """Run ``voice-agent chat`` from its arguments.

    Args:
        settings: The loaded settings (store, default cwd, timeouts, process limits).
        argv: Arguments after ``chat``: ``[--session NAME] [--cwd PATH]``.

    Returns:
        The exit status, as :func:`chat_command`'s, or 2 for bad arguments and for
        ``--machine`` (the ``voice-agent`` command runs that, with NATS).
    """
    parser = argparse.ArgumentParser(prog="voice-agent chat", description=DESCRIPTION)
    add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage or the help
        return exc.code if isinstance(exc.code, int) else 2
    if args.machine:  # never run here what was asked to run on another machine
        print(
            "voice-agent chat: --machine is run by the voice-agent command "
            f"(voice-agent chat --machine {args.machine}); nothing was started",
            file=sys.stderr,
        )
        return 2
    return chat_command(settings, session=args.session, cwd=args.cwd)


def chat_command(settings: Settings, *, session: str | None, cwd: Path | None) -> int:
    """Run ``voice-agent chat``: the terminal front end on stdin and stdout.

    Args:
        settings: The loaded settings (store, default cwd, timeouts, process limits).
        session: The session to start in (created if missing); None: the active one.
        cwd: The session's new working directory; None keeps it.

    Returns:
        The exit status: 0 when left normally, 130 after Ctrl-C, 143 after SIGTERM
        or SIGHUP, 1 when the store cannot be opened or fails while in use.
    """
    try:
        manager = build_manager(settings, cwd)
    except StorageError as exc:
        print(f"voice-agent chat: {exc}", file=sys.stderr)
        return 1
    if isinstance(sys.stdout, io.TextIOWrapper):  # emoji on a non-UTF-8 terminal
        sys.stdout.reconfigure(errors="replace")
    try:
        if cwd is not None:
            open_session(manager, TERMINAL_CHAT_ID, session)
            manager.set_cwd(TERMINAL_CHAT_ID, str(cwd))
        return asyncio.run(run_chat(manager, chat_id=TERMINAL_CHAT_ID, session=session))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except StorageError as exc:  # damage the store only showed once in use
        print(f"voice-agent chat: {exc}", file=sys.stderr)
        return 1
    finally:
        if manager.storage is not None:
            manager.storage.close()
