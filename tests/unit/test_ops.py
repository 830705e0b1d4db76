"""Pieces of ``voice-agent doctor`` and the store commands, in process.

The commands as a user runs them are in ``tests/e2e/test_console_commands.py``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from voice_agent.cli import main
from voice_agent.logs import JsonFormatter, RedactSecrets, chat_context
from voice_agent.ops.doctor import _auth, claude_cli


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOICE_AGENT_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("VOICE_AGENT_DATA_DIR", str(tmp_path / "data"))
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "ALLOWED_USER_IDS",
        "ALLOWED_CHAT_IDS",
        "SESSION_STORAGE_PATH",
    ):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


async def test_doctor_with_a_working_token(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from voice_agent.config import load_settings
    from voice_agent.ops.doctor import _get_me

    async with FakeTelegram(token=DEFAULT_TOKEN) as tg:
        settings = load_settings(
            telegram_bot_token=DEFAULT_TOKEN,
            telegram_api_base_url=tg.base_url,
            telegram_api_file_url=tg.base_file_url,
        )
        check = await _get_me(settings)
        assert (check.status, check.detail) == ("ok", "accepted: @fake_test_bot (id 123456789)")
        wrong = load_settings(
            telegram_bot_token="123456789:AAWrongTokenWrongTokenWrongTokenWrong",
            telegram_api_base_url=tg.base_url,
        )
        assert (await _get_me(wrong)).status == "fail"
    await asyncio.sleep(0)


def test_doctor_names_login_commands_the_bundled_cli_has(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(env / "empty-claude"))
    check = _auth()
    assert (check.status, check.detail) == ("fail", "no API key and no Claude login found")
    cli, _ = claude_cli()
    assert cli is not None
    commands = re.findall(rf"`{re.escape(cli)} ([a-z -]+)`", check.fix)
    assert commands == ["auth login", "setup-token"]
    assert "CLAUDE_CODE_OAUTH_TOKEN" in check.fix  # where setup-token's token goes
    for command in commands:  # each is a command of this CLI, not a prompt for it
        shown = subprocess.run(
            [cli, *command.split(), "--help"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
            env={**os.environ, "HOME": str(env)},
        ).stdout
        assert f"Usage: claude {command} [options]" in shown
    not_a_command = subprocess.run(
        [cli, "login", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "HOME": str(env)},
    ).stdout
    assert "Usage: claude login" not in not_a_command  # the old advice


def test_json_log_lines_carry_context_and_no_secrets() -> None:
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token %s used", (token,), None)
    chat_context.set(7)
    RedactSecrets([token]).filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "token [redacted] used"
    assert line["chat"] == 7
    assert line["level"] == "INFO"


def test_upgrade_from_reference_sessions_json(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    legacy = env / "old" / "sessions.json"
    legacy.parent.mkdir()
    legacy.write_text(
        json.dumps(
            {
                "55": {
                    "chat_id": 55,
                    "cwd": "/code/old",
                    "created_at": "2025-05-01T10:00:00",
                    "message_count": 12,
                    "claude_session_id": "old-session",
                }
            }
        )
    )
    monkeypatch.setenv("SESSION_STORAGE_PATH", str(legacy))
    assert main(["sessions"]) == 0
    assert "old-session" in capsys.readouterr().out
    assert (env / "old" / "sessions.json.imported").exists()
    assert (env / "old" / "sessions.db").exists()
    assert main(["sessions"]) == 0  # the same setting now opens the database
    assert "old-session" in capsys.readouterr().out


def test_deployment_files() -> None:
    root = Path(__file__).resolve().parents[2] / "deploy"
    unit = (root / "voice-agent.service").read_text()
    for option in (
        "ExecStart=%h/.local/bin/voice-agent run",
        "NoNewPrivileges=true",
        "ProtectSystem=full",
        "PrivateTmp=true",
        "KillSignal=SIGINT",
    ):
        assert option in unit
    container = (root / "Containerfile").read_text()
    assert 'CMD ["voice-agent", "run"]' in container
    assert "USER agent" in container
