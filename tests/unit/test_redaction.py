"""URLs shown with their passwords masked, and secrets redacted from any text."""

from __future__ import annotations

import pytest

from voice_agent.redaction import mask_url, redact, url_secrets


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("nats://u:secret@host:4222", "nats://u:***@host:4222"),
        ("tls://hub:p%40ss@10.0.0.1", "tls://hub:***@10.0.0.1"),
        ("http://user:pw@h/inference?lang=en", "http://user:***@h/inference?lang=en"),
        (
            "https://h/v1?key=abc&lang=en&access_token=t",
            "https://h/v1?key=***&lang=en&access_token=***",
        ),
        ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
        ("nats://only-user@host", "nats://only-user@host"),
        ("http://[::1:4222/x", "http://[::1:4222/x"),  # not a URL urllib can split
        ("http://u:pw@[::1/x", "http://u:***@[::1/x"),
        ("", ""),
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_url_secrets_hold_the_password_every_way_a_server_may_echo_it() -> None:
    found = url_secrets("http://stt-user:p%40ss@h/x?token=tok%2B1&lang=en")
    assert found == ["p%40ss", "p@ss", "c3R0LXVzZXI6cEBzcw==", "tok%2B1", "tok+1"]
    assert url_secrets(None) == url_secrets("http://h/x") == []


def test_redact_replaces_literals_patterns_and_url_passwords() -> None:
    text = (
        'key sk-proj-123456 echoed, {"password": "hunter22"}, '
        "via nats://a:b@c and Authorization: Basic dXNlcjpwYXNz"
    )
    assert redact(text, ["sk-proj-123456", ""]) == (
        'key [redacted] echoed, {"password": "[redacted]"}, '
        "via nats://a:***@c and Authorization: Basic [redacted]"
    )
