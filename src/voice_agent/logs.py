"""Logging set-up: levels, plain or JSON lines, context, and secrets kept out.

* Bot tokens (``123456:AA...``), API keys (``sk-ant-...``), ``key=value``
  secrets and the configured secrets (:func:`settings_secrets`) are replaced by
  ``[redacted]`` wherever they appear, and the password of any
  ``scheme://user:password@`` URL by ``***``, including in URLs logged by
  libraries; httpx's per-request lines are kept at WARNING.
* ``LOG_FORMAT=json`` writes one JSON object per line (time, level, logger,
  message, and the chat and session being served, when known).
* Prompts and transcripts are logged only at DEBUG.
"""

from __future__ import annotations

import contextvars
import io
import json
import logging
import logging.handlers
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from voice_agent.redaction import redact, url_secrets

if TYPE_CHECKING:
    from voice_agent.config import Settings

# Claude Code's credentials in the environment: never ours to log either.
_ENVIRONMENT_SECRETS = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK",
)

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
        self._literals = [s for s in secrets if s]  # redact() skips the very short

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced."""
        return redact(text, self._literals)

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


def settings_secrets(settings: Settings) -> list[str]:
    """Every secret the settings and the environment hold, to redact literally.

    The bot token, ``STT_API_KEY``, ``NATS_PASSWORD``, the passwords and secret query
    values of ``WHISPER_URL``, ``NATS_URL`` and the Bot API URLs, and Claude Code's
    credentials in the environment (``ANTHROPIC_API_KEY``, ``CLAUDE_CODE_OAUTH_TOKEN``…).

    Args:
        settings: The loaded settings.

    Returns:
        The literal secrets (empty values left out).
    """
    found = [
        secret.get_secret_value()
        for secret in (settings.telegram_bot_token, settings.stt_api_key, settings.nats_password)
        if secret is not None
    ]
    for url in (
        settings.whisper_url,
        settings.nats_url,
        settings.telegram_api_base_url,
        settings.telegram_api_file_url,
    ):
        found += url_secrets(url)
    found += [os.environ.get(name, "") for name in _ENVIRONMENT_SECRETS]
    return [secret for secret in dict.fromkeys(found) if secret]


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


CHAT_LOG_BYTES = 1_000_000
"""How large ``chat.log`` grows before it is rotated (two older files are kept)."""


def setup_logging(
    level: str = "INFO",
    secrets: Iterable[str] = (),
    fmt: str = "text",
    *,
    log_file: Path | None = None,
) -> None:
    """Log to stderr at ``level`` with secrets redacted.

    Args:
        level: DEBUG, INFO, WARNING or ERROR.
        secrets: Literal secrets (the bot token…) to hide.
        fmt: ``text`` or ``json``.
        log_file: For an interactive screen (``voice-agent chat``): the records
            go to this file at ``level`` (rotated at :data:`CHAT_LOG_BYTES`,
            readable by its owner only), and stderr, which is the screen, gets
            warnings and errors only. When the file cannot be opened, stderr
            still gets warnings and errors.
    """
    root = logging.getLogger()
    root.setLevel(level)
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file is not None:
        handlers[0].setLevel(max(logging.WARNING, root.level))
        opened = _rotating(log_file)
        if opened is not None:
            handlers.append(opened)
    for handler in handlers:
        handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
        handler.addFilter(RedactSecrets(secrets))
    root.handlers[:] = handlers
    for noisy in ("httpx", "httpcore", "telegram.ext.Updater", "faster_whisper"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


class _PrivateRotatingFile(logging.handlers.RotatingFileHandler):
    """A size-rotated log file created readable by its owner only (also after rotating)."""

    def _open(self) -> io.TextIOWrapper:
        descriptor = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return open(descriptor, "a", encoding=self.encoding, errors=self.errors)


def _rotating(path: Path) -> logging.Handler | None:
    """The chat's log file, or None when it cannot be made."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return _PrivateRotatingFile(path, maxBytes=CHAT_LOG_BYTES, backupCount=2, encoding="utf-8")
    except OSError:
        return None
