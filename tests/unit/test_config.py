"""Settings: environment, .env and TOML; bad values stop start-up naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
import tzlocal

from voice_agent.config import SettingsError, load_settings


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No real config file, .env or variables leak in."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOICE_AGENT_CONFIG", str(tmp_path / "none.toml"))
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "ALLOWED_CHAT_IDS",
        "ALLOWED_USER_IDS",
        "DEFAULT_CWD",
        "PROJECTS",
        "PERMISSION_TIMEOUT",
        "MAX_LIVE_CLIENTS",
        "SESSION_STORAGE_PATH",
        "VOICE_AGENT_DATA_DIR",
        "WHISPER_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_environment_names(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("ALLOWED_CHAT_IDS", "1, 2,-1003")
    monkeypatch.setenv("ALLOWED_USER_IDS", "42")
    monkeypatch.setenv("DEFAULT_CWD", str(isolated))
    monkeypatch.setenv("PROJECTS", f'{{"api": "{isolated}"}}')
    monkeypatch.setenv("PERMISSION_TIMEOUT", "60")
    monkeypatch.setenv("MAX_LIVE_CLIENTS", "2")
    monkeypatch.setenv("SESSION_STORAGE_PATH", str(isolated / "sessions.json"))
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:8081/bot")
    settings = load_settings()
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value() == "123:abc"
    assert "123:abc" not in repr(settings)
    assert settings.allowed_chat_ids == {1, 2, -1003}
    assert settings.allowed_user_ids == {42}
    assert settings.projects == {"api": isolated}
    assert (settings.permission_timeout, settings.max_live_clients) == (60, 2)
    assert settings.store_path == isolated / "sessions.json"
    assert settings.telegram_api_base_url == "http://127.0.0.1:8081/bot"


def test_dotenv_and_toml(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (isolated / ".env").write_text("ALLOWED_USER_IDS=7,8\n")
    toml = isolated / "config.toml"
    toml.write_text("allowed_user_ids = [1]\nallowed_chat_ids = [5]\npermission_timeout = 30\n")
    monkeypatch.setenv("VOICE_AGENT_CONFIG", str(toml))
    settings = load_settings()
    assert settings.allowed_user_ids == {7, 8}  # .env wins over the TOML file
    assert settings.allowed_chat_ids == {5}
    assert settings.permission_timeout == 30


def test_defaults(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(isolated / "data"))
    settings = load_settings()
    assert settings.telegram_bot_token is None
    assert settings.allowed_chat_ids == frozenset()
    assert settings.max_live_clients == 4
    assert settings.store_path == isolated / "data" / "voice-agent" / "sessions.db"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ALLOWED_CHAT_IDS", "12,abc"),
        ("PERMISSION_TIMEOUT", "soon"),
        ("MAX_LIVE_CLIENTS", "0"),
        ("PROJECTS", "{not json"),
        ("DEFAULT_CWD", "/no/such/directory"),
        ("LOG_LEVEL", "LOUD"),
        ("TIMEZONE", "Mars/Olympus_Mons"),
    ],
)
def test_bad_setting_names_itself(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()


def test_claude_environment_takes_claude_names_from_dotenv_and_hides_our_secrets(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voice_agent.config import claude_environment

    (isolated / ".env").write_text(
        "ANTHROPIC_API_KEY=from-dotenv\nCLAUDE_CODE_USE_BEDROCK=1\n"
        "TELEGRAM_BOT_TOKEN=123:abc\nUNRELATED=1\nANTHROPIC_BASE_URL=http://dotenv\n"
    )
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://from-env")  # the environment wins
    env = claude_environment(isolated / ".env")
    assert env["ANTHROPIC_API_KEY"] == "from-dotenv"
    assert env["CLAUDE_CODE_USE_BEDROCK"] == "1"
    assert "ANTHROPIC_BASE_URL" not in env
    assert "UNRELATED" not in env
    assert env["TELEGRAM_BOT_TOKEN"] == ""
    assert env["STT_API_KEY"] == ""


def test_timezone_is_the_machines_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIMEZONE", raising=False)
    assert load_settings().zone() == tzlocal.get_localzone()
    monkeypatch.setenv("TIMEZONE", "Europe/Berlin")
    assert str(load_settings().zone()) == "Europe/Berlin"
