"""The machines protocol on NATS, version 1: subjects, messages, their JSON.

Every message is one JSON object with ``"v": 1``; a message of another major
version, or one that does not fit its type, is refused with
:class:`ProtocolError` (never half-read). Subjects (``M`` is a machine name, one
NATS token, see :data:`voice_agent.config.MACHINE_NAME_PATTERN`):

=========================  ============  =========================================
subject                    from → to     message (reply)
=========================  ============  =========================================
``va.w.M.prompt``          hub → M       :class:`PromptCommand` (:class:`Reply`)
``va.w.M.interrupt``       hub → M       :class:`SessionCommand` (:class:`Reply`)
``va.w.M.close``           hub → M       :class:`SessionCommand` (:class:`Reply`)
``va.w.M.ping``            hub → M       :class:`Ping` (:class:`Beat`)
``va.w.M.diff``            hub → M       :class:`DiffCommand` (:class:`DiffReply`)
``va.w.M.rules``           hub → M       :class:`RulesCommand` (:class:`RulesReply`)
``va.m.M.beat``            M → hub       :class:`Beat`, every ``HEARTBEAT_INTERVAL``
``va.m.M.ask``             M → hub       :class:`Ask` (:class:`AskAnswer`)
``va.m.M.resolved``        M → hub       :class:`Resolved`
``va.m.M.turn.T``          M → stream    :class:`TurnEvent`, in order (JetStream)
=========================  ============  =========================================

NATS permissions make the subject the sender's identity: only machine ``M``'s
user may publish under ``va.m.M.``, and only the hub's under ``va.w.``, so a
receiver trusts the machine named by the subject, never one named in a payload.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PROTOCOL_VERSION = 1
"""The major version; a receiver refuses any other."""

PREFIX = "va"
STREAM = "VA_TURNS"
"""The JetStream stream holding every turn's events (subjects ``va.m.*.turn.*``)."""
STREAM_SUBJECTS = f"{PREFIX}.m.*.turn.*"
STREAM_MAX_AGE = 24 * 3600.0
"""Seconds a turn's events are kept (a hub down longer finds the turn gone, and says so)."""
STREAM_MAX_BYTES = 256 * 1024 * 1024
"""At most this much is kept; the oldest turns' events go first."""

COMMANDS = ("prompt", "interrupt", "close", "ping", "diff", "rules")
"""What the hub asks a worker (``va.w.M.<command>``)."""


class ProtocolError(ValueError):
    """A message is not valid JSON of this protocol version; the message says why."""


def command_subject(machine: str, command: str) -> str:
    """``va.w.M.<command>``: the hub's request to worker ``machine``."""
    return f"{PREFIX}.w.{machine}.{command}"


def commands_of(machine: str) -> str:
    """``va.w.M.>``: every request to worker ``machine`` (what it subscribes to)."""
    return f"{PREFIX}.w.{machine}.>"


def machine_subject(machine: str, kind: str) -> str:
    """``va.m.M.<kind>``: what worker ``machine`` sends the hub (``beat``, ``ask``…)."""
    return f"{PREFIX}.m.{machine}.{kind}"


def from_any(kind: str) -> str:
    """``va.m.*.<kind>``: ``kind`` messages of every machine (what the hub subscribes to)."""
    return f"{PREFIX}.m.*.{kind}"


def turn_subject(machine: str, turn_id: str) -> str:
    """``va.m.M.turn.T``: the events of turn ``turn_id`` on ``machine`` (in the stream)."""
    return f"{PREFIX}.m.{machine}.turn.{turn_id}"


def machine_of(subject: str) -> str:
    """The machine a ``va.m.M.…`` or ``va.w.M.…`` subject names.

    Raises:
        ProtocolError: The subject is not one of this protocol's.
    """
    parts = subject.split(".")
    if len(parts) < 4 or parts[0] != PREFIX or parts[1] not in ("m", "w"):
        raise ProtocolError(f"not a machines subject: {subject}")
    return parts[2]


def inbox_prefix(machine: str) -> str:
    """The reply inbox of ``machine``: ``_INBOX.M`` (only its user may subscribe there)."""
    return f"_INBOX.{machine}"


class Message(BaseModel):
    """Base of every message: versioned, strict, immutable."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    v: int = PROTOCOL_VERSION

    def encode(self) -> bytes:
        """The message as UTF-8 JSON."""
        return self.model_dump_json().encode()

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Read a message of this type.

        Raises:
            ProtocolError: Not JSON, another protocol version, or not this type.
        """
        try:
            raw = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ProtocolError(f"not JSON: {error}") from None
        if not isinstance(raw, dict):
            raise ProtocolError("not a JSON object")
        version = raw.get("v")
        if version != PROTOCOL_VERSION:
            raise ProtocolError(
                f"protocol version {version!r}; this voice-agent speaks {PROTOCOL_VERSION}"
            )
        try:
            return cls.model_validate(raw)
        except ValidationError as error:
            raise ProtocolError(f"not a valid {cls.__name__}: {error}") from None


class Beat(Message):
    """A worker's announce and heartbeat (also the answer to :class:`Ping`).

    Attributes:
        version: The worker's voice-agent version.
        boot: Changes each time the worker starts: a new one means its turns are gone.
        cwd: Its default working directory (``DEFAULT_CWD``).
        projects: Its configured projects, name to directory.
        live: Claude Code processes alive there now.
        busy: Turns running there now.
        turns: The ids of those turns.
        interval: Seconds until the next heartbeat.
    """

    version: str
    boot: str
    cwd: str
    projects: dict[str, str] = Field(default_factory=dict)
    live: int = 0
    busy: int = 0
    turns: list[str] = Field(default_factory=list)
    interval: float = 5.0


class Ping(Message):
    """Ask a worker for a :class:`Beat` now (``doctor``, ``/machines``)."""


class ImageData(Message):
    """An image sent with a prompt (base64, as the model takes it)."""

    media_type: str
    data: str


class PromptCommand(Message):
    """Run a turn in a session of the worker.

    Attributes:
        turn_id: The turn's id: its events go to ``va.m.M.turn.<turn_id>``.
        chat_id: The chat the session belongs to.
        session: The session's name.
        cwd: Its working directory on the worker (None: the worker's default).
        prompt: The user's text.
        images: Images sent with it.
        claude_session_id: The Claude conversation the hub knows (None: the worker's).
        permission_mode: ``default``, ``acceptEdits`` or ``plan``.
    """

    turn_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    chat_id: int
    session: str
    cwd: str | None = None
    prompt: str
    images: list[ImageData] = Field(default_factory=list)
    claude_session_id: str | None = None
    permission_mode: Literal["default", "acceptEdits", "plan"] = "default"


class SessionCommand(Message):
    """Interrupt or close a session of the worker.

    Attributes:
        chat_id: The chat.
        session: The session's name.
        forget: For ``close``: start a fresh Claude conversation next time (``/clear``).
        remove: For ``close``: the session was closed on the hub; forget it entirely.
    """

    chat_id: int
    session: str
    forget: bool = False
    remove: bool = False


class Reply(Message):
    """The answer to a command.

    Attributes:
        ok: Whether it was done.
        error: Why not, fit to show the user.
        cwd: For ``prompt``: where the session works on the worker.
    """

    ok: bool
    error: str = ""
    cwd: str | None = None


class DiffCommand(Message):
    """Show a session's uncommitted changes on the worker (``/diff``, a file's button).

    Attributes:
        chat_id: The chat.
        session: The session's name.
        cwd: Its working directory on the worker (None: the worker's default).
        path: One file's diff (relative to the working tree's top, as a
            :class:`DiffFile` named it); None: the whole working tree's.
    """

    chat_id: int
    session: str
    cwd: str | None = None
    path: str | None = None


class DiffFile(Message):
    """A changed file of a :class:`DiffReply` (:class:`~voice_agent.workdir_diff.ChangedFile`)."""

    path: str
    status: str
    staged: bool = False
    unstaged: bool = False
    added: int | None = 0
    removed: int | None = 0


class DiffReply(Message):
    """The worker's diff: :class:`~voice_agent.workdir_diff.WorkdirDiff` or ``FileDiff`` fields.

    Attributes:
        ok: Whether there is a diff; else ``error`` says why not (fit to show).
        error: Why not.
        path: For one file's diff: its path (then ``files`` is empty).
        top: The working tree's top directory on the worker.
        files: The changed files (at most ``MAX_DIFF_FILES``).
        text: The unified diff, cut at ``MAX_DIFF_TEXT`` bytes (``cut`` then says so).
        cut: The text was cut.
        untracked_shown: Untracked files whose content is in ``text``.
        not_shown: Untracked files whose content is not in it though there was room.
        left_out: Secret-looking files left out.
        listing_cut: git listed more untracked files than could be read.
    """

    ok: bool
    error: str = ""
    path: str | None = None
    top: str = ""
    files: list[DiffFile] = Field(default_factory=list)
    text: str = ""
    cut: bool = False
    untracked_shown: int = 0
    not_shown: list[str] = Field(default_factory=list)
    left_out: list[str] = Field(default_factory=list)
    listing_cut: bool = False


RulesAction = Literal["list", "revoke", "revoke_all"]


class RulesCommand(Message):
    """List a session's sticky rules on the worker, or revoke some there (``/approvals``).

    Attributes:
        chat_id: The chat.
        session: The session's name.
        cwd: Its working directory on the worker (which project rules cover it).
        action: ``list``; ``revoke`` one rule (``rule_id``); ``revoke_all`` of the
            session's own rules and the project rules that cover it.
        rule_id: For ``revoke``: the rule's id in the worker's store.
    """

    chat_id: int
    session: str
    cwd: str | None = None
    action: RulesAction = "list"
    rule_id: int | None = None


class RuleEntry(Message):
    """One sticky rule of a :class:`RulesReply`.

    Attributes:
        rule_id: Its id in the worker's store (what a revoke names; None: cannot be).
        text: What it covers, as ``StickyApproval.describe()`` says it.
        project: A rule of every session in its project (not just this session's).
    """

    rule_id: int | None = None
    text: str
    project: bool = False


class RulesReply(Message):
    """The worker's answer to a :class:`RulesCommand`: the rules in force after it.

    Attributes:
        ok: Whether it was done; else ``error`` says why not (fit to show).
        error: Why not.
        rules: The session's rules, its own then the project's (after the revoke).
        revoked: How many rules the command revoked.
    """

    ok: bool
    error: str = ""
    rules: list[RuleEntry] = Field(default_factory=list)
    revoked: int = 0


class Ask(Message):
    """A worker's permission request: its checker could not let the call run unasked.

    Attributes:
        request_id: The worker's request id (the answer is bound to it).
        chat_id: The chat of the session.
        session: The session's name.
        tool_name: The tool.
        input: Its input.
        tool_use_id: Claude's id of the call.
        placed: For an Edit or Write: the change placed in its file as it is on
            the worker (real line numbers, context), when it could be; the hub
            never reads its own disk at the worker's path.
    """

    request_id: str
    chat_id: int
    session: str
    tool_name: str
    input: dict[str, Any]
    tool_use_id: str | None = None
    placed: str | None = None


AskAction = Literal["approve", "always", "reject", "answer"]


class AskAnswer(Message):
    """What the person decided about an :class:`Ask`, applied on the worker.

    Attributes:
        request_id: The request it answers (must be the asked one).
        action: ``approve``, ``always``, ``reject`` or ``answer``.
        reason: For ``reject``: what Claude is told.
        ttl: For ``always``: seconds the rule lasts (None: until revoked).
        project: For ``always``: the rule covers the project, not just the session.
        answers: For ``answer``: question text to the chosen label.
        user_id: Who decided (for the worker's audit log).
    """

    request_id: str
    action: AskAction
    reason: str = ""
    ttl: float | None = None
    project: bool = False
    answers: dict[str, str] = Field(default_factory=dict)
    user_id: int | None = None


class Resolved(Message):
    """A worker's request ended there (timed out, turn stopped): take its prompt down."""

    request_id: str
    chat_id: int
    session: str


class TurnEvent(Message):
    """One event of a turn, as the worker's session manager yielded it.

    Attributes:
        turn_id: The turn.
        n: Its place in the turn, from 0.
        event: The event (see :mod:`voice_agent.machines.codec`).
    """

    turn_id: str
    n: int
    event: dict[str, Any]
