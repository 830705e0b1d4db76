"""The nats-server permissions the machines protocol needs, as a config file.

:func:`permissions` says what each NATS user may do: the hub may command every
worker (``va.w.>``), use JetStream and answer requests; machine ``M`` may only
publish under ``va.m.M.`` (heartbeats, asks, its turns' events), read its own
commands (``va.w.M.>``) and inbox (``_INBOX.M.>``), and reply to the requests
it gets. So a worker acts only on the hub's messages, and no machine can
command or impersonate another. :func:`server_config` writes a whole
``nats-server`` configuration with those users (the tests start the server
with it; ``deploy/nats-server.conf`` is the hardened example).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from voice_agent.machines.protocol import PREFIX, inbox_prefix

HUB_USER = "hub"


def permissions(machine: str | None) -> dict[str, Any]:
    """The NATS permissions of the hub (``None``) or of machine ``machine``."""
    if machine is None:
        return {
            "publish": {
                "allow": [f"{PREFIX}.w.>", "_INBOX.>", "$JS.API.>", "$JS.ACK.>", "$JS.FC.>"]
            },
            "subscribe": {"allow": [f"{PREFIX}.m.>", f"{inbox_prefix('hub')}.>"]},
        }
    return {
        "publish": {"allow": [f"{PREFIX}.m.{machine}.>"]},
        "subscribe": {"allow": [f"{PREFIX}.w.{machine}.>", f"{inbox_prefix(machine)}.>"]},
        "allow_responses": True,
    }


def server_config(
    *,
    listen: str,
    store_dir: Path,
    hub_password: str,
    machines: Mapping[str, str],
    nkeys: Mapping[str, str] | None = None,
    tls: Mapping[str, str] | None = None,
) -> str:
    """A nats-server configuration: JetStream on, one user per machine plus the hub.

    Args:
        listen: ``host:port`` to listen on.
        store_dir: JetStream's directory.
        hub_password: The hub user's password (bcrypt hashes work too).
        machines: Each worker's name and password.
        nkeys: Workers that log in with an NKey seed instead: name and public key
            (``U…``); their permissions are the same.
        tls: ``cert_file``, ``key_file`` (and ``ca_file``) to require TLS.

    Returns:
        The configuration text (JSON is valid nats-server configuration).
    """
    users = [{"user": HUB_USER, "password": hub_password, "permissions": permissions(None)}]
    users += [
        {"user": name, "password": password, "permissions": permissions(name)}
        for name, password in machines.items()
    ]
    users += [
        {"nkey": public, "permissions": permissions(name)} for name, public in (nkeys or {}).items()
    ]
    config: dict[str, Any] = {
        "listen": listen,
        "jetstream": {"store_dir": str(store_dir)},
        "authorization": {"users": users},
        "max_payload": 8 * 1024 * 1024,
    }
    if tls is not None:
        config["tls"] = {**tls, "verify": "ca_file" in tls}
    return json.dumps(config, indent=2)
