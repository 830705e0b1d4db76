"""Several machines on the phone: /machines, sessions on a machine, turns picked up again.

* ``/machines`` lists the machines: online or offline, last seen, live sessions, version.
* ``/new name@machine`` starts a session on that machine (in its ``DEFAULT_CWD``);
  "work on build-box" and "on build-box: run the tests" (typed or said) work in
  that machine's session like a project name does (:func:`switch_machine`), and a
  project another machine declares (its ``PROJECTS``) works there
  (:func:`switch_machine_project`).
* After a restart, the turns the bot had sent to other machines are followed
  again from their first event, so their answers still arrive
  (:func:`pick_up_turns`).

All of it is only wired when ``NATS_URL`` is set (``svc.machines``).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from telegram import Bot, Update
from telegram.ext import ContextTypes

from voice_agent.sessions import Session
from voice_agent.sessions.session import SessionBusy
from voice_agent.store.machines_table import RemoteTurn
from voice_agent.telegram.services import Services, Where, services
from voice_agent.telegram.topics import here, start_new, use
from voice_agent.telegram.turn import show_turn
from voice_agent.telegram.workers import Job

if TYPE_CHECKING:
    from voice_agent.machines.hub import Hub

logger = logging.getLogger(__name__)

NO_MACHINES = "This bot runs on one machine (NATS_URL is not set); see docs/machines.md."


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "never seen since the bot started"
    if seconds < 90:
        return f"last seen {seconds:.0f} s ago"
    if seconds < 5400:
        return f"last seen {seconds / 60:.0f} min ago"
    return f"last seen {seconds / 3600:.1f} h ago"


def machines_text(svc: Services, chat_id: int) -> str:
    """The /machines listing, with the sessions this chat has on each machine."""
    hub = svc.machines
    if hub is None:
        return NO_MACHINES
    here: dict[str, int] = {}
    for session in svc.manager.sessions_of(chat_id).values():
        where = hub.placement.machine(session)
        here[where] = here.get(where, 0) + 1
    lines = ["🖥 Machines"]
    for machine in hub.machines():
        seen = _ago(hub.registry.last_seen(machine.name))
        if machine.local:
            state = f"online (this bot) · {svc.manager.live_clients} live"
        elif hub.registry.online(machine.name):
            state = f"online · {seen} · {machine.live} live"
        else:
            state = f"offline · {seen}"
        count = here.get(machine.name, 0)
        sessions = f" · {count} session{'s' if count != 1 else ''} here" if count else ""
        version = f" · v{machine.version}" if machine.version else ""
        lines.append(f"• {machine.name}: {state}{sessions}{version}")
    if hub.problem:
        lines.append(f"⚠️ NATS: {hub.problem}")
    lines.append("/new name@machine starts a session there; or say “work on MACHINE”.")
    return "\n".join(lines)


async def machines_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/machines — the machines, online or offline."""
    message = update.effective_message
    if message is not None:
        await message.reply_text(machines_text(services(context), Where.of(update).chat_id))


def remote_directory(session: Session, raw: str) -> str:
    """The directory ``raw`` names on the session's machine (checked there, at the next turn)."""
    path = PurePosixPath(raw)
    return str(path if path.is_absolute() else PurePosixPath(session.cwd) / path)


def machine_line(svc: Services, session: Session) -> str | None:
    """For /status: the machine a session on another machine lives on, and its state."""
    hub = svc.machines
    machine = hub.machine_of(session) if hub is not None else None
    if hub is None or machine is None:
        return None
    seen = hub.registry.last_seen(machine)
    state = "online" if hub.registry.online(machine) else f"offline · {_ago(seen)}"
    return (
        f"Machine: 🖥 {machine} ({state}); a terminal command below runs there. "
        f"Its sticky approvals are kept there: /approvals lists them."
    )


def machine_names(svc: Services) -> list[str]:
    """The names of the known machines (empty without NATS)."""
    return [] if svc.machines is None else [m.name for m in svc.machines.machines()]


def machine_projects(svc: Services) -> dict[str, tuple[str, str]]:
    """The projects other machines declare (their ``PROJECTS``): name → (machine, directory).

    The bot's own ``PROJECTS`` win a name; a name two machines declare is left
    out (``/new name@machine`` picks one).
    """
    hub = svc.machines
    if hub is None:
        return {}
    found: dict[str, tuple[str, str]] = {}
    clashes: set[str] = set()
    for machine in hub.machines():
        if machine.local:
            continue
        for name, path in machine.projects.items():
            if name in svc.settings.projects:
                continue
            if name in found and found[name][0] != machine.name:
                clashes.add(name)
            found[name] = (machine.name, path)
    return {name: place for name, place in found.items() if name not in clashes}


async def switch_machine_project(svc: Services, where: Where, project: str) -> Session | str:
    """Work on another machine's project: its session of that name, in the project there.

    Returns:
        The session, or why not (fit to show).
    """
    hub = svc.machines
    declared = machine_projects(svc).get(project)
    if hub is None or declared is None:
        return f"No project {project}."
    machine, path = declared
    existing = svc.manager.get(where.chat_id, project)
    if existing is None:
        session = await start_new(svc, where, project, path)
        hub.placement.bind(session, machine)
        return session
    if hub.placement.machine(existing) != machine:
        return (
            f"A session called {project} lives on {hub.placement.machine(existing)}; "
            f"/new {project}-2@{machine} starts one on 🖥 {machine}."
        )
    session = use(svc, where, project) or existing
    if session.cwd != path:
        # A session running a turn stays where it works (the reply says where).
        with contextlib.suppress(SessionBusy):
            svc.manager.set_cwd(where.chat_id, path, name=project)
    return session


async def start_on_machine(svc: Services, where: Where, name: str, machine: str) -> Session | str:
    """Start session ``name`` on ``machine`` (in its default directory) for ``where``.

    Returns:
        The session, or why it could not start (fit to show).
    """
    hub = svc.machines
    if hub is None:
        return NO_MACHINES
    found = hub.find(machine)
    if found is None:
        known = ", ".join(machine_names(svc)) or "none yet"
        return f"No machine {machine}. Machines: {known} (/machines)."
    if found.local and not hub.placement.serve_local:
        return f"{found.name} runs the bot but serves no sessions (SERVE_LOCAL=false)."
    cwd = found.cwd or None
    session = await start_new(svc, where, name, cwd)
    hub.placement.bind(session, found.name)
    return session


async def switch_machine(svc: Services, where: Where, machine: str) -> Session | str:
    """Work on ``machine``: its session of that name, made if needed, becomes the one in use.

    Returns:
        The session, or why not (fit to show).
    """
    hub = svc.machines
    if hub is None:
        return NO_MACHINES
    found = hub.find(machine)
    if found is None:
        return f"No machine {machine} (/machines)."
    name = found.name
    existing = svc.manager.get(where.chat_id, name)
    if existing is not None and hub.placement.machine(existing) == name:
        session = use(svc, where, name)
        if session is not None:
            return session
    if existing is not None:
        return f"A session called {name} lives elsewhere; /new work@{name} starts one there."
    return await start_on_machine(svc, where, name, name)


def inherit_machine(svc: Services, parent: Session | None, child: Session) -> None:
    """Make ``child`` live on the machine ``parent`` lives on (nothing without NATS)."""
    hub = svc.machines
    if hub is not None and parent is not None:
        machine = hub.machine_of(parent)
        if machine is not None:
            hub.placement.bind(child, machine)


async def new_on_machine(update: Update, svc: Services, spec: str) -> None:
    """``/new name@machine``: the reply for the chat."""
    message = update.effective_message
    name, _, machine = spec.partition("@")
    where = Where.of(update)
    if svc.machines is None:
        if message is not None:
            await message.reply_text(NO_MACHINES)
        return
    name = name or svc.manager.generate_session_name(where.chat_id)
    if svc.manager.get(where.chat_id, name) is not None:
        text = f"Session {name} exists; /switch {name} to use it."
    else:
        started = await start_on_machine(svc, where, name, machine)
        if isinstance(started, str):
            text = started
        else:
            text = (
                f"🆕 Session {started.name} on 🖥 {machine} in {started.cwd} is active{here(where)}."
            )
    if message is not None:
        await message.reply_text(text)


# -- turns picked up after a restart ---------------------------------------------------


def _pick_up_job(
    bot: Bot, svc: Services, hub: Hub, where: Where, session: Session, turn: RemoteTurn
) -> Job:
    async def job() -> None:
        await bot.send_message(
            where.chat_id,
            f"↻ The bot restarted while {session.name} ran a turn on 🖥 {turn.machine}; "
            "here it is from the start.",
            message_thread_id=where.thread_id,
            disable_notification=True,
        )
        await show_turn(bot, svc, where, session, hub.pick_up(session, turn, svc.manager))

    return job


def pick_up_turns(bot: Bot, svc: Services) -> int:
    """Queue the turns sent to other machines before this restart, to show their ends.

    Each goes in its chat's (or topic's) queue before any new prompt: it says it
    is picked up, then streams the turn from its first event into a new reply.

    Returns:
        How many turns were picked up.
    """
    hub = svc.machines
    if hub is None:
        return 0
    count = 0
    for turn in hub.running_turns():
        session = svc.manager.get(turn.chat_id, turn.session_name)
        if session is None:
            hub.forget_turn(turn)
            continue
        thread = svc.manager.topic_of(session)
        where = Where(turn.chat_id, thread, None, private=turn.chat_id > 0)
        svc.workers.submit(where.queue_key, _pick_up_job(bot, svc, hub, where, session, turn))
        count += 1
    if count:
        logger.info("picked up %d turn(s) running on other machines", count)
    return count
