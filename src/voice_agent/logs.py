"""Logging set-up: levels, and secrets kept out of every log line.

Bot tokens (``123456:AA...``) and API keys (``sk-ant-...``) are replaced by
``[redacted]`` wherever they appear, including in URLs logged by libraries;
httpx's per-request lines are kept at WARNING.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

_PATTERNS = (
    re.compile(r"\d{6,12}:[A-Za-z0-9_-]{30,}"),  # Telegram bot tokens
    re.compile(r"sk-ant-[A-Za-z0-9_-]{8,}"),  # Anthropic keys
    re.compile(r"(?i)(api[_-]?key|token|authorization)(\s*[=:]\s*)([^\s,;&]+)"),
)


class RedactSecrets(logging.Filter):
    """Replaces known secrets and secret-looking strings in log records."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        """Redact these exact strings too (e.g. the configured token).

        Args:
            secrets: Literal secrets to hide.
        """
        super().__init__()
        self._literals = [s for s in secrets if s and len(s) >= 8]

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced."""
        for literal in self._literals:
            text = text.replace(literal, "[redacted]")
        for pattern in _PATTERNS[:2]:
            text = pattern.sub("[redacted]", text)
        return _PATTERNS[2].sub(lambda m: f"{m[1]}{m[2]}[redacted]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with secrets removed."""
        message = record.getMessage()
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def setup_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Log to stderr at ``level`` with secrets redacted.

    Args:
        level: DEBUG, INFO, WARNING or ERROR.
        secrets: Literal secrets (the bot token…) to hide.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "telegram.ext.Updater"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
