"""Logging set-up: levels, plain or JSON lines, context, and secrets kept out.

* Bot tokens (``123456:AA...``), API keys (``sk-ant-...``) and ``key=value``
  secrets are replaced by ``[redacted]`` wherever they appear, including in URLs
  logged by libraries; httpx's per-request lines are kept at WARNING.
* ``LOG_FORMAT=json`` writes one JSON object per line (time, level, logger,
  message, and the chat and session being served, when known).
* Prompts and transcripts are logged only at DEBUG.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime

_PATTERNS = (
    re.compile(r"\d{6,12}:[A-Za-z0-9_-]{30,}"),  # Telegram bot tokens
    re.compile(r"sk-ant-[A-Za-z0-9_-]{8,}"),  # Anthropic keys
)
_ASSIGNMENT = re.compile(r"(?i)(api[_-]?key|token|authorization)(\s*[=:]\s*)([^\s,;&]+)")

chat_context: contextvars.ContextVar[int | None] = contextvars.ContextVar("chat", default=None)
session_context: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "session", default=None
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
        for pattern in _PATTERNS:
            text = pattern.sub("[redacted]", text)
        return _ASSIGNMENT.sub(lambda m: f"{m[1]}{m[2]}[redacted]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message (and exception text) with secrets removed."""
        message = record.getMessage()
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        record.chat = chat_context.get()
        record.session = session_context.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("chat", "session"):
            value = getattr(record, key, None)
            if value is not None:
                data[key] = value
        if record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time level logger [chat/session]: message``."""

    def __init__(self) -> None:
        """Use the standard layout."""
        super().__init__("%(asctime)s %(levelname)s %(name)s%(where)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as one text line (plus its traceback)."""
        chat, session = getattr(record, "chat", None), getattr(record, "session", None)
        record.where = f" [{chat}/{session}]" if chat is not None else ""
        return super().format(record)


def setup_logging(level: str = "INFO", secrets: Iterable[str] = (), fmt: str = "text") -> None:
    """Log to stderr at ``level`` with secrets redacted.

    Args:
        level: DEBUG, INFO, WARNING or ERROR.
        secrets: Literal secrets (the bot token…) to hide.
        fmt: ``text`` or ``json``.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "telegram.ext.Updater", "faster_whisper"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
