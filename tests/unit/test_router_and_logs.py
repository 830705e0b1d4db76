"""The plain-language router and the secret-redacting log filter."""

from __future__ import annotations

import logging

import pytest

from voice_agent.logs import RedactSecrets, setup_logging
from voice_agent.router import Route, route

PROJECTS = ["api", "web-app"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("work on api", Route("api", None)),
        ("Switch to the web-app project.", Route("web-app", None)),
        ("let's work on API", Route("api", None)),
        ("on api: run the tests", Route("api", "run the tests")),
        ("in web-app, fix the build", Route("web-app", "fix the build")),
        ("work on the docs", Route(None, "work on the docs")),  # not a project
        ("on monday: remind me", Route(None, "on monday: remind me")),
        ("run the tests on api", Route(None, "run the tests on api")),
    ],
)
def test_route(text: str, expected: Route) -> None:
    assert route(text, PROJECTS) == expected


def test_tokens_and_keys_never_reach_the_log(caplog: pytest.LogCaptureFixture) -> None:
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    redactor = RedactSecrets([token])
    logger = logging.getLogger("test.secrets")
    logger.addFilter(redactor)
    with caplog.at_level(logging.INFO, logger="test.secrets"):
        logger.info("POST https://api.telegram.org/bot%s/getUpdates", token)
        logger.info("key sk-ant-api03-abcdefghijklmnop in env")
        logger.info("ANTHROPIC_API_KEY=dummy-value-123 set")
    logger.removeFilter(redactor)
    assert token not in caplog.text
    assert "sk-ant-api03-abcdefghijklmnop" not in caplog.text
    assert "dummy-value-123" not in caplog.text
    assert caplog.text.count("[redacted]") == 3


def test_setup_logging_installs_the_filter() -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("httpx").level)
    try:
        setup_logging("DEBUG", ["987654321:ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"])
        handler = root.handlers[0]
        assert any(isinstance(f, RedactSecrets) for f in handler.filters)
        assert logging.getLogger("httpx").level == logging.WARNING
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        logging.getLogger("httpx").setLevel(saved[2])
