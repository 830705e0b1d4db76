"""``voice-agent doctor`` for several machines: the NATS connection and its permissions.

On a worker: its credentials are accepted, it may use its own subjects, and the
server refuses it the hub's (it must not be able to command another worker). On
the hub: its credentials are accepted, JetStream keeps the turn stream, and
every known machine answers a ping.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import nats.errors

from voice_agent.config import Settings
from voice_agent.machines.connection import Link, MachinesError, connect
from voice_agent.machines.protocol import Beat, Ping, command_subject, machine_subject

VIOLATION_WAIT = 2.0
"""Seconds to wait for the server's verdict on a probe that must be refused."""


@dataclass(frozen=True)
class Probe:
    """One check's outcome.

    Attributes:
        status: ``ok``, ``warn`` or ``fail``.
        detail: What was found.
        fix: What to do about it.
    """

    status: str
    detail: str
    fix: str = ""


async def _refused(link: Link, subject: str) -> bool:
    """Whether the server refuses ``link`` publishing to ``subject``."""
    link.violated.clear()
    await link.client.publish(subject, b"{}")
    try:
        await asyncio.wait_for(link.violated.wait(), VIOLATION_WAIT)
    except TimeoutError:
        return False
    return True


async def probe_worker(settings: Settings) -> Probe:
    """Check this worker's connection and permissions."""
    name, url = settings.machine_name, settings.shown_nats_url
    try:
        link = await connect(settings, machine=name, role="doctor")
    except MachinesError as error:
        return Probe("fail", str(error), "start nats-server, check NATS_URL and the credentials")
    try:
        if await _refused(link, machine_subject(name, "doctor")):
            return Probe(
                "fail",
                f"the server refuses {name} its own subjects ({link.violations[-1]})",
                f"give {name}'s user publish va.m.{name}.> (docs/machines.md)",
            )
        if not await _refused(link, command_subject(name, "prompt")):
            return Probe(
                "fail",
                f"{name}'s NATS user may send commands to workers: any machine could drive another",
                "let only the hub's user publish va.w.> (docs/machines.md)",
            )
        return Probe("ok", f"{name} connected to {url}; its permissions are tight")
    finally:
        await link.close()


async def probe_hub(settings: Settings, machines: list[str]) -> Probe:
    """Check the hub's connection, the turn stream, and the known machines."""
    url = settings.shown_nats_url
    try:
        link = await connect(settings, machine="hub", role="doctor")
    except MachinesError as error:
        return Probe("fail", str(error), "start nats-server, check NATS_URL and the credentials")
    try:
        try:
            await link.client.jetstream().account_info()
        except (nats.errors.Error, TimeoutError) as error:
            return Probe(
                "fail",
                f"JetStream is not available to the hub ({error})",
                "enable jetstream in nats-server's config and allow the hub $JS.API.>",
            )
        answered: list[str] = []
        silent: list[str] = []
        for machine in machines:
            try:
                msg = await link.client.request(
                    command_subject(machine, "ping"), Ping().encode(), timeout=2
                )
                Beat.decode(msg.data)
                answered.append(machine)
            except (nats.errors.Error, TimeoutError, ValueError):
                silent.append(machine)
        known = f"; online: {', '.join(answered)}" if answered else ""
        if silent:
            return Probe(
                "warn",
                f"connected to {url} with JetStream{known}; not answering: {', '.join(silent)}",
                "start `voice-agent worker` there",
            )
        return Probe("ok", f"connected to {url} with JetStream{known}")
    finally:
        await link.close()
