"""``voice-agent chat --machine NAME``: the terminal chat in a session on another machine.

The terminal becomes a second client of the machines protocol: with the hub's
NATS credentials (``NATS_URL``, ``NATS_USER``…) it runs the chat's session on
worker ``NAME`` exactly as the bot does — the worker's checker, jail and rules
decide what runs unasked, and what they ask is asked here, in the terminal.
"""

from __future__ import annotations

import asyncio
import io
import sys
from dataclasses import replace

from voice_agent import __version__
from voice_agent.agent.options import AgentSettings
from voice_agent.config import Settings, claude_environment
from voice_agent.machines.hub import TERMINAL_CHAT, Hub
from voice_agent.machines.protocol import RulesAction, RulesReply
from voice_agent.sessions.manager import SessionManager
from voice_agent.sessions.session import Session
from voice_agent.sessions.storage import SessionStorage
from voice_agent.sessions.turns import TurnRunner
from voice_agent.terminal.chat import EXIT_INTERRUPTED, run_chat
from voice_agent.terminal.commands import LocalRules


class MachineRules:
    """``/approvals`` of a session on another machine: the rules its worker keeps.

    The worker applies that session's "always" rules, so they are listed and
    removed there (``va.w.NAME.rules``), never from this process.

    Args:
        hub: The connection to the machines.
    """

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._here = LocalRules()

    async def lines(self, session: Session) -> list[str]:
        """The rules on the session's machine, numbered; or why they can't be listed."""
        machine = self._hub.machine_of(session)
        if machine is None:
            return await self._here.lines(session)
        reply = await self._ask(machine, session, "list")
        if not reply.ok:
            return [reply.error]
        if not reply.rules:
            return [f'No "always" rules for {session.name} on 🖥 {machine}.']
        return [
            f"{number}. {rule.text}" + (" (every session of the project)" if rule.project else "")
            for number, rule in enumerate(reply.rules, 1)
        ] + [f"(kept on 🖥 {machine})"]

    async def clear(self, session: Session) -> str:
        """Remove the session's rules on its machine (with the project rules covering it)."""
        machine = self._hub.machine_of(session)
        if machine is None:
            return await self._here.clear(session)
        reply = await self._ask(machine, session, "revoke_all")
        return f"Removed {reply.revoked} rule(s) on 🖥 {machine}." if reply.ok else reply.error

    async def _ask(self, machine: str, session: Session, action: RulesAction) -> RulesReply:
        remote = self._hub.remote
        if remote is None:
            doing = "listed" if action == "list" else "removed"
            return RulesReply(
                ok=False, error=f"NATS is not connected: {machine}'s rules can't be {doing} now"
            )
        return await remote.rules(machine, session.chat_id, session.name, session.cwd, action)


def _manager(settings: Settings, storage: SessionStorage, hub: Hub) -> SessionManager:
    base = AgentSettings(
        max_live_clients=settings.max_live_clients,
        idle_timeout=settings.idle_timeout,
        start_timeout=settings.start_timeout,
    )
    agent = replace(base, env={**claude_environment(), **base.env})
    return SessionManager(
        default_cwd=str(settings.default_cwd),
        permission_timeout=settings.permission_timeout,
        storage=storage,
        agent=agent,
        jail=settings.build_jail(),
        runner=hub.runner(TurnRunner(agent)),
    )


async def attach(settings: Settings, machine: str, session: str | None) -> int:
    """Connect, open the session on ``machine`` and run the chat until it is left.

    Returns:
        The chat's exit status, or 2 when NATS or the machine cannot be reached.
    """
    storage = SessionStorage(settings.store_path)
    try:
        hub = Hub(settings, storage.database, __version__)
        manager = _manager(settings, storage, hub)
        await hub.start(manager, chats=lambda chat_id: chat_id == TERMINAL_CHAT, wait=False)
        try:
            remote = hub.remote
            beat = await remote.ping(machine) if remote is not None else hub.problem or ""
            if isinstance(beat, str):
                print(f"voice-agent chat: {beat}", file=sys.stderr)
                await manager.aclose()
                return 2
            name = session or machine
            found = manager.get(TERMINAL_CHAT, name)
            if found is not None and hub.machine_of(found) != machine:
                where = hub.machine_of(found) or hub.name
                print(f"voice-agent chat: session {name} lives on {where}", file=sys.stderr)
                await manager.aclose()
                return 2
            if found is None:
                created = manager.get_or_create(TERMINAL_CHAT, cwd=beat.cwd, name=name)
                hub.placement.bind(created, machine)
            print(f"Attached to 🖥 {machine} through {settings.shown_nats_url}.", flush=True)
            return await run_chat(  # its files are on the machine: never read here
                manager,
                chat_id=TERMINAL_CHAT,
                session=name,
                read_files=False,
                rules=MachineRules(hub),
            )
        finally:
            await hub.aclose()
    finally:
        storage.close()


def chat_on_machine(settings: Settings, *, machine: str, session: str | None) -> int:
    """``voice-agent chat --machine NAME``: the exit status (2 without ``NATS_URL``)."""
    if not settings.nats_url:
        print(
            "voice-agent chat: --machine needs NATS_URL and the hub's NATS credentials "
            "(see docs/machines.md)",
            file=sys.stderr,
        )
        return 2
    if isinstance(sys.stdout, io.TextIOWrapper):  # emoji on a non-UTF-8 terminal
        sys.stdout.reconfigure(errors="replace")
    try:
        return asyncio.run(attach(settings, machine, session))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
