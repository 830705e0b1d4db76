"""``voice-agent doctor``, ``sessions`` and ``audit`` on a real store."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from voice_agent.cli import main
from voice_agent.logs import JsonFormatter, RedactSecrets, chat_context
from voice_agent.sessions import SessionStorage, StoredSession
from voice_agent.sessions.records import AuditEntry


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


def _store(env: Path) -> SessionStorage:
    storage = SessionStorage(env / "data" / "sessions.db")
    storage.save_session(StoredSession(7, "main", "/code", "2026-11-01T10:00:00", 3, "abc-123"))
    storage.save_session(StoredSession(7, "api", "/code/api", "2026-11-02T10:00:00", 1))
    storage.sticky.add(7, "api", "Bash", "npm test(?: .*)?", "command", "Bash: npm test …")
    storage.topics.bind(7, 12, "api", "API work")
    storage.audit.record(
        AuditEntry(
            "Bash",
            "rm -rf build",
            "denied",
            chat_id=7,
            user_id=42,
            session_name="main",
            ts="2026-11-20T09:00:00+00:00",
        )
    )
    storage.audit.record(
        AuditEntry(
            "Read",
            "src/app.py",
            "auto",
            chat_id=8,
            session_name="main",
            ts="2026-11-25T09:00:00+00:00",
        )
    )
    return storage


def test_doctor_without_token_explains_and_fails(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-value-123456")
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "✗ Telegram token: TELEGRAM_BOT_TOKEN is not set → talk to @BotFather" in out
    assert "✓ Claude Code CLI: 2." in out
    assert "✓ Claude credentials: ANTHROPIC_API_KEY is set (value not shown)" in out
    assert "sk-ant-secret" not in out
    assert "! Access: no allowlist and no owner yet" in out
    assert "✓ Session store" in out
    assert "✓ Speech-to-text: local: model" in out
    assert "testing" in out.lower()
    assert "✓ Spoken replies: espeak-ng works" in out


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


def test_doctor_reports_missing_credentials(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(env / "empty-claude"))
    main(["doctor"])
    assert "✗ Claude credentials: no API key and no Claude login found" in capsys.readouterr().out


def test_sessions_list_show_export_delete(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _store(env).close()
    assert main(["sessions"]) == 0
    listing = capsys.readouterr().out
    assert "*main" in listing
    assert "abc-123" in listing
    assert "/code/api" in listing
    assert main(["sessions", "show", "7", "api"]) == 0
    shown = capsys.readouterr().out
    assert "Bash: npm test" in shown
    assert "working directory: /code/api" in shown
    assert "forum topic: 12 (API work)" in shown
    assert main(["sessions", "show", "7", "nope"]) == 1
    capsys.readouterr()
    assert main(["sessions", "export", "-o", str(env / "out.json")]) == 0
    exported = json.loads((env / "out.json").read_text())
    assert exported["7"]["active_session"] == "main"
    assert set(exported["7"]["sessions"]) == {"main", "api"}
    reimported = SessionStorage(env / "out.json")  # the export is a legacy sessions.json
    assert reimported.get_session(7, "api") is not None
    assert main(["sessions", "delete", "7", "api"]) == 1  # no terminal to confirm: nothing deleted
    assert main(["sessions", "delete", "7", "api", "--yes"]) == 0
    assert SessionStorage(env / "data" / "sessions.db").get_session(7, "api") is None


def test_audit_filters(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _store(env).close()
    assert main(["audit"]) == 0
    out = capsys.readouterr().out
    assert "denied by 42  Bash: rm -rf build" in out
    assert "auto  Read: src/app.py" in out
    main(["audit", "--chat", "7"])
    assert "src/app.py" not in capsys.readouterr().out
    main(["audit", "--since", "2026-11-21"])
    assert "rm -rf" not in capsys.readouterr().out
    main(["audit", "--until", "2026-11-20", "--json"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert [json.loads(line)["decision"] for line in lines] == ["denied"]
    with pytest.raises(SystemExit):
        main(["audit", "--since", "yesterday"])


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
