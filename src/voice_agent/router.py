"""Plain-language routing of a message: switching project before (or instead of) a prompt.

* ``work on api`` / ``switch to api`` / ``use api`` → switch the chat to project ``api``;
* ``on api: run the tests`` / ``in api, run the tests`` → switch, then send ``run the tests``.

Only names of configured projects count; anything else is an ordinary prompt.
Transcripts end in a full stop ("Let's work on api."), which is not part of the
name. The router knows nothing about Telegram: typed text and voice transcripts
go through it alike (``telegram.prompts.send_words``).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

_NAME = r"(?P<name>[\w-]+(?:\.[\w-]+)*)"  # "my.app", but not the full stop of "work on api."
_SWITCH = re.compile(
    r"^\s*(?:let'?s\s+)?(?:work\s+on|switch\s+to|use|go\s+to)\s+(?:the\s+)?(?:project\s+)?"
    rf"{_NAME}(?:\s+project)?\s*[.!?]?\s*$",
    re.IGNORECASE,
)
_ON = re.compile(
    rf"^\s*(?:on|in)\s+(?:the\s+)?(?:project\s+)?{_NAME}(?:\s+project)?\s*[:,]\s*(?P<rest>.+)$",
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
