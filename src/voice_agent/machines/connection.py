"""Connecting to NATS with this machine's credentials: the one place nats-py errors are read.

:func:`connect` opens a connection with ``NATS_URL``, the user and password or
the NKey seed file, the TLS CA, and this machine's own reply inbox
(``_INBOX.<machine>``, the only inbox its NATS user may read). A refused or
unreachable server becomes a :class:`MachinesError` that says what to check: a
command tries for a few seconds, a service (``wait``) waits for the server,
logging one line and then one a minute, never one per try.
Permission violations reported later by the server are logged and counted
(:attr:`Link.violations`), so ``doctor`` and the tests can see them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import nats.errors
from nats.aio.client import Client

from voice_agent.config import Settings
from voice_agent.machines.protocol import inbox_prefix

logger = logging.getLogger(__name__)


class MachinesError(Exception):
    """NATS cannot be used as configured; the message says what to check."""


@dataclass
class Link:
    """An open NATS connection and what the server reported on it.

    Attributes:
        client: The nats-py client.
        machine: The machine it speaks for (its inbox is ``_INBOX.<machine>``).
        violations: Permission violations the server reported (subjects refused).
        violated: Set when the server reports one (clear it to wait for the next).
    """

    client: Client
    machine: str
    violations: list[str] = field(default_factory=list)
    violated: asyncio.Event = field(default_factory=asyncio.Event)

    async def close(self) -> None:
        """Drain and close the connection (nothing more is sent or received)."""
        if not self.client.is_closed:
            try:
                await self.client.drain()
            except (nats.errors.Error, TimeoutError):
                await self.client.close()


def _options(settings: Settings) -> dict[str, Any]:
    """Credentials and TLS for nats-py, from the settings."""
    options: dict[str, Any] = {}
    if settings.nats_user:
        options["user"] = settings.nats_user
        if settings.nats_password is not None:
            options["password"] = settings.nats_password.get_secret_value()
    if settings.nats_nkey_seed_file is not None:
        options["nkeys_seed"] = str(settings.nats_nkey_seed_file)
    url = settings.nats_url or ""
    if settings.nats_tls_ca is not None or url.startswith("tls://"):
        context = ssl.create_default_context(
            cafile=str(settings.nats_tls_ca) if settings.nats_tls_ca else None
        )
        options["tls"] = context
    return options


QUICK_CONNECT = 3.0
"""Seconds at most a command (``doctor``, ``chat --machine``) tries to reach the server."""
RETRY_WAIT = 2
"""Seconds between two tries to reach the server (nats-py's ``reconnect_time_wait``)."""
STILL_WAITING = 60.0
"""Seconds between two "still waiting for the NATS server" lines while it is away."""


_LOST = (nats.errors.UnexpectedEOF, nats.errors.StaleConnectionError, OSError)
"""Errors of a connection that was open and is lost (nats-py reconnects)."""


class _Outage:
    """The log of the server being away: one line when it starts, then one a minute."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._since: float | None = None
        self._said = 0.0

    def began(self, line: str) -> None:
        """Log ``line`` (the first of this outage) unless it has already begun."""
        if self._since is None:
            self._since = self._said = time.monotonic()
            logger.warning("%s", line)

    def failed(self, error: BaseException, first: str) -> None:
        """A try failed: the first one logs ``first``, then one line every STILL_WAITING."""
        reason = _reason(error)
        if self._since is None:
            self.began(first.replace("{reason}", reason))
            return
        now = time.monotonic()
        if now - self._said >= STILL_WAITING:
            self._said = now
            logger.warning(
                "still waiting for the NATS server %s (%s), for %d s now",
                self.url,
                reason,
                now - self._since,
            )

    def ended(self) -> bool:
        """The server is back; whether it had been away."""
        was, self._since = self._since is not None, None
        return was


async def connect(settings: Settings, *, machine: str, role: str, wait: bool = False) -> Link:
    """Connect to ``NATS_URL`` as ``machine``.

    Once open, the link reconnects by itself when the server goes away and comes
    back: one warning when it is lost, then one every :data:`STILL_WAITING` s.

    Args:
        settings: The NATS settings.
        machine: Whose inbox the connection uses (the worker's name, or ``hub``).
        role: ``hub``, ``worker`` or ``doctor`` (names the connection in the
            server's logs).
        wait: Wait for an unreachable server as long as it takes (a service: the
            worker, the hub), logging one line and then one every
            :data:`STILL_WAITING` s; otherwise try for at most
            :data:`QUICK_CONNECT` s (3 × ``NATS_REQUEST_TIMEOUT`` if shorter)
            and log nothing: the error says it.

    Returns:
        The open link.

    Raises:
        MachinesError: No ``NATS_URL``, the server refused the credentials or
            its certificate is not trusted (never waited for), or (without
            ``wait``) it could not be reached in time.
    """
    if not settings.nats_url:
        raise MachinesError("NATS_URL is not set: several machines need a NATS server")
    url = settings.shown_nats_url
    link: Link | None = None
    seen: list[Exception] = []  # what went wrong while connecting, last one last
    hopeless = asyncio.Event()  # refused credentials or certificate: retrying cannot help
    outage = _Outage(url)
    deadline = None if wait else min(QUICK_CONNECT, settings.nats_request_timeout * 3)

    async def on_error(error: Exception) -> None:
        text = str(error)
        if "permissions violation" in text.lower():
            logger.error("NATS refused: %s", text)
            if link is not None:
                link.violations.append(text)
                link.violated.set()
            return
        if link is None:  # connecting: the caller reports how it ended
            seen.append(error)
            if _hopeless(error):
                hopeless.set()
            elif wait:
                outage.failed(
                    error,
                    f"waiting for the NATS server {url} ({{reason}}); is it running, and is "
                    f"NATS_URL right? Trying again every {RETRY_WAIT} s",
                )
        elif not client.is_connected:  # reconnecting: one line now, then one a minute
            outage.failed(error, f"cannot reach the NATS server {url} ({{reason}}); reconnecting")
        elif isinstance(error, _LOST):  # the disconnect follows: one line for both
            outage.began(
                f"lost the connection to the NATS server {url} ({_reason(error)}); reconnecting"
            )
        elif "authorization" in text.lower():
            logger.error("NATS refused the credentials of %s: %s", machine, text)
        else:
            logger.warning("NATS: %s", text or type(error).__name__)

    async def on_disconnect() -> None:
        if client.is_closed or client.is_draining:
            logger.debug("the NATS connection is closed")
        elif link is not None:
            outage.began(f"lost the connection to the NATS server {url}; reconnecting")

    async def on_reconnect() -> None:
        outage.ended()
        logger.info("reconnected to the NATS server %s", url)

    client = Client()
    connecting = asyncio.get_running_loop().create_task(
        client.connect(
            servers=[settings.nats_url],
            name=f"voice-agent {role} {machine}",
            inbox_prefix=inbox_prefix(machine),
            error_cb=on_error,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
            connect_timeout=math.ceil(min(settings.nats_request_timeout, deadline or math.inf)),
            allow_reconnect=True,
            max_reconnect_attempts=-1,  # the deadline, or a hopeless error, stops connecting
            reconnect_time_wait=RETRY_WAIT,
            **_options(settings),
        )
    )
    # With reconnects on, nats-py would retry a hopeless connection for ever: stop it.
    waiting = asyncio.get_running_loop().create_task(hopeless.wait())
    try:
        await asyncio.wait(
            {connecting, waiting}, timeout=deadline, return_when=asyncio.FIRST_COMPLETED
        )
    except BaseException:  # cancelled (a service told to stop while it waits)
        await _abandon(client, connecting)
        raise
    finally:
        waiting.cancel()
    if connecting.done() and not connecting.cancelled() and connecting.exception() is None:
        link = Link(client, machine)
        if outage.ended():
            logger.info("reached the NATS server %s", url)
        return link
    if connecting.done() and not connecting.cancelled():
        seen.append(connecting.exception())  # type: ignore[arg-type]
    await _abandon(client, connecting)
    raise _failure(url, machine, seen)


async def _abandon(client: Client, connecting: asyncio.Task[None]) -> None:
    """Stop connecting and close the client."""
    connecting.cancel()
    with contextlib.suppress(BaseException):
        await connecting
    with contextlib.suppress(Exception):
        await client.close()


def _reason(error: BaseException) -> str:
    """``Type: text`` of a connection error."""
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _hopeless(error: BaseException) -> bool:
    """Whether connecting again cannot help: refused credentials, a bad certificate."""
    return isinstance(error, ssl.SSLError) or "authorization" in str(error).lower()


def _failure(url: str, machine: str, seen: list[Exception]) -> MachinesError:
    """The error to report for a connection that did not open."""
    refused = next((e for e in seen if "authorization" in str(e).lower()), None)
    if refused is not None:
        return MachinesError(
            f"the NATS server {url} refused the credentials of {machine} ({refused}); "
            "check NATS_USER / NATS_PASSWORD or NATS_NKEY_SEED_FILE"
        )
    certificate = next((e for e in seen if isinstance(e, ssl.SSLError)), None)
    if certificate is not None:
        return MachinesError(
            f"the TLS certificate of the NATS server {url} is not trusted ({certificate}); "
            "set NATS_TLS_CA to the CA that signed it"
        )
    last = seen[-1] if seen else TimeoutError("no answer in time")
    return MachinesError(
        f"cannot reach the NATS server {url} ({_reason(last)}); is it running, and is "
        "NATS_URL right?"
    )
