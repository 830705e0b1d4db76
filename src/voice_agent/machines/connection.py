"""Connecting to NATS with this machine's credentials: the one place nats-py errors are read.

:func:`connect` opens a connection with ``NATS_URL``, the user and password or
the NKey seed file, the TLS CA, and this machine's own reply inbox
(``_INBOX.<machine>``, the only inbox its NATS user may read). A refused or
unreachable server becomes a :class:`MachinesError` that says what to check.
Permission violations reported later by the server are logged and counted
(:attr:`Link.violations`), so ``doctor`` and the tests can see them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import ssl
from dataclasses import dataclass, field
from typing import Any

import nats.errors
from nats.aio.client import Client

from voice_agent.config import Settings
from voice_agent.machines.protocol import inbox_prefix
from voice_agent.redaction import mask_url

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


async def connect(settings: Settings, *, machine: str, role: str) -> Link:
    """Connect to ``NATS_URL`` as ``machine``.

    Args:
        settings: The NATS settings.
        machine: Whose inbox the connection uses (the worker's name, or ``hub``).
        role: ``hub`` or ``worker`` (names the connection in the server's logs).

    Returns:
        The open link; reconnects by itself when the server comes back.

    Raises:
        MachinesError: No ``NATS_URL``, the server is unreachable, or it refused
            the credentials.
    """
    if not settings.nats_url:
        raise MachinesError("NATS_URL is not set: several machines need a NATS server")
    link: Link | None = None
    seen: list[Exception] = []  # what went wrong while connecting, last one last
    hopeless = asyncio.Event()  # refused credentials or certificate: retrying cannot help

    async def on_error(error: Exception) -> None:
        text = str(error)
        if "permissions violation" in text.lower():
            logger.error("NATS refused: %s", text)
            if link is not None:
                link.violations.append(text)
                link.violated.set()
            return
        if link is None:
            seen.append(error)
            if _hopeless(error):
                hopeless.set()
        if "authorization" in text.lower():
            logger.error("NATS refused the credentials of %s: %s", machine, text)
        else:
            logger.warning("NATS: %s", text or type(error).__name__)

    async def on_disconnect() -> None:
        if client.is_closed or client.is_draining:
            logger.debug("the NATS connection is closed")
        else:
            logger.warning("lost the NATS connection; reconnecting")

    async def on_reconnect() -> None:
        logger.info("reconnected to NATS")

    client = Client()
    connecting = asyncio.get_running_loop().create_task(
        client.connect(
            servers=[settings.nats_url],
            name=f"voice-agent {role} {machine}",
            inbox_prefix=inbox_prefix(machine),
            error_cb=on_error,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
            connect_timeout=math.ceil(settings.nats_request_timeout),
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            **_options(settings),
        )
    )
    # With reconnects on, nats-py would retry a hopeless connection for ever: stop it.
    waiting = asyncio.get_running_loop().create_task(hopeless.wait())
    try:
        await asyncio.wait(
            {connecting, waiting},
            timeout=settings.nats_request_timeout * 3,
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        waiting.cancel()
    if connecting.done() and not connecting.cancelled() and connecting.exception() is None:
        link = Link(client, machine)
        return link
    if connecting.done() and not connecting.cancelled():
        seen.append(connecting.exception())  # type: ignore[arg-type]
    else:
        connecting.cancel()
        with contextlib.suppress(BaseException):
            await connecting
    with contextlib.suppress(Exception):
        await client.close()
    raise _failure(mask_url(settings.nats_url), machine, seen)


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
    last = seen[-1] if seen else TimeoutError("no answer")
    return MachinesError(
        f"cannot reach the NATS server {url} ({type(last).__name__}: {last}); is it "
        "running, and is NATS_URL right?"
    )
