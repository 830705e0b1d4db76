"""Asking the person at the terminal about permission requests, one at a time.

What an answer means is :mod:`voice_agent.sessions.decisions` (the same as a
button or a word on the phone). ``on_request`` only queues a request (so the
handler's timeout keeps running);
:meth:`ApprovalDesk.serve` asks the queued requests in order while a turn runs,
and :meth:`ApprovalDesk.feed` hands it each line typed meanwhile. A request
decided elsewhere (timed out, denied by an interrupt) stops being asked.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from voice_agent.edit_preview import read_target
from voice_agent.sessions.decisions import (
    ALWAYS,
    APPROVE,
    HOUR,
    REJECT,
    Action,
    Decision,
    Scope,
    apply,
    is_plan,
)
from voice_agent.sessions.pending import PendingPermission, PermissionState
from voice_agent.sessions.session import Session
from voice_agent.terminal.approval_text import describe_request, printable
from voice_agent.terminal.render import Console
from voice_agent.visible import reveal

__all__ = ["PROMPT", "ApprovalDesk", "parse_answer", "to_decision"]

PROMPT = "Allow? [y]es / [n]o / [a]lways: "
DENIED_BY_USER = "The user denied this at the terminal"
INPUT_CLOSED = "No answer: the terminal's input was closed"

Choice = Literal["yes", "no", "always"]
_ACTIONS: dict[Choice, Action] = {"yes": APPROVE, "always": ALWAYS, "no": REJECT}
_SAID = {APPROVE: "✓ allowed", REJECT: "✗ denied"}
"""The terminal's words for a done decision (a plan's are the shared ones)."""


def parse_answer(line: str) -> tuple[Choice, str] | None:
    """Read an answer to :data:`PROMPT`.

    Args:
        line: What was typed: ``y``/``yes``; ``a``/``always``, optionally followed
            by its scope (``a project``, ``a 1h``, ``a project 1h``); or ``n``/``no``
            optionally followed by a reason for Claude (``n use the tmp folder``).

    Returns:
        The choice and what followed it (the scope for ``always``, the reason for
        ``no``; empty for ``yes``), or None when the line is not an answer.
    """
    word, _, rest = line.strip().partition(" ")
    key = word.lower().rstrip(".,!:")
    if key in {"y", "yes"}:
        return "yes", ""
    if key in {"a", "always"}:
        scope = rest.strip()
        return ("always", scope) if _scope(scope) is not None else None
    if key in {"n", "no"}:
        return "no", rest.strip()
    return None


_PROJECT_WORDS = frozenset({"p", "project"})
_HOUR_WORDS = frozenset({"h", "1h", "hour"})


def _scope(words: str) -> Scope | None:
    """The scope an "always" names (``project``, ``1h``, both); None for other words."""
    said = set(words.lower().split())
    if said - _PROJECT_WORDS - _HOUR_WORDS:
        return None
    return Scope(project=bool(said & _PROJECT_WORDS), ttl=HOUR if said & _HOUR_WORDS else None)


def to_decision(choice: Choice, rest: str) -> Decision:
    """What an answer read by :func:`parse_answer` decides.

    Args:
        choice: ``yes``, ``always`` or ``no``.
        rest: The scope of ``always`` or the reason of ``no``.
    """
    if choice == "always":
        return Decision(ALWAYS, _scope(rest) or Scope())
    return Decision(_ACTIONS[choice], reason=rest if choice == "no" else "")


class ApprovalDesk:
    """Shows each permission request of one chat and takes the typed decision."""

    def __init__(self, console: Console, chat_id: int, *, read_files: bool = True) -> None:
        """Ask at ``console`` about the requests of chat ``chat_id``.

        Args:
            console: Where prompts are written.
            chat_id: Requests of other chats are ignored.
            read_files: Whether an Edit's file is on this disk (False for a session
                on another machine: its diff is the one placed there, or the plain hunk).
        """
        self._read_files = read_files
        self._console = console
        self._chat_id = chat_id
        self._queue: asyncio.Queue[tuple[Session, PendingPermission]] = asyncio.Queue()
        self._answer: asyncio.Future[str | None] | None = None
        self._input_closed = False
        self._decided: set[str] = set()
        self.asking = asyncio.Event()
        """Set while a question is open and has no answer yet."""
        self.timed_out: PendingPermission | None = None
        """The last request that timed out unanswered, until the next question is
        asked or :meth:`forget_timeout` is called: a ``y`` typed after it answers nothing."""

    # -- the manager's permission listeners --------------------------------------

    async def on_request(self, session: Session, request: PendingPermission) -> None:
        """Queue a new request to be asked (returns at once).

        Args:
            session: The session whose tool call waits.
            request: The request.
        """
        if session.chat_id == self._chat_id:
            self._queue.put_nowait((session, request))

    async def on_resolved(self, session: Session, request: PendingPermission) -> None:
        """Say so when a request was decided otherwise than by an answer typed here.

        Args:
            session: The session of the request.
            request: The decided request.
        """
        if session.chat_id != self._chat_id or _took(self._decided, request.request_id):
            return
        what = reveal(request.description, keep_newlines=False).text
        if request.state is PermissionState.TIMEOUT:
            self.timed_out = request
            self._console.line(f"⏱ #{request.number} {what}: not answered in time, denied")
        elif request.state is PermissionState.APPROVED:
            self._console.line(f"✓ #{request.number} {what}: approved elsewhere")
        else:
            reason = printable(request.deny_message or "denied", keep_newlines=False)
            self._console.line(f"✗ #{request.number} {what}: {reason}")

    # -- typed lines ---------------------------------------------------------------

    def is_late_answer(self, line: str) -> bool:
        """Whether ``line`` is a lone answer (``y``, ``n``, ``a``…) to a request that timed out.

        Args:
            line: A line typed while no question is open.
        """
        text = line.strip()
        return self.timed_out is not None and " " not in text and parse_answer(text) is not None

    def forget_timeout(self) -> None:
        """Read the next lone ``y`` as itself again (a prompt was typed since the timeout)."""
        self.timed_out = None

    def feed(self, line: str | None) -> bool:
        """Give a typed line to the open question.

        Args:
            line: The line, or None when the input ended (every later request is denied).

        Returns:
            False when no question was open (the line was not used).
        """
        if line is None:
            self._input_closed = True
        elif self._answer is None or self._answer.done():
            return False
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(line)
        self.asking.clear()  # answered: the question takes no more lines
        return True

    # -- asking ----------------------------------------------------------------------

    async def serve(self) -> None:
        """Ask every queued request still pending, oldest first; runs until cancelled."""
        while True:
            session, request = await self._queue.get()
            if request.state is PermissionState.PENDING:
                await self._ask(session, request)

    async def _ask(self, session: Session, request: PendingPermission) -> None:
        self._console.line(f"⚠ Approval #{request.number} · session {session.name}")
        file_text = None
        if self._read_files:
            file_text = await asyncio.to_thread(
                read_target, request.tool_name, request.input_data, session.cwd
            )
        self._console.line(
            describe_request(
                request.tool_name, request.input_data, session.cwd, file_text, request.placed_diff
            )
        )
        while request.state is PermissionState.PENDING:
            line = await self._next_answer(request)
            if request.state is not PermissionState.PENDING:
                return  # decided elsewhere; on_resolved says how
            if line is None:
                self._decide(session, request, "no", INPUT_CLOSED)
                return
            answer = parse_answer(line)
            if answer is None:
                self._console.line(
                    "Please answer y (yes), n (no, maybe with a reason) or a (always;"
                    " a project: for every session in this project; a 1h: for an hour)."
                )
                continue
            self._decide(session, request, *answer)

    async def _next_answer(self, request: PendingPermission) -> str | None:
        """The next typed line, or None when the input ended or the request was decided."""
        if self._input_closed:
            return None
        answer: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._answer = answer
        self.timed_out = None  # a y typed now answers this question
        self.asking.set()
        self._console.write(PROMPT)
        decided = asyncio.ensure_future(request.event.wait())

        def wake(_: object) -> None:
            if not answer.done():
                answer.set_result(None)

        decided.add_done_callback(wake)
        try:
            return await answer
        finally:
            self._answer = None
            self.asking.clear()
            decided.cancel()

    def _decide(
        self, session: Session, request: PendingPermission, choice: Choice, reason: str
    ) -> None:
        request_id = request.request_id
        self._decided.add(request_id)
        decision = to_decision(choice, reason)
        handler = session.permission_handler
        outcome = apply(handler, request, decision, rejected=DENIED_BY_USER)
        if not outcome.done:
            self._decided.discard(request_id)
            said = "(already decided)"
        elif is_plan(request):
            said = outcome.text
        elif outcome.rule is not None:
            said = f"✓ allowed, and from now on: {outcome.rule.describe()}"
        else:
            said = _SAID[decision.action]
        self._console.line(said)


def _took(ids: set[str], request_id: str) -> bool:
    """Remove ``request_id`` from ``ids``; whether it was there."""
    if request_id in ids:
        ids.discard(request_id)
        return True
    return False
