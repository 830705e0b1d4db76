"""Secrets kept out of what is shown: URL passwords masked, known secrets redacted.

A leaf module (the standard library only), so every layer may use it:

* :func:`mask_url` shows a URL with its password and secret-looking query values
  masked (``nats://u:***@host``); use it wherever a URL is printed or logged.
* :func:`url_secrets` lists the secrets a configured URL carries, to redact them
  literally as well (a server may echo them back in another form).
* :func:`redact` replaces given secrets, bot tokens, API keys, ``key=value``
  secrets and URL passwords in any text.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

MASK = "***"
"""What a URL's password or secret query value is replaced by."""

REDACTED = "[redacted]"
"""What any other secret is replaced by."""

_MIN_LITERAL = 4
"""Shorter literal secrets are not replaced (they would mangle ordinary words)."""

_PATTERNS = (
    re.compile(r"\d{6,12}:[A-Za-z0-9_-]{30,}"),  # Telegram bot tokens
    re.compile(r"sk-ant-[A-Za-z0-9_-]{8,}"),  # Anthropic keys
)
_ASSIGNMENT = re.compile(
    r"(?i)(api[_-]?key|token|authorization|password|passwd|secret)([\"']?\s*[=:]\s*[\"']?)"
    r"((?:bearer|basic|token)\s+)?([^\s,;&\"']+)"
)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>`]+")
_SECRET_NAME = re.compile(r"(?i)key|token|secret|pass|auth|sig|credential")


def mask_url(url: str) -> str:
    """``url`` as safe to show: its password and secret-looking query values masked.

    ``nats://u:pw@host:4222`` becomes ``nats://u:***@host:4222``, and
    ``https://h/x?key=abc&lang=en`` becomes ``https://h/x?key=***&lang=en``; the
    rest is kept exactly as written.

    Args:
        url: Any URL (or text that may not be one: it is then returned unchanged,
            unless it holds a ``user:password@``, which is masked all the same).

    Returns:
        The URL to print or log.
    """
    try:
        parts = urlsplit(url)
    except ValueError:  # an invalid IPv6 host, say: mask what looks like a password
        return re.sub(r"(://[^\s/?#@:]*):[^\s/?#]*@", rf"\1:{MASK}@", url)
    netloc, query = parts.netloc, parts.query
    userinfo, at, host = netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    if at and colon and password:
        netloc = f"{user}:{MASK}@{host}"
    if query:
        query = "&".join(_mask_parameter(item) for item in query.split("&"))
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    shown = f"{parts.scheme}://{netloc}" if parts.scheme or netloc else ""
    shown += parts.path + (f"?{query}" if query or "?" in url else "")
    return shown + (f"#{parts.fragment}" if parts.fragment else "")


def _mask_parameter(item: str) -> str:
    name, equals, value = item.partition("=")
    if equals and value and _SECRET_NAME.search(unquote(name)):
        return f"{name}={MASK}"
    return item


def url_secrets(url: str | None) -> list[str]:
    """The secrets ``url`` carries, to redact wherever they appear.

    Its password (as written and decoded), the ``user:password`` pair as HTTP basic
    credentials (what a server echoing ``Authorization`` shows), and the values of
    secret-looking query parameters (``key``, ``token``, ``sig``…).

    Args:
        url: A configured URL, or None.

    Returns:
        The literal strings to redact wherever they appear.
    """
    if not url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found: list[str] = []
    userinfo, at, _ = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    if at and colon and password:
        found += [password, unquote(password)]
        pair = f"{unquote(user)}:{unquote(password)}".encode()
        found.append(base64.b64encode(pair).decode())
    for item in parts.query.split("&"):
        name, equals, value = item.partition("=")
        if equals and value and _SECRET_NAME.search(unquote(name)):
            found += [value, unquote(value)]
    return list(dict.fromkeys(found))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret replaced.

    Args:
        text: What is about to be shown or logged.
        secrets: Literal secrets to hide wherever they appear (shorter than four
            characters are left: they would mangle ordinary words).

    Returns:
        The text with the given secrets, bot tokens, Anthropic keys, ``key=value``
        secrets (``Authorization: Bearer …`` included) replaced by ``[redacted]``
        and every URL masked by :func:`mask_url`.
    """
    for literal in sorted({s for s in secrets if s and len(s) >= _MIN_LITERAL}, key=len)[::-1]:
        text = text.replace(literal, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    text = _ASSIGNMENT.sub(lambda m: f"{m[1]}{m[2]}{m[3] or ''}{REDACTED}", text)
    return _URL.sub(lambda m: mask_url(m[0]), text)
