"""Settings, read once at start-up from the environment, ``.env`` and a TOML file.

Precedence (highest first): environment variables, ``.env`` in the current
directory, the TOML file (``VOICE_AGENT_CONFIG``, default
``~/.config/voice-agent/config.toml``), then the defaults below. Names are the
environment variable names; in ``.env`` they are the same, in the TOML file the
same in lower case (``telegram_bot_token = "..."``).
"""

from __future__ import annotations

import json
import os
import re
import socket
import tomllib
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tzlocal
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from voice_agent.policy.jail import Jail, JailMode
from voice_agent.redaction import mask_url

if TYPE_CHECKING:
    from voice_agent.speech.base import SpeechSettings

IdSet = Annotated[frozenset[int], NoDecode]

MACHINE_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,31}$"
"""Machine names: lower-case letters, digits and dashes (one NATS subject token)."""
NATS_SCHEMES = frozenset({"nats", "tls", "ws", "wss"})
"""The schemes of a ``NATS_URL`` (nats-py's: plain, TLS, WebSocket, secure WebSocket)."""


def default_machine_name() -> str:
    """The host name, made a valid machine name (``Build_Box.lan`` -> ``build-box``)."""
    host = socket.gethostname().split(".")[0].lower()
    name = re.sub(r"[^a-z0-9-]+", "-", host).strip("-")[:32]
    return name or "machine"


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/voice-agent``, or ``~/.local/share/voice-agent``."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "voice-agent"


def config_file() -> Path:
    """The TOML settings file: ``VOICE_AGENT_CONFIG`` or ``~/.config/voice-agent/config.toml``."""
    explicit = os.environ.get("VOICE_AGENT_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(Path.home(), ".config")
    return Path(base) / "voice-agent" / "config.toml"


class Settings(BaseSettings):
    """Everything voice-agent can be told; see the configuration docs for each name."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        frozen=True,
    )

    telegram_bot_token: SecretStr | None = Field(
        default=None, description="The bot token from @BotFather."
    )
    telegram_api_base_url: str = Field(
        default="https://api.telegram.org/bot",
        description="Bot API base URL (python-telegram-bot's base_url); the token is appended.",
    )
    telegram_api_file_url: str = Field(
        default="https://api.telegram.org/file/bot",
        description="Bot API file URL (python-telegram-bot's base_file_url).",
    )
    telegram_overall_max_rate: float = Field(
        default=30.0,
        ge=0,
        description="Bot API calls to chats per TELEGRAM_OVERALL_TIME_PERIOD, all chats "
        "together (Telegram: about 30 a second; 0: no limit).",
    )
    telegram_overall_time_period: float = Field(
        default=1.0, gt=0, description="Seconds of TELEGRAM_OVERALL_MAX_RATE."
    )
    telegram_group_max_rate: float = Field(
        default=20.0,
        ge=0,
        description="Bot API calls per group or channel per TELEGRAM_GROUP_TIME_PERIOD "
        "(Telegram: 20 a minute; 0: no limit).",
    )
    telegram_group_time_period: float = Field(
        default=60.0, gt=0, description="Seconds of TELEGRAM_GROUP_MAX_RATE."
    )
    telegram_max_retries: int = Field(
        default=5,
        ge=0,
        le=100,
        description="Times a Bot API call Telegram refused with 429 is sent again, "
        "after the wait Telegram asks for.",
    )
    allowed_chat_ids: IdSet = Field(
        default=frozenset(), description="Chats served (comma-separated ids)."
    )
    allowed_user_ids: IdSet = Field(
        default=frozenset(), description="Users served (comma-separated ids)."
    )
    approver_user_ids: IdSet = Field(
        default=frozenset(), description="Users who may approve tool calls (default: all served)."
    )
    default_cwd: Path = Field(
        default_factory=Path.home, description="Working directory of new sessions."
    )
    projects: Annotated[dict[str, Path], NoDecode] = Field(
        default_factory=dict, description='Named projects, JSON: {"api": "/code/api"}.'
    )
    permission_timeout: int = Field(
        default=300, ge=5, le=86_400, description="Seconds an approval waits before it is denied."
    )
    max_live_clients: int = Field(
        default=4, ge=1, le=64, description="Most Claude Code processes alive at once."
    )
    idle_timeout: float = Field(
        default=1800.0, gt=0, description="Seconds before an unused Claude Code process closes."
    )
    voice_agent_data_dir: Path = Field(
        default_factory=default_data_dir, description="Where the store and other data live."
    )
    session_storage_path: Path | None = Field(
        default=None,
        description="The session store (a .db file, or a legacy sessions.json to import).",
    )
    whisper_url: str | None = Field(
        default=None, description="A speech-to-text HTTP server (the reference's whisper-server)."
    )
    stt_backend: str = Field(
        default="auto",
        pattern="^(auto|local|http)$",
        description="local (embedded model), http (WHISPER_URL), or auto (http if WHISPER_URL).",
    )
    stt_model_dir: Path | None = Field(
        default=None, description="A CTranslate2 Whisper model directory (default: STT_MODEL)."
    )
    stt_model: str = Field(
        default="tiny.en",
        pattern=r"^(tiny\.en|base)$",
        description="The packaged model: tiny.en, or base (extra voice-agent[whisper-base]).",
    )
    stt_language: str = Field(
        default="en", description="Spoken language code, or auto to detect (multilingual models)."
    )
    stt_threads: int = Field(default=2, ge=1, le=64, description="CPU threads for the local model.")
    stt_protocol: str = Field(
        default="auto",
        pattern="^(auto|whispercpp|reference|openai)$",
        description="The HTTP server's protocol (auto: from the URL).",
    )
    stt_api_key: SecretStr | None = Field(default=None, description="Key for an HTTP backend.")
    stt_http_model: str = Field(
        default="whisper-1", description="Model name for OpenAI-compatible servers."
    )
    max_voice_seconds: float = Field(
        default=300.0, gt=0, description="Longest voice note accepted."
    )
    max_voice_mb: float = Field(
        default=20.0, gt=0, le=20, description="Largest audio file accepted (MB)."
    )
    low_confidence: float = Field(
        default=0.4, ge=0, le=1, description="Below this engine confidence, ask before sending."
    )
    voice_replies: bool = Field(
        default=False, description="Speak answers to voice notes (each chat can /voice on|off)."
    )
    daily_budget_usd: float = Field(
        default=0.0, ge=0, description="Per chat and UTC day; new turns stop once spent (0: none)."
    )
    turn_footer: bool = Field(
        default=True, description="End each answer with time, tokens, context and cost."
    )
    notify_after: float = Field(
        default=20.0,
        ge=0,
        description="Seconds a turn may take before its answer alerts (a quicker one is silent).",
    )
    timezone: str = Field(
        default="",
        description="IANA time zone of /schedule's times (Europe/Berlin); empty: the system's.",
    )
    stream_mode: str = Field(
        default="auto",
        pattern="^(auto|edit)$",
        description="auto: native drafts in private chats, edits elsewhere; edit: always edit.",
    )
    start_timeout: float = Field(
        default=60.0, gt=0, le=3600, description="Seconds a Claude Code process may take to start."
    )
    jail: str = Field(
        default="bwrap",
        pattern="^(bwrap|checker-only)$",
        description="bwrap: commands that run unasked run in a bubblewrap jail; checker-only: "
        "they run as you, trusting the checker alone (a knowing choice).",
    )
    jail_time_limit: float = Field(
        default=120.0, gt=0, le=3600, description="Seconds a jailed command may run."
    )
    jail_output_limit_mb: float = Field(
        default=4.0, gt=0, le=1024, description="Output (MB) a jailed command may print."
    )
    nats_url: str | None = Field(
        default=None,
        description="NATS server of several machines (nats://host:4222, tls://, ws://, wss://; "
        "one URL); unset: this machine alone, no NATS.",
    )
    machine_name: str = Field(
        default_factory=default_machine_name,
        pattern=MACHINE_NAME_PATTERN,
        description="This machine's name on NATS (default: the host name).",
    )
    serve_local: bool = Field(
        default=True, description="The hub also runs sessions on its own machine."
    )
    nats_user: str | None = Field(default=None, description="NATS user name of this machine.")
    nats_password: SecretStr | None = Field(default=None, description="Its NATS password.")
    nats_nkey_seed_file: Path | None = Field(
        default=None, description="An NKey seed file (instead of user and password)."
    )
    nats_tls_ca: Path | None = Field(
        default=None, description="CA certificate that signed the NATS server's (tls://)."
    )
    heartbeat_interval: float = Field(
        default=5.0, gt=0, le=300, description="Seconds between a worker's heartbeats."
    )
    heartbeat_timeout: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        description="Seconds without a heartbeat before a machine counts as offline.",
    )
    nats_request_timeout: float = Field(
        default=10.0, gt=0, le=300, description="Seconds a NATS request waits for its answer."
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_format: str = Field(
        default="text", pattern="^(text|json)$", description="text, or json: one object per line."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment, then ``.env``, then the TOML file."""
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return init_settings, env_settings, dotenv_settings, toml, file_secret_settings

    @field_validator("allowed_chat_ids", "allowed_user_ids", "approver_user_ids", mode="before")
    @classmethod
    def _id_list(cls, value: Any) -> Any:
        """Accept ``1,2,3``, ``[1, 2]`` (JSON or TOML) or a single number."""
        if isinstance(value, int):
            return frozenset({value})
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return frozenset(json.loads(text))
            return frozenset(
                int(part) for part in text.replace(";", ",").split(",") if part.strip()
            )
        return value

    @field_validator("projects", mode="before")
    @classmethod
    def _projects(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        name = value.strip()
        if name:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"{name!r} is not a known time zone (e.g. Europe/Berlin)") from exc
        return name

    def zone(self) -> tzinfo:
        """The time zone of scheduled prompts: ``TIMEZONE``, else the system's own."""
        return ZoneInfo(self.timezone) if self.timezone else tzlocal.get_localzone()

    @field_validator("nats_url")
    @classmethod
    def _nats_url(cls, value: str | None) -> str | None:
        """One ``nats://``, ``tls://``, ``ws://`` or ``wss://`` URL with a host; blank: unset."""
        if value is None or not value.strip():
            return None
        url = value.strip()
        shown = mask_url(url)  # the message is printed: never the password
        if "," in url:
            raise ValueError(
                f"{shown!r} is a list; give one server URL (nats://host:4222): "
                "voice-agent connects to one NATS server"
            )
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            parts, port = None, None
        if (
            parts is None
            or not url.startswith(tuple(f"{scheme}://" for scheme in NATS_SCHEMES))
            or not parts.hostname
            or any(c.isspace() for c in url)
            or port == 0
        ):
            raise ValueError(
                f"{shown!r} is not a NATS server URL: expected nats://host:4222 "
                "(or tls://, ws://, wss://)"
            )
        return url

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    @model_validator(mode="after")
    def _directories_exist(self) -> Settings:
        if not self.default_cwd.is_dir():
            raise ValueError(f"DEFAULT_CWD {self.default_cwd} is not a directory")
        for name, path in self.projects.items():
            if not path.is_dir():
                raise ValueError(f"PROJECTS: {name} -> {path} is not a directory")
        if self.heartbeat_timeout <= self.heartbeat_interval:
            raise ValueError("HEARTBEAT_TIMEOUT must be longer than HEARTBEAT_INTERVAL")
        if self.nats_user and self.nats_nkey_seed_file:
            raise ValueError("set NATS_USER/NATS_PASSWORD or NATS_NKEY_SEED_FILE, not both")
        return self

    def build_jail(self) -> Jail:
        """The jail for commands that run unasked (``JAIL``, ``JAIL_TIME_LIMIT``, …)."""
        return Jail(
            JailMode(self.jail),
            time_limit=self.jail_time_limit,
            output_limit=int(self.jail_output_limit_mb * 1024 * 1024),
        )

    def speech_settings(self) -> SpeechSettings:
        """The speech-to-text settings."""
        from voice_agent.speech.base import SpeechSettings

        backend = self.stt_backend
        if backend == "auto":
            backend = "http" if self.whisper_url else "local"
        return SpeechSettings(
            backend=backend,
            model_dir=str(self.stt_model_dir) if self.stt_model_dir else None,
            model=self.stt_model,
            cache_dir=str(self.voice_agent_data_dir / "models"),
            language=None if self.stt_language.lower() == "auto" else self.stt_language,
            threads=self.stt_threads,
            url=self.whisper_url,
            protocol=self.stt_protocol,
            api_key=self.stt_api_key.get_secret_value() if self.stt_api_key else None,
            http_model=self.stt_http_model,
            max_seconds=self.max_voice_seconds,
            max_bytes=int(self.max_voice_mb * 1024 * 1024),
        )

    @property
    def store_path(self) -> Path:
        """The session store file."""
        return self.session_storage_path or self.voice_agent_data_dir / "sessions.db"

    @property
    def shown_nats_url(self) -> str:
        """``NATS_URL`` as safe to print or log (its password masked); ``""`` when unset."""
        return mask_url(self.nats_url or "")


# What Claude Code reads from its environment, when found in .env instead.
_CLAUDE_PREFIXES = ("ANTHROPIC_", "CLAUDE_", "AWS_", "GOOGLE_", "VERTEX_", "MCP_", "DISABLE_")
_PROXY_NAMES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
# Our own secrets: Claude Code (and every command it runs) must not see them.
_OWN_SECRETS = ("TELEGRAM_BOT_TOKEN", "STT_API_KEY", "NATS_PASSWORD", "NATS_NKEY_SEED_FILE")


def claude_environment(dotenv_file: str | os.PathLike[str] = ".env") -> dict[str, str]:
    """Environment for the Claude Code CLI on top of the process environment.

    Claude Code inherits the process environment unchanged. Its variables written
    in ``.env`` instead (``ANTHROPIC_API_KEY``, ``CLAUDE_CODE_*``, proxies…) are added
    unless the environment already sets them, and voice-agent's own secrets (the bot
    token, the speech API key) are blanked so no command Claude runs can read them.

    Args:
        dotenv_file: The ``.env`` file voice-agent reads its settings from.
    """
    from dotenv import dotenv_values

    extra: dict[str, str] = {}
    if Path(dotenv_file).is_file():
        for name, value in dotenv_values(dotenv_file).items():
            wanted = name.startswith(_CLAUDE_PREFIXES) or name in _PROXY_NAMES
            if wanted and value is not None and name not in os.environ:
                extra[name] = value
    extra.update(dict.fromkeys(_OWN_SECRETS, ""))
    return extra


class SettingsError(Exception):
    """A setting is missing or wrong; the message names it and says what is expected."""


def _field_env_name(location: tuple[int | str, ...]) -> str:
    return str(location[0]).upper() if location else "settings"


def _utf8(path: Path) -> bool:
    """Whether ``path`` is missing or reads as UTF-8 text."""
    try:
        path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return False
    except OSError:
        return True
    return True


def load_settings(**overrides: Any) -> Settings:
    """Read the settings once.

    Args:
        **overrides: Values that win over every source (used by tests and the CLI).

    Returns:
        The frozen settings.

    Raises:
        SettingsError: A value is invalid; the message names the setting.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            location = error["loc"]
            problems.append(f"{_field_env_name(location)}: {message}" if location else message)
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"invalid settings file {config_file()}: {exc}") from None
    except UnicodeDecodeError as exc:
        where = ", ".join(str(p) for p in (Path(".env"), config_file()) if not _utf8(p))
        raise SettingsError(
            f"invalid settings: {where or 'a settings file'} is not UTF-8 text ({exc.reason})"
        ) from None
    except (ValueError, json.JSONDecodeError) as exc:
        raise SettingsError(f"invalid settings: {exc}") from None
