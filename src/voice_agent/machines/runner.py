"""Where each session's turns run: here, or on the machine it lives on.

:class:`Placement` reads a session's machine from the store;
:class:`MachineRunner` is the session manager's runner on the hub: a session of
the hub's own machine runs on the local :class:`~voice_agent.sessions.turns.TurnRunner`
as always, one living on another machine runs there through
:class:`~voice_agent.machines.remote.RemoteTurns`. Front ends see the same
events either way.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator, Callable

from voice_agent.agent.events import AgentEvent, TurnError, TurnResult
from voice_agent.agent.pool import ClientPool
from voice_agent.machines.codec import is_final
from voice_agent.machines.remote import RemoteTurns, TurnRequest
from voice_agent.sessions.image import ImageAttachment
from voice_agent.sessions.session import Session
from voice_agent.sessions.turns import TurnRunner
from voice_agent.store.machines_table import MachinesTable

logger = logging.getLogger(__name__)

NOT_LOCAL = (
    "This hub runs no sessions itself (SERVE_LOCAL=false): start one on a machine with "
    "/new name@machine, or say “work on MACHINE”. /machines lists them."
)
NOT_CONNECTED = "NATS is not connected, so {machine} cannot be reached; see the hub's log."


class Placement:
    """Which machine each session lives on.

    Attributes:
        local: The hub's own machine name.
        serve_local: Whether the hub runs sessions itself.
        table: The store's bindings.
    """

    def __init__(self, table: MachinesTable, local: str, serve_local: bool) -> None:
        """Read bindings from ``table``; ``local`` is the hub's own machine."""
        self.table = table
        self.local = local
        self.serve_local = serve_local
        self._seen: dict[int, str] = {}

    def machine(self, session: Session) -> str:
        """The machine ``session`` lives on (the hub's own when it has no binding).

        A session just closed (its binding gone with its row) still names the
        machine it lived on, so that closing it reaches that machine.
        """
        found = self.table.machine_of(session.chat_id, session.name)
        if found is not None:
            self._seen[session.key] = found
            return found
        if session.closed:
            return self._seen.get(session.key, self.local)
        return self.local

    def remote_machine(self, session: Session) -> str | None:
        """The other machine ``session`` lives on, or None when it lives here."""
        machine = self.machine(session)
        return None if machine == self.local else machine

    def bind(self, session: Session, machine: str) -> None:
        """Make ``session`` live on ``machine``; its calls are then decided there."""
        self.table.bind(session.chat_id, session.name, None if machine == self.local else machine)
        if machine != self.local:
            self._seen[session.key] = machine
        session.permission_handler.keep_rules = machine == self.local


class MachineRunner:
    """The hub's runner: local sessions here, the others on their machines."""

    def __init__(
        self, local: TurnRunner, placement: Placement, remote: Callable[[], RemoteTurns | None]
    ) -> None:
        """Route turns by ``placement``.

        Args:
            local: The hub's own runner (used only when the hub serves sessions).
            placement: Where each session lives.
            remote: The remote side, once NATS is connected (None before).
        """
        self._local = local
        self._placement = placement
        self._remote = remote

    @property
    def pool(self) -> ClientPool:
        """The hub's own live clients."""
        return self._local.pool

    async def run(
        self,
        session: Session,
        prompt: str,
        images: list[ImageAttachment] | None,
        on_session_id: Callable[[Session, str], None],
    ) -> AsyncGenerator[AgentEvent, None]:
        """Run one turn where the session lives; the last event is a result or an error."""
        machine = self._placement.remote_machine(session)
        if machine is None:
            if not self._placement.serve_local:
                yield TurnError(NOT_LOCAL, kind="closed")
                return
            async with contextlib.aclosing(
                self._local.run(session, prompt, images, on_session_id)
            ) as events:
                async for event in events:
                    yield event
            return
        async with contextlib.aclosing(
            self._run_remote(machine, session, prompt, images, on_session_id)
        ) as events:
            async for event in events:
                yield event

    async def _run_remote(
        self,
        machine: str,
        session: Session,
        prompt: str,
        images: list[ImageAttachment] | None,
        on_session_id: Callable[[Session, str], None],
    ) -> AsyncGenerator[AgentEvent, None]:
        remote = self._remote()
        async with session.turn_lock:
            if session.closed:
                yield TurnError(f"Session {session.name} was closed", kind="closed")
                return
            if remote is None:
                yield TurnError(NOT_CONNECTED.format(machine=machine), kind="offline")
                return
            session.stop_requested = False
            conversation = session.conversation
            request = TurnRequest(
                machine=machine,
                chat_id=session.chat_id,
                session=session.name,
                cwd=session.cwd,
                prompt=prompt,
                images=tuple(images or ()),
                claude_session_id=session.claude_session_id,
                permission_mode=session.permission_mode,
            )
            turn_id = uuid.uuid4().hex
            table = self._placement.table
            table.turn_started(turn_id, machine, session.chat_id, session.name)
            ended = False
            try:
                async with contextlib.aclosing(remote.run(request, turn_id)) as events:
                    async for event in events:
                        current = not session.closed and session.conversation == conversation
                        if isinstance(event, TurnResult) and event.session_id and current:
                            on_session_id(session, event.session_id)
                        ended = is_final(event)
                        yield event
            finally:
                session.permission_handler.deny_all("The turn ended")
                if ended:
                    # Shown to the user: nothing to pick up after a restart. A turn
                    # left unfinished here (the hub stopping) is picked up again.
                    table.turn_ended(turn_id)

    async def pick_up(
        self,
        session: Session,
        machine: str,
        turn_id: str,
        on_session_id: Callable[[Session, str], None],
    ) -> AsyncGenerator[AgentEvent, None]:
        """Follow again a turn the hub sent before it restarted, from its first event.

        Args:
            session: The session it runs in.
            machine: The machine running it.
            turn_id: The turn.
            on_session_id: Told the Claude session id the turn reports.
        """
        table = self._placement.table
        async with session.turn_lock:
            remote = self._remote()
            if remote is None:  # kept: the next start may reach it
                yield TurnError(NOT_CONNECTED.format(machine=machine), kind="offline")
                return
            ended = False
            try:
                async with contextlib.aclosing(remote.attach(machine, turn_id)) as events:
                    async for event in events:
                        if isinstance(event, TurnResult) and event.session_id:
                            on_session_id(session, event.session_id)
                        ended = is_final(event)
                        yield event
            finally:
                if ended:
                    table.turn_ended(turn_id)

    async def interrupt(self, session: Session) -> bool:
        """Stop the session's running turn, here or on its machine."""
        machine = self._placement.remote_machine(session)
        if machine is None:
            return await self._local.interrupt(session)
        if not session.busy:
            return False
        session.stop_requested = True
        session.permission_handler.deny_all("Interrupted by the user")
        remote = self._remote()
        if remote is not None:
            await remote.interrupt(machine, session.chat_id, session.name)
        return True

    async def close(self, session: Session) -> None:
        """Close the session's Claude Code process, here or on its machine."""
        machine = self._placement.remote_machine(session)
        if machine is None:
            await self._local.close(session)
            return
        session.permission_handler.deny_all("The session was closed")
        remote = self._remote()
        if remote is None:
            return
        reply = await remote.close(
            machine,
            session.chat_id,
            session.name,
            forget=session.claude_session_id is None,
            remove=session.closed,
        )
        if not reply.ok:
            logger.warning("could not close %s on %s: %s", session.name, machine, reply.error)
