"""The plain-language router and the secret-redacting log filter."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from voice_agent.config import load_settings
from voice_agent.logs import RedactSecrets, settings_secrets, setup_logging
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


def test_a_password_in_any_url_is_masked_in_log_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.urls")
    redactor = RedactSecrets()  # no literal secret: the URL alone gives it away
    logger.addFilter(redactor)
    with caplog.at_level(logging.INFO, logger="test.urls"):
        logger.info("connected to %s", "nats://u:secret@h")
        logger.info("proxy http://me:p%40ss@proxy:3128/ refused; retrying")
        try:
            raise ConnectionError("cannot reach tls://hub:hunter2@nats.example:4222")
        except ConnectionError:
            logger.exception("gave up")
    logger.removeFilter(redactor)
    assert "nats://u:***@h" in caplog.text
    assert "http://me:***@proxy:3128/ refused" in caplog.text
    assert "tls://hub:***@nats.example:4222" in caplog.text
    assert "secret" not in caplog.text
    assert "p%40ss" not in caplog.text
    assert "hunter2" not in caplog.text


def test_an_authorization_header_is_redacted_whole() -> None:
    text = RedactSecrets().redact("sent Authorization: Bearer sk-proj-abcdef123456 and got 401")
    assert text == "sent Authorization: Bearer [redacted] and got 401"


def test_every_secret_setting_is_given_to_the_log_filter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOICE_AGENT_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "anthropic-key-for-the-test")
    settings = load_settings(
        telegram_bot_token="123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        stt_api_key="stt-key-for-the-test",
        whisper_url="https://stt:whisper-pass@stt.example/v1?api_key=query-key-1",
        nats_url="nats://nats.example:4222",
        nats_user="alpha",
        nats_password="nats-pass-for-the-test",
    )
    secrets = settings_secrets(settings)
    for secret in (
        "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        "stt-key-for-the-test",
        "whisper-pass",
        "query-key-1",
        "nats-pass-for-the-test",
        "anthropic-key-for-the-test",
    ):
        assert secret in secrets
    line = RedactSecrets(secrets).redact("the STT server said: bad key stt-key-for-the-test")
    assert line == "the STT server said: bad key [redacted]"


def test_a_short_configured_password_is_still_redacted() -> None:
    line = RedactSecrets(["hunter2"]).redact("NATS said: authorization violation for hunter2")
    assert "hunter2" not in line
