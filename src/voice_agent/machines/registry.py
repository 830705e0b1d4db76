"""The machines the hub knows: online or offline, last seen, version, what they run.

A machine is online while its heartbeats keep coming: one that sent none for
``HEARTBEAT_TIMEOUT`` seconds is offline, and so are its running turns. A new
``boot`` id means the machine restarted: turns it ran before are gone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from voice_agent.machines.protocol import Beat


@dataclass
class MachineState:
    """What the hub knows of one machine.

    Attributes:
        name: Its name.
        local: Whether it is the hub's own machine (served in the hub's process).
        version: Its voice-agent version ("" before its first heartbeat).
        boot: Its current run's id.
        cwd: Its default working directory.
        projects: Its projects, name to directory.
        live: Claude Code processes alive there (last heartbeat).
        busy: Turns running there (last heartbeat).
        turns: Their ids.
        seen_at: When its last heartbeat came (monotonic seconds; None: never).
        seen_wall: The same, as a UTC time.
        beats: Heartbeats received since the hub started.
    """

    name: str
    local: bool = False
    version: str = ""
    boot: str = ""
    cwd: str = ""
    projects: dict[str, str] = field(default_factory=dict)
    live: int = 0
    busy: int = 0
    turns: frozenset[str] = frozenset()
    seen_at: float | None = None
    seen_wall: datetime | None = None
    beats: int = 0


class Machines:
    """The registry of machines, fed by heartbeats.

    Attributes:
        timeout: Seconds without a heartbeat before a machine is offline.
    """

    def __init__(self, timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        """An empty registry.

        Args:
            timeout: Seconds without a heartbeat before a machine is offline.
            clock: Monotonic seconds (tests pass their own).
        """
        self.timeout = timeout
        self._clock = clock
        self._machines: dict[str, MachineState] = {}

    def add_local(self, name: str, version: str, cwd: str, projects: dict[str, str]) -> None:
        """Register the hub's own machine (always online while the hub runs)."""
        self._machines[name] = MachineState(
            name, local=True, version=version, cwd=cwd, projects=projects
        )

    def known(self, name: str) -> None:
        """Note a machine sessions live on, before its first heartbeat (it shows offline)."""
        self._machines.setdefault(name, MachineState(name))

    def beat(self, name: str, beat: Beat) -> bool:
        """Record a heartbeat of ``name``.

        Returns:
            True when the machine came online with it (first beat, back after being
            offline, or restarted).
        """
        state = self._machines.setdefault(name, MachineState(name))
        came = not self.online(name) or state.boot != beat.boot
        state.version, state.boot, state.cwd = beat.version, beat.boot, beat.cwd
        state.projects, state.live, state.busy = dict(beat.projects), beat.live, beat.busy
        state.turns = frozenset(beat.turns)
        state.beats += 1
        state.seen_at = self._clock()
        state.seen_wall = datetime.now(UTC)
        return came

    def get(self, name: str) -> MachineState | None:
        """The machine called ``name`` (case-insensitive), if known."""
        return self._machines.get(name) or next(
            (m for n, m in self._machines.items() if n.lower() == name.lower()), None
        )

    def online(self, name: str) -> bool:
        """Whether ``name`` is the hub's own machine or sent a heartbeat within the timeout."""
        state = self._machines.get(name)
        if state is None:
            return False
        if state.local:
            return True
        return state.seen_at is not None and self._clock() - state.seen_at < self.timeout

    def boot_of(self, name: str) -> str | None:
        """The run id of machine ``name`` now (None if unknown)."""
        state = self._machines.get(name)
        return state.boot if state is not None else None

    def names(self) -> list[str]:
        """Every known machine's name, the hub's own first."""
        return [m.name for m in self.listing()]

    def listing(self) -> list[MachineState]:
        """Every known machine: the hub's own first, then by name."""
        return sorted(self._machines.values(), key=lambda m: (not m.local, m.name))

    def beats(self, name: str) -> int:
        """How many heartbeats of ``name`` came since the hub started."""
        state = self._machines.get(name)
        return state.beats if state is not None else 0

    def runs(self, name: str, turn_id: str) -> bool:
        """Whether ``name``'s last heartbeat listed turn ``turn_id`` as running."""
        state = self._machines.get(name)
        return state is not None and turn_id in state.turns

    def last_seen(self, name: str) -> float | None:
        """Seconds since ``name``'s last heartbeat (None: never seen)."""
        state = self._machines.get(name)
        if state is None or state.seen_at is None:
            return None
        return self._clock() - state.seen_at
