"""The hub: the bot's side of several machines.

``voice-agent run`` with ``NATS_URL`` set builds one :class:`Hub`. Before the
session manager exists, :meth:`Hub.runner` gives it the runner that sends each
session's turns where the session lives; :meth:`Hub.start` then connects to NATS
as the hub, makes sure the turn stream exists, follows heartbeats and answers
permission requests. The hub's own machine (``MACHINE_NAME``) runs in the hub's
process unless ``SERVE_LOCAL=false``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncGenerator, Callable

from nats.aio.msg import Msg

from voice_agent.agent.events import AgentEvent
from voice_agent.config import Settings
from voice_agent.machines.asks import AskDesk
from voice_agent.machines.connection import QUICK_CONNECT, Link, MachinesError, connect
from voice_agent.machines.protocol import Beat, ProtocolError, from_any, machine_of
from voice_agent.machines.registry import Machines, MachineState
from voice_agent.machines.remote import RemoteTurns
from voice_agent.machines.runner import MachineRunner, Placement
from voice_agent.sessions.manager import SessionManager
from voice_agent.sessions.session import Session
from voice_agent.sessions.turns import TurnRunner
from voice_agent.store.database import Database
from voice_agent.store.machines_table import MachinesTable, RemoteTurn

logger = logging.getLogger(__name__)

TERMINAL_CHAT = 0
"""The chat ``voice-agent chat`` uses (Telegram chat ids are never 0)."""


def telegram_chat(chat_id: int) -> bool:
    """Whether ``chat_id`` is a Telegram chat (every chat but the terminal's)."""
    return chat_id != TERMINAL_CHAT


HUB = "hub"
"""The hub's name on NATS (its reply inbox is ``_INBOX.hub``); no machine may use it."""


class Hub:
    """Several machines behind one bot.

    Attributes:
        name: The hub's own machine (``MACHINE_NAME``).
        registry: The machines, online or not.
        placement: Which machine each session lives on.
        remote: Turns on other machines (None until connected).
        problem: Why NATS is not connected, when it is not.
    """

    def __init__(self, settings: Settings, database: Database, version: str) -> None:
        """Prepare the hub on the store's database (nothing is connected yet).

        Args:
            settings: The settings (NATS, machine name, heartbeats).
            database: The store's database (session bindings, running turns).
            version: This voice-agent's version (shown for the hub's own machine).
        """
        if settings.machine_name == HUB:
            raise MachinesError(f"MACHINE_NAME {HUB} is reserved for the hub's connection")
        self.name = settings.machine_name
        self.settings = settings
        self.table = MachinesTable(database)
        self.registry = Machines(settings.heartbeat_timeout)
        self.placement = Placement(self.table, self.name, settings.serve_local)
        self.remote: RemoteTurns | None = None
        self.problem: str | None = "not started"
        self._link: Link | None = None
        self._asks: AskDesk | None = None
        self._runner: MachineRunner | None = None
        self._connecting: asyncio.Task[None] | None = None
        if settings.serve_local:
            self.registry.add_local(
                self.name,
                version,
                str(settings.default_cwd),
                {name: str(path) for name, path in settings.projects.items()},
            )

    def runner(self, local: TurnRunner) -> MachineRunner:
        """The session manager's runner: here or on the session's machine."""
        self._runner = MachineRunner(local, self.placement, lambda: self.remote)
        return self._runner

    @property
    def link(self) -> Link | None:
        """The NATS connection, once started."""
        return self._link

    async def start(
        self,
        manager: SessionManager,
        chats: Callable[[int], bool] = telegram_chat,
        *,
        wait: bool = True,
    ) -> None:
        """Connect as the hub and serve the machines' heartbeats and requests.

        With ``wait`` (the bot), a server that cannot be reached is waited for in
        the background (this returns after a few seconds at most; the connection
        logs one line, then one a minute) and the hub serves once it is there. A
        failure is logged and kept in :attr:`problem`; local sessions go on
        working, and remote ones say NATS is not connected. Without ``wait``
        (``chat --machine``), the server is tried for a few seconds and a failure
        is only kept in :attr:`problem`, for the caller to show (the log gets it
        at INFO).

        Args:
            manager: The sessions whose permission requests this hub answers.
            chats: Which chats' requests it answers (default: Telegram's, never 0:
                the terminal's chat, which a terminal attached to a machine answers).
            wait: Wait for the server as long as it takes.
        """
        for chat in manager.sessions.values():
            for session in chat.values():
                machine = self.placement.remote_machine(session)
                if machine is not None:
                    session.permission_handler.keep_rules = False
                    self.registry.known(machine)
        if not wait:
            await self._connect(manager, chats, wait=False, report=logging.INFO)
            return
        url = self.settings.shown_nats_url
        self.problem = f"waiting for the NATS server {url}; see the hub's log"
        self._connecting = asyncio.get_running_loop().create_task(
            self._connect(manager, chats, wait=True, report=logging.ERROR)
        )
        await asyncio.wait({self._connecting}, timeout=QUICK_CONNECT)

    async def _connect(
        self, manager: SessionManager, chats: Callable[[int], bool], *, wait: bool, report: int
    ) -> None:
        """Connect, then set up the stream and subscriptions; ``report``: a failure's level."""
        try:
            link = await connect(self.settings, machine=HUB, role="hub", wait=wait)
        except MachinesError as error:
            self.problem = str(error)
            logger.log(report, "machines: %s", error)
            return
        self._link = link
        remote = RemoteTurns(link, self.registry, self.settings.nats_request_timeout)
        try:
            await remote.ensure_stream()
            await link.client.subscribe(from_any("beat"), cb=self._on_beat)
            self._asks = AskDesk(link, manager, self.placement, chats)
            await self._asks.start()
            await link.client.flush(timeout=math.ceil(self.settings.nats_request_timeout))
        except Exception as error:  # a half-set-up hub must say why, not limp on
            self.problem = f"{type(error).__name__}: {error}"
            logger.log(report, "machines: could not set up the hub on NATS: %s", self.problem)
            await link.close()
            self._link = None
            return
        if link.violations:
            self.problem = f"NATS refused the hub: {link.violations[0]}"
            logger.log(report, "machines: %s", self.problem)
        else:
            self.problem = None
        self.remote = remote
        logger.info("machines: hub connected to %s", self.settings.shown_nats_url)
        await asyncio.gather(
            *(remote.ping(m.name) for m in self.registry.listing() if not m.local),
            return_exceptions=True,
        )

    async def aclose(self) -> None:
        """Stop answering and disconnect; turns running elsewhere go on there."""
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        if self._asks is not None:
            await self._asks.aclose()
        self.remote = None
        if self._link is not None:
            with contextlib.suppress(Exception):
                await self._link.close()
            self._link = None

    async def _on_beat(self, msg: Msg) -> None:
        try:
            machine = machine_of(msg.subject)
            beat = Beat.decode(msg.data)
        except ProtocolError as error:
            logger.warning("refused a heartbeat: %s", error)
            return
        if machine == self.name and self.settings.serve_local:
            logger.error("a worker calls itself %s, the hub's own machine; ignored", machine)
            return
        if self.registry.beat(machine, beat):
            logger.info("machine %s is online (voice-agent %s)", machine, beat.version)

    # -- for front ends --------------------------------------------------------------

    def machine_of(self, session: Session) -> str | None:
        """The other machine ``session`` lives on, or None when it lives on the hub's."""
        return self.placement.remote_machine(session)

    def label(self, session: Session) -> str:
        """``🖥 NAME`` for a session on another machine, else ""."""
        machine = self.machine_of(session)
        return f"🖥 {machine}" if machine else ""

    def find(self, name: str) -> MachineState | None:
        """The machine called ``name`` (case-insensitive), if known."""
        return self.registry.get(name)

    def machines(self) -> list[MachineState]:
        """Every known machine, the hub's own first."""
        return self.registry.listing()

    def running_turns(self) -> list[RemoteTurn]:
        """Turns sent to other machines whose end was not shown (to pick up)."""
        return self.table.running_turns()

    def pick_up(
        self, session: Session, turn: RemoteTurn, manager: SessionManager
    ) -> AsyncGenerator[AgentEvent, None]:
        """The events of a turn sent before the hub restarted, from the first.

        See :meth:`MachineRunner.pick_up`; the Claude session id it reports is kept.
        """
        assert self._runner is not None, "Hub.runner() makes the runner first"
        record = manager.conversations.record_session_id
        return self._runner.pick_up(session, turn.machine, turn.turn_id, record)

    def forget_turn(self, turn: RemoteTurn) -> None:
        """Drop a turn that cannot be shown any more (its session was closed)."""
        self.table.turn_ended(turn.turn_id)
