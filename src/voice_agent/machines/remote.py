"""The hub's side of a turn on another machine: send it, follow its stream, stop it.

:meth:`RemoteTurns.run` subscribes to the turn's stream in JetStream first (so no
event can be missed), then asks the worker to start it; events come back in
order. The turn ends with the worker's last event, or, when the machine goes
quiet for the heartbeat timeout (or restarts), with a :class:`TurnError` that
says so: never silence. :meth:`RemoteTurns.attach` follows a turn again from its
first event after the hub restarted.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

import nats.errors
from nats.js.api import DeliverPolicy, DiscardPolicy, StreamConfig
from nats.js.client import JetStreamContext

from voice_agent.agent.events import AgentEvent, TurnError
from voice_agent.machines.codec import decode_event, is_final
from voice_agent.machines.connection import Link
from voice_agent.machines.diffs import found_of
from voice_agent.machines.protocol import (
    STREAM,
    STREAM_MAX_AGE,
    STREAM_MAX_BYTES,
    STREAM_SUBJECTS,
    Beat,
    DiffCommand,
    DiffReply,
    ImageData,
    Ping,
    PromptCommand,
    ProtocolError,
    Reply,
    RulesAction,
    RulesCommand,
    RulesReply,
    SessionCommand,
    TurnEvent,
    command_subject,
    turn_subject,
)
from voice_agent.machines.registry import Machines
from voice_agent.sessions.image import ImageAttachment
from voice_agent.workdir_diff import FileDiff, WorkdirDiff

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TurnRequest:
    """A turn to run on a machine.

    Attributes:
        machine: The machine.
        chat_id: The chat.
        session: The session's name.
        cwd: Its working directory there.
        prompt: The prompt.
        images: Images sent with it.
        claude_session_id: The conversation to resume (None: the worker's own).
        permission_mode: The session's permission mode.
    """

    machine: str
    chat_id: int
    session: str
    cwd: str | None
    prompt: str
    images: tuple[ImageAttachment, ...] = ()
    claude_session_id: str | None = None
    permission_mode: str = "default"


def lost_message(machine: str, timeout: float) -> str:
    """What a turn on a machine that went away ends with."""
    return (
        f"🔌 {machine} went away (no heartbeat for {timeout:.0f} s); the turn ended there. "
        f"When {machine} is back, the next prompt resumes the conversation."
    )


T = TypeVar("T")


@dataclass(frozen=True)
class Unanswered:
    """Why a machine gave no usable answer to a command.

    Attributes:
        kind: ``unconnected`` (no worker listens), ``silent`` (no answer in time, or
            NATS failed) or ``nonsense`` (the answer did not fit the protocol).
        text: The reason, naming the machine (fit to show).
    """

    kind: Literal["unconnected", "silent", "nonsense"]
    text: str


class RemoteTurns:
    """Turns, interrupts and closes of sessions on other machines.

    Attributes:
        registry: The machines and their heartbeats.
        request_timeout: Seconds a command waits for the worker's answer.
    """

    def __init__(self, link: Link, registry: Machines, request_timeout: float) -> None:
        """Use ``link`` (the hub's NATS connection).

        Args:
            link: The hub's connection.
            registry: The machines and their heartbeats.
            request_timeout: Seconds a command waits for the worker's answer.
        """
        self.registry = registry
        self.request_timeout = request_timeout
        self._link = link
        self._js = link.client.jetstream()
        self._poll = max(0.05, min(0.5, registry.timeout / 8))

    async def ensure_stream(self) -> None:
        """Create (or update) the stream that keeps every turn's events."""
        config = StreamConfig(
            name=STREAM,
            subjects=[STREAM_SUBJECTS],
            max_age=STREAM_MAX_AGE,
            max_bytes=STREAM_MAX_BYTES,
            discard=DiscardPolicy.OLD,
        )
        try:
            await self._js.add_stream(config)
        except nats.errors.Error:
            await self._js.update_stream(config)

    async def _request(
        self, machine: str, command: str, data: bytes, decode: Callable[[bytes], T]
    ) -> T | Unanswered:
        """Send ``command`` to ``machine`` and decode its answer, or say why there is none."""
        try:
            msg = await self._link.client.request(
                command_subject(machine, command), data, timeout=self.request_timeout
            )
            return decode(msg.data)
        except nats.errors.NoRespondersError:
            return Unanswered("unconnected", f"{machine} is not connected")
        except (nats.errors.Error, TimeoutError) as error:
            return Unanswered("silent", f"{machine} did not answer ({type(error).__name__})")
        except ProtocolError as error:
            return Unanswered("nonsense", f"{machine} answered nonsense: {error}")

    async def _command(self, machine: str, command: str, data: bytes) -> Reply:
        """Send a session command; a reply that is not ``ok`` when none came."""
        reply = await self._request(machine, command, data, Reply.decode)
        return Reply(ok=False, error=reply.text) if isinstance(reply, Unanswered) else reply

    async def diff(
        self, machine: str, chat_id: int, session: str, cwd: str | None, path: str | None = None
    ) -> WorkdirDiff | FileDiff | str:
        """A session's uncommitted changes on ``machine`` (``path``: one file's).

        Returns:
            What the worker found, or why there is nothing to show (fit to show):
            offline, no answer in time, its answer did not fit the protocol.
        """
        if not self.registry.online(machine):
            return f"{machine} is offline"
        command = DiffCommand(chat_id=chat_id, session=session, cwd=cwd, path=path)
        found = await self._request(
            machine, "diff", command.encode(), lambda data: found_of(DiffReply.decode(data))
        )
        return found.text if isinstance(found, Unanswered) else found

    async def rules(
        self,
        machine: str,
        chat_id: int,
        session: str,
        cwd: str | None,
        action: RulesAction = "list",
        rule_id: int | None = None,
    ) -> RulesReply:
        """A session's sticky rules on ``machine``, after revoking some there (``action``).

        Returns:
            The worker's answer; when there is none (offline, no answer in time,
            nonsense) a reply that is not ``ok`` whose error names the machine.
        """
        doing = "listed" if action == "list" else "revoked"
        if not self.registry.online(machine):
            return RulesReply(
                ok=False, error=f"{machine} is offline: its rules can't be {doing} now"
            )
        command = RulesCommand(
            chat_id=chat_id, session=session, cwd=cwd, action=action, rule_id=rule_id
        )
        reply = await self._request(machine, "rules", command.encode(), RulesReply.decode)
        if not isinstance(reply, Unanswered):
            return reply
        if reply.kind == "unconnected":
            error = f"{machine} is offline: its rules can't be {doing} now"
        elif reply.kind == "silent":
            error = f"{reply.text}: its rules can't be {doing} now"
        else:
            error = reply.text
        return RulesReply(ok=False, error=error)

    async def run(
        self, request: TurnRequest, turn_id: str | None = None
    ) -> AsyncGenerator[AgentEvent, None]:
        """Run a turn on ``request.machine`` and yield its events; the last ends it.

        Args:
            request: The turn.
            turn_id: Its id (default: a new one); the first event may be a
                ``TurnError`` of kind ``lost`` or ``refused``.
        """
        machine = request.machine
        if not self.registry.online(machine):
            yield TurnError(
                f"🔌 {machine} is offline; nothing was sent. Start its worker, "
                "then send the prompt again.",
                kind="offline",
            )
            return
        turn = turn_id or uuid.uuid4().hex
        boot = self.registry.boot_of(machine)
        subscription = await self._js.subscribe(
            turn_subject(machine, turn),
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL,
        )
        try:
            command = PromptCommand(
                turn_id=turn,
                chat_id=request.chat_id,
                session=request.session,
                cwd=request.cwd,
                prompt=request.prompt,
                images=[ImageData(media_type=i.media_type, data=i.data) for i in request.images],
                claude_session_id=request.claude_session_id,
                permission_mode=request.permission_mode,  # type: ignore[arg-type]
            )
            reply = await self._command(machine, "prompt", command.encode())
            if not reply.ok:
                yield TurnError(f"⚠️ {machine}: {reply.error}", kind="refused")
                return
            async for event in self._follow(subscription, machine, boot=boot):
                yield event
        finally:
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()

    async def attach(self, machine: str, turn_id: str) -> AsyncGenerator[AgentEvent, None]:
        """Follow a turn already running (or ended) on ``machine``, from its first event.

        Args:
            machine: The machine.
            turn_id: The turn.
        """
        subscription = await self._js.subscribe(
            turn_subject(machine, turn_id),
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL,
        )
        try:
            async for event in self._follow(subscription, machine, turn_id=turn_id):
                yield event
        finally:
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()

    async def _follow(
        self,
        subscription: JetStreamContext.PushSubscription,
        machine: str,
        *,
        boot: str | None = None,
        turn_id: str | None = None,
    ) -> AsyncGenerator[AgentEvent, None]:
        """The events of one turn, until its last, or until the machine is gone.

        Args:
            subscription: The turn's stream.
            machine: The machine running it.
            boot: The machine's run when the turn was sent (a new one: the turn is gone).
            turn_id: For a turn picked up again: once the machine's heartbeats
                stop listing it and its stream has nothing more, it is over.
        """
        expected = 0
        started = self.registry.beats(machine)
        while True:
            try:
                msg = await subscription.next_msg(timeout=self._poll)
            except (nats.errors.TimeoutError, TimeoutError):
                gone = not self.registry.online(machine)
                restarted = boot is not None and self.registry.boot_of(machine) != boot
                if gone or restarted:
                    yield TurnError(lost_message(machine, self.registry.timeout), kind="lost")
                    return
                fresh = self.registry.beats(machine) > started + 1
                if turn_id is not None and fresh and not self.registry.runs(machine, turn_id):
                    yield TurnError(
                        f"⚠️ The turn on {machine} ended while the bot was away, and its "
                        "end was not kept; ask again to see where it got to.",
                        kind="lost",
                    )
                    return
                continue
            try:
                wrapped = TurnEvent.decode(msg.data)
                event = decode_event(wrapped.event)
            except ProtocolError as error:
                logger.error("skipped an unreadable event from %s: %s", machine, error)
                continue
            if wrapped.n < expected:  # a duplicate (the last event sent again)
                continue
            expected = wrapped.n + 1
            if event is None:
                continue
            yield event
            if is_final(event):
                return

    async def interrupt(self, machine: str, chat_id: int, session: str) -> bool:
        """Stop a session's running turn on ``machine``; True if one was running."""
        command = SessionCommand(chat_id=chat_id, session=session)
        reply = await self._command(machine, "interrupt", command.encode())
        return reply.ok

    async def close(
        self, machine: str, chat_id: int, session: str, *, forget: bool, remove: bool
    ) -> Reply:
        """Close a session's Claude Code process on ``machine`` (see :class:`SessionCommand`)."""
        command = SessionCommand(chat_id=chat_id, session=session, forget=forget, remove=remove)
        return await self._command(machine, "close", command.encode())

    async def ping(self, machine: str) -> Beat | str:
        """Ask ``machine`` for a heartbeat now; the beat, or why there is none."""
        beat = await self._request(machine, "ping", Ping().encode(), Beat.decode)
        if isinstance(beat, Unanswered):
            return beat.text
        self.registry.beat(machine, beat)
        return beat
