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
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

IdSet = Annotated[frozenset[int], NoDecode]


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
    stream_mode: str = Field(
        default="auto",
        pattern="^(auto|edit)$",
        description="auto: native drafts in private chats, edits elsewhere; edit: always edit.",
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
        return self

    @property
    def store_path(self) -> Path:
        """The session store file."""
        return self.session_storage_path or self.voice_agent_data_dir / "sessions.db"


class SettingsError(Exception):
    """A setting is missing or wrong; the message names it and says what is expected."""


def _field_env_name(location: tuple[int | str, ...]) -> str:
    return str(location[0]).upper() if location else "settings"


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
            name = _field_env_name(error["loc"])
            problems.append(f"{name}: {error['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None
    except (ValueError, json.JSONDecodeError) as exc:
        raise SettingsError(f"invalid settings: {exc}") from None
