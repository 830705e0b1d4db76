"""``voice-agent worker``: this machine's sessions, served to the hub over NATS.

The worker runs the real :class:`~voice_agent.sessions.SessionManager` here, with
this machine's store, ``DEFAULT_CWD``, projects, jail and sticky rules: the
permission checker decides on this machine what runs unasked. It answers the
hub's commands (``va.w.<machine>.*``: prompts, ``/diff``, ``/approvals`` and its
revokes), streams each turn's events in order into
JetStream (``va.m.<machine>.turn.<id>``), asks the hub about every call its
checker could not approve (``va.m.<machine>.ask``, the answer bound to the
request id) and heartbeats (``va.m.<machine>.beat``).

NATS permissions let only the hub's user publish to this worker's subjects, so
every command it acts on came from the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import sys
import uuid
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from voice_agent.agent.events import AgentEvent, TurnError
from voice_agent.agent.options import AgentSettings
from voice_agent.config import Settings, claude_environment
from voice_agent.edit_preview import placed_preview
from voice_agent.machines.codec import encode_event, is_final
from voice_agent.machines.connection import Link, MachinesError, connect
from voice_agent.machines.diffs import diff_reply
from voice_agent.machines.protocol import (
    Ask,
    AskAnswer,
    Beat,
    DiffCommand,
    DiffReply,
    PromptCommand,
    ProtocolError,
    Reply,
    Resolved,
    RulesCommand,
    RulesReply,
    SessionCommand,
    TurnEvent,
    commands_of,
    machine_subject,
    turn_subject,
)
from voice_agent.machines.rules import rules_reply, stored_rules
from voice_agent.sessions import ImageAttachment, PendingPermission, Session, SessionManager
from voice_agent.sessions.decisions import Decision, Scope, apply
from voice_agent.sessions.pending import PermissionState
from voice_agent.sessions.session import SessionBusy
from voice_agent.sessions.storage import SessionStorage
from voice_agent.workdir_diff import file_diff, working_tree_diff

logger = logging.getLogger(__name__)

FINAL_PUBLISH_TRIES = 5
"""Times the last event of a turn is sent again when JetStream did not confirm it."""
ASK_MARGIN = 5.0
"""Seconds an ask waits beyond the permission timeout (the hub times out first)."""


class Worker:
    """Serves this machine's sessions to the hub.

    Attributes:
        name: This machine's name.
        manager: The sessions, run here.
        boot: This run's id (a new one tells the hub earlier turns are gone).
    """

    def __init__(
        self, settings: Settings, manager: SessionManager, link: Link, version: str
    ) -> None:
        """Serve ``manager`` on ``link``.

        Args:
            settings: The settings (machine name, heartbeat, default directory, projects).
            manager: The session manager that runs the turns here.
            link: The open NATS connection, as this machine.
            version: This voice-agent's version (told in heartbeats).
        """
        self.version = version
        self.name = settings.machine_name
        self.manager = manager
        self.boot = uuid.uuid4().hex[:12]
        self._settings = settings
        self._link = link
        self._js: JetStreamContext = link.client.jetstream()
        self._tasks: set[asyncio.Task[None]] = set()
        self._turns: dict[tuple[int, str], str] = {}
        self._beating: asyncio.Task[None] | None = None
        manager.set_permission_listeners(self._on_request, self._on_resolved)

    # -- life ------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to the hub's commands, announce this machine and start heartbeating.

        Raises:
            MachinesError: The server refused the subscription (wrong credentials).
        """
        client = self._link.client
        await client.subscribe(commands_of(self.name), cb=self._on_command)
        await client.flush(timeout=math.ceil(self._settings.nats_request_timeout))
        await self._beat()
        await client.flush(timeout=math.ceil(self._settings.nats_request_timeout))
        if self._link.violations:
            raise MachinesError(
                f"the NATS server does not let {self.name} use its subjects: "
                f"{self._link.violations[0]}"
            )
        self._beating = asyncio.get_running_loop().create_task(self._heartbeat())

    async def aclose(self) -> None:
        """Stop: running turns end (their end is still sent), clients close, NATS drains."""
        if self._beating is not None:
            self._beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beating
        for chat_id, name in list(self._turns):
            with contextlib.suppress(Exception):
                await self.manager.interrupt(chat_id, name)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=30)
        await self.manager.aclose()
        await self._link.close()

    def beat_message(self) -> Beat:
        """This machine's heartbeat now."""
        return Beat(
            version=self.version,
            boot=self.boot,
            cwd=str(self._settings.default_cwd),
            projects={name: str(path) for name, path in self._settings.projects.items()},
            live=self.manager.live_clients,
            busy=len(self._turns),
            turns=sorted(self._turns.values()),
            interval=self._settings.heartbeat_interval,
        )

    async def _beat(self) -> None:
        await self._link.client.publish(
            machine_subject(self.name, "beat"), self.beat_message().encode()
        )

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._settings.heartbeat_interval)
            try:
                await self._beat()
            except nats.errors.Error as error:  # reconnecting: the next beat goes out later
                logger.warning("could not send a heartbeat: %s", error)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- commands from the hub ---------------------------------------------------

    async def _on_command(self, msg: Msg) -> None:
        command = msg.subject.rsplit(".", 1)[-1]
        try:
            if command == "prompt":
                reply = await self._prompt(PromptCommand.decode(msg.data))
            elif command == "interrupt":
                found = SessionCommand.decode(msg.data)
                stopped = await self.manager.interrupt(found.chat_id, found.session)
                reply = Reply(ok=stopped, error="" if stopped else "nothing was running")
            elif command == "close":
                reply = await self._close(SessionCommand.decode(msg.data))
            elif command == "ping":
                await msg.respond(self.beat_message().encode())
                return
            elif command == "diff":  # git may take seconds: the other commands go on meanwhile
                self._spawn(self._diff(msg, DiffCommand.decode(msg.data)))
                return
            elif command == "rules":
                await msg.respond(self._rules(RulesCommand.decode(msg.data)).encode())
                return
            else:
                reply = Reply(ok=False, error=f"unknown command {command}")
        except ProtocolError as error:
            logger.warning("refused a %s command: %s", command, error)
            reply = Reply(ok=False, error=f"{self.name} could not read the command: {error}")
        if msg.reply:
            await msg.respond(reply.encode())

    def _session_for(self, command: PromptCommand) -> Session | str:
        """The session the prompt runs in, set up as the hub says; or why it cannot run."""
        manager = self.manager
        cwd = command.cwd or str(self._settings.default_cwd)
        if not Path(cwd).is_dir():
            return f"{cwd} is not a directory on {self.name}; nothing was sent"
        session = manager.get_or_create(command.chat_id, cwd=cwd, name=command.session)
        if session.busy or (command.chat_id, command.session) in self._turns:
            return f"session {session.name} is running a turn on {self.name}"
        if session.cwd != cwd:
            try:
                manager.set_cwd(command.chat_id, cwd, name=session.name)
            except SessionBusy as busy:
                return str(busy)
        if session.permission_mode != command.permission_mode:
            manager.set_permission_mode(command.chat_id, command.permission_mode, session.name)
        wanted = command.claude_session_id
        if wanted is not None and wanted != session.claude_session_id:
            manager.set_claude_session_id(command.chat_id, wanted, session.name)
        return session

    async def _prompt(self, command: PromptCommand) -> Reply:
        found = self._session_for(command)
        if isinstance(found, str):
            return Reply(ok=False, error=found)
        key = (command.chat_id, found.name)
        self._turns[key] = command.turn_id
        task = self._spawn(self._run_turn(command, key))
        task.add_done_callback(lambda _: self._turn_over(key, command.turn_id))
        return Reply(ok=True, cwd=found.cwd)

    async def _diff(self, msg: Msg, command: DiffCommand) -> None:
        """Answer with the session's uncommitted changes here (see :mod:`.diffs`)."""
        known = self.manager.get(command.chat_id, command.session)
        cwd = command.cwd or (known.cwd if known is not None else str(self._settings.default_cwd))
        reply = await asyncio.to_thread(self._diff_here, cwd, command.path)
        if msg.reply:
            with contextlib.suppress(nats.errors.Error):
                await msg.respond(reply.encode())

    def _diff_here(self, cwd: str, path: str | None) -> DiffReply:
        if not Path(cwd).is_dir():
            return DiffReply(ok=False, error=f"{cwd} is not a directory on {self.name}")
        return diff_reply(working_tree_diff(cwd) if path is None else file_diff(cwd, path))

    def _rules(self, command: RulesCommand) -> RulesReply:
        """List (or revoke) a session's sticky rules here (see :mod:`.rules`)."""
        known = self.manager.get(command.chat_id, command.session)
        if known is not None:
            rules = known.permission_handler.rules
        else:  # not loaded here now: its rules are still in this machine's store
            rules = stored_rules(command, self.manager.storage)
        try:
            return rules_reply(rules, command)
        except Exception as error:  # the hub must hear why, not wait for a timeout
            logger.exception("the rules command failed")
            return RulesReply(ok=False, error=f"{self.name} could not read its rules: {error}")

    async def _close(self, command: SessionCommand) -> Reply:
        manager = self.manager
        if manager.get(command.chat_id, command.session) is None:
            return Reply(ok=True)
        if command.remove:
            await manager.close_session_async(command.chat_id, command.session)
        elif command.forget:
            await manager.clear_context(command.chat_id, command.session)
        else:
            await manager.restart(command.chat_id, command.session)
        return Reply(ok=True)

    # -- a turn ------------------------------------------------------------------

    def _turn_over(self, key: tuple[int, str], turn_id: str) -> None:
        if self._turns.get(key) == turn_id:
            del self._turns[key]

    async def _run_turn(self, command: PromptCommand, key: tuple[int, str]) -> None:
        """Run the turn and publish its events; the final one once the session is free.

        The hub sends the session's next prompt as soon as it has the final event, so
        that event waits until the turn has let go of the session here: a prompt sent
        right after an answer is taken, never refused as "running a turn".
        """
        images = [ImageAttachment(i.data, i.media_type) for i in command.images] or None
        subject = turn_subject(self.name, command.turn_id)
        n = 0
        final: AgentEvent | None = None
        try:
            events = self.manager.stream(
                command.chat_id, command.prompt, images, name=command.session
            )
            async with contextlib.aclosing(events):
                async for event in events:
                    if final is None and is_final(event):
                        final = event  # sent below, when the session is free again
                        continue
                    await self._send(subject, command.turn_id, n, event)
                    n += 1
        except Exception as error:  # the hub must hear of any failure; details go to the log
            logger.exception("the turn %s failed", command.turn_id)
            if final is None:
                final = TurnError(f"The turn failed on {self.name}: {error}")
        self._turn_over(key, command.turn_id)
        await self._send(
            subject, command.turn_id, n, final or TurnError("The turn ended without a result")
        )

    async def _send(self, subject: str, turn_id: str, n: int, event: AgentEvent) -> None:
        data = TurnEvent(turn_id=turn_id, n=n, event=encode_event(event)).encode()
        if not is_final(event):
            await self._link.client.publish(subject, data)
            return
        # The last event must reach the stream: the answer is in it.
        for attempt in range(FINAL_PUBLISH_TRIES):
            try:
                await self._js.publish(subject, data, timeout=self._settings.nats_request_timeout)
                return
            except (nats.errors.Error, TimeoutError) as error:
                logger.warning("the end of turn %s was not stored (%s); again", turn_id, error)
                await asyncio.sleep(min(2.0**attempt, 10.0))
        logger.error("the end of turn %s could not be stored", turn_id)

    # -- permission requests -------------------------------------------------------

    async def _on_request(self, session: Session, request: PendingPermission) -> None:
        self._spawn(self._ask_hub(session, request))

    async def _ask_hub(self, session: Session, request: PendingPermission) -> None:
        handler = session.permission_handler
        placed = await asyncio.to_thread(
            placed_preview, request.tool_name, request.input_data, session.cwd
        )
        ask = Ask(
            request_id=request.request_id,
            chat_id=session.chat_id,
            session=session.name,
            tool_name=request.tool_name,
            input=request.input_data,
            tool_use_id=request.tool_use_id,
            placed=placed,
        )
        answer = await self._answer_of(ask, request, handler.timeout + ASK_MARGIN)
        if answer is None:
            handler.deny("No decision came from the hub in time", request.request_id)
            return
        if answer.request_id != request.request_id:
            logger.error("the hub answered %s for %s", answer.request_id, request.request_id)
            handler.deny("The answer was for another request", request.request_id)
            return
        decision = Decision(
            answer.action,
            Scope(project=answer.project, ttl=answer.ttl),
            answer.reason,
            answer.answers,
        )
        apply(handler, request, decision, user_id=answer.user_id)

    async def _answer_of(
        self, ask: Ask, request: PendingPermission, patience: float
    ) -> AskAnswer | None:
        """The hub's answer to ``ask``, asked again while none comes (a hub restarting).

        Sent again every ``HEARTBEAT_TIMEOUT`` seconds: the hub shows one prompt
        per request id however often it is asked, and a hub that started
        meanwhile shows it anew. None: no answer within ``patience`` seconds, or
        the request ended here first.
        """
        deadline = asyncio.get_running_loop().time() + patience
        while request.state is PermissionState.PENDING:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return None
            try:
                msg = await self._link.client.request(
                    machine_subject(self.name, "ask"),
                    ask.encode(),
                    timeout=min(left, max(self._settings.heartbeat_timeout, 1.0)),
                )
                return AskAnswer.decode(msg.data)
            except nats.errors.NoRespondersError:
                # No hub listens now: ask again once one may.
                await asyncio.sleep(min(left, self._settings.heartbeat_interval))
            except (nats.errors.TimeoutError, TimeoutError):
                continue  # still undecided, or the hub went away: ask again
            except (nats.errors.Error, ProtocolError) as error:
                logger.warning("no decision from the hub for %s: %s", ask.request_id, error)
                return None
        return None

    async def _on_resolved(self, session: Session, request: PendingPermission) -> None:
        # The hub takes its prompt down (one it decided itself stays as it is).
        resolved = Resolved(
            request_id=request.request_id, chat_id=session.chat_id, session=session.name
        )
        with contextlib.suppress(nats.errors.Error):
            await self._link.client.publish(
                machine_subject(self.name, "resolved"), resolved.encode()
            )


def build_manager(settings: Settings) -> SessionManager:
    """This machine's session manager: its store, directory, jail and limits."""
    base = AgentSettings(
        max_live_clients=settings.max_live_clients,
        idle_timeout=settings.idle_timeout,
        start_timeout=settings.start_timeout,
    )
    agent = replace(base, env={**claude_environment(), **base.env})
    storage = SessionStorage(settings.store_path)
    storage.hold("the worker")
    return SessionManager(
        default_cwd=str(settings.default_cwd),
        permission_timeout=settings.permission_timeout,
        storage=storage,
        agent=agent,
        jail=settings.build_jail(),
    )


async def serve(settings: Settings, stop: asyncio.Event, version: str) -> int:
    """Connect, serve until ``stop`` is set, then close everything.

    A server that cannot be reached is waited for (a worker may start before
    its hub's server), until ``stop``; one that refuses the credentials or
    whose certificate is not trusted ends the worker.

    Returns:
        The exit status: 0 after a clean stop, 2 when NATS could not be used.
    """
    connecting = asyncio.ensure_future(
        connect(settings, machine=settings.machine_name, role="worker", wait=True)
    )
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not connecting.done():  # told to stop while waiting for the server
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connecting
        return 0
    try:
        link = connecting.result()
    except MachinesError as error:
        print(f"voice-agent worker: {error}", file=sys.stderr, flush=True)
        return 2
    manager = build_manager(settings)
    worker = Worker(settings, manager, link, version)
    try:
        await worker.start()
    except (MachinesError, nats.errors.Error, TimeoutError) as error:
        print(f"voice-agent worker: {error}", file=sys.stderr, flush=True)
        await manager.aclose()
        await link.close()
        if manager.storage is not None:
            manager.storage.close()
        return 2
    print(
        f"voice-agent worker {worker.name}: serving {settings.default_cwd} "
        f"through {settings.shown_nats_url}",
        file=sys.stderr,
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await worker.aclose()
        if manager.storage is not None:
            manager.storage.close()
    return 0


def worker_command(settings: Settings, version: str) -> int:
    """``voice-agent worker``: serve until SIGINT or SIGTERM.

    Args:
        settings: The settings.
        version: This voice-agent's version.
    """
    if not settings.nats_url:
        print(
            "voice-agent worker: NATS_URL is not set. A worker serves its sessions to the hub "
            "through a NATS server: set NATS_URL, MACHINE_NAME and this machine's NATS "
            "credentials (see docs/machines.md).",
            file=sys.stderr,
        )
        return 2

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        return await serve(settings, stop, version)

    return asyncio.run(main())
