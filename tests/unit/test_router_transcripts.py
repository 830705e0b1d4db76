"""The router reads voice transcripts (capitals, full stops, commas) like typed text."""

from __future__ import annotations

import pytest

from voice_agent.router import Route, route

PROJECTS = ["api", "my.app"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Let's work on api.", Route("api", None)),
        ("Work on the API project.", Route("api", None)),
        ("Switch to api!", Route("api", None)),
        ("Use api?", Route("api", None)),
        ("work on my.app.", Route("my.app", None)),
        ("On API, run the tests.", Route("api", "run the tests.")),
        ("in my.app, fix the build.", Route("my.app", "fix the build.")),
        ("Work on api.py.", Route(None, "Work on api.py.")),  # a file, not the project
        ("On api.", Route(None, "On api.")),  # nothing to send
    ],
)
def test_transcripts_route_like_text(text: str, expected: Route) -> None:
    assert route(text, PROJECTS) == expected
