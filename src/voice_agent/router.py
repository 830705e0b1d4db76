"""Plain-language routing of a message: switching project before (or instead of) a prompt.

* ``work on api`` / ``switch to api`` / ``use api`` → switch the chat to project ``api``;
* ``on api: run the tests`` / ``in api, run the tests`` → switch, then send ``run the tests``.

Only names of configured projects count; anything else is an ordinary prompt.
The router knows nothing about Telegram, so voice and the terminal share it.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

_SWITCH = re.compile(
    r"^\s*(?:let'?s\s+)?(?:work\s+on|switch\s+to|use|go\s+to)\s+(?:the\s+)?(?:project\s+)?"
    r"(?P<name>[\w.-]+)(?:\s+project)?\s*[.!]?\s*$",
    re.IGNORECASE,
)
_ON = re.compile(
    r"^\s*(?:on|in)\s+(?:the\s+)?(?:project\s+)?(?P<name>[\w.-]+)(?:\s+project)?\s*[:,]\s*(?P<rest>.+)$",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class Route:
    """Where a message goes.

    Attributes:
        project: Project to switch to first, if any.
        prompt: The prompt to send (None: nothing to send).
    """

    project: str | None
    prompt: str | None


def _match_project(name: str, projects: Collection[str]) -> str | None:
    lowered = {p.lower(): p for p in projects}
    return lowered.get(name.lower())


def route(text: str, projects: Collection[str]) -> Route:
    """Split a message into an optional project switch and an optional prompt.

    Args:
        text: The user's message (or transcript).
        projects: Names of the configured projects.

    Returns:
        The route; a plain prompt when no project is named.
    """
    switch = _SWITCH.match(text)
    if switch and (project := _match_project(switch["name"], projects)):
        return Route(project, None)
    on = _ON.match(text)
    if on and (project := _match_project(on["name"], projects)):
        return Route(project, on["rest"].strip())
    return Route(None, text)
