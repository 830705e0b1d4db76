"""``voice-agent doctor``: checks what the bot needs, one line each, with the fix.

The exit status is 1 when something required is missing (token refused, no
Claude Code CLI, no Claude credentials, data directory not writable, store
unusable), else 0. Secrets are never printed: every line goes out with the configured
secrets redacted and URLs' passwords masked (a server's error may echo them).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from voice_agent.config import Settings
from voice_agent.logs import settings_secrets
from voice_agent.policy.jail import JailMode
from voice_agent.redaction import mask_url, redact
from voice_agent.sessions import SessionStorage
from voice_agent.store.database import Database, StorageError
from voice_agent.store.machines_table import MachinesTable

TELEGRAM_TIMEOUT = 15.0


@dataclass(frozen=True)
class Check:
    """The outcome of one check.

    Attributes:
        name: What was checked.
        status: ``ok``, ``warn``, ``fail`` or ``skip``.
        detail: What was found.
        fix: What to do about it (for ``warn`` and ``fail``).
    """

    name: str
    status: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        """The check as one line for the terminal."""
        mark = {"ok": "✓", "warn": "!", "fail": "✗", "skip": "–"}[self.status]
        fix = f" → {self.fix}" if self.fix and self.status in ("warn", "fail") else ""
        return f"{mark} {self.name}: {self.detail}{fix}"


async def _get_me(settings: Settings) -> Check:
    from telegram import Bot
    from telegram.error import InvalidToken, NetworkError, TelegramError

    if settings.telegram_bot_token is None:
        return Check(
            "Telegram token",
            "fail",
            "TELEGRAM_BOT_TOKEN is not set",
            "talk to @BotFather in Telegram, send /newbot, and put the token in "
            "TELEGRAM_BOT_TOKEN (environment or .env)",
        )
    bot = Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.telegram_api_file_url,
    )
    try:
        async with asyncio.timeout(TELEGRAM_TIMEOUT):
            async with bot:  # initialising asks getMe once and keeps the answer
                me = bot.bot
    except InvalidToken:
        return Check(
            "Telegram token",
            "fail",
            "the Bot API refused the token",
            "copy it again from @BotFather",
        )
    except (NetworkError, TimeoutError, OSError) as error:
        return Check(
            "Telegram token",
            "fail",
            f"cannot reach {mask_url(settings.telegram_api_base_url)} ({type(error).__name__})",
            "check the network, or TELEGRAM_API_BASE_URL for a self-hosted Bot API server",
        )
    except TelegramError as error:
        return Check("Telegram token", "fail", f"getMe failed: {error}", "see the Bot API message")
    return Check("Telegram token", "ok", f"accepted: @{me.username} (id {me.id})")


def _access(settings: Settings, owners: list[int] | None) -> Check:
    users, chats = settings.allowed_user_ids, settings.allowed_chat_ids
    if users or chats:
        return Check("Access", "ok", f"allowlist: {len(users)} user(s), {len(chats)} chat(s)")
    if owners:
        return Check("Access", "ok", f"paired owner(s): {', '.join(map(str, owners))}")
    return Check(
        "Access",
        "warn",
        "no allowlist and no owner yet: the bot starts in pairing mode",
        "run `voice-agent run` and send the printed /pair CODE to your bot, or set "
        "ALLOWED_USER_IDS",
    )


def claude_cli() -> tuple[str | None, str]:
    """The Claude Code CLI that will run, and where it comes from."""
    import claude_agent_sdk

    bundled = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
    if bundled.is_file():
        return str(bundled), "bundled with claude-agent-sdk"
    found = shutil.which("claude")
    return found, "from PATH"


def _cli() -> Check:
    path, origin = claude_cli()
    if path is None:
        return Check(
            "Claude Code CLI",
            "fail",
            "not found",
            "reinstall voice-agent (the SDK bundles the CLI) or install Claude Code",
        )
    try:
        result = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return Check("Claude Code CLI", "fail", f"{path} does not run: {error}", "reinstall it")
    version = (result.stdout or result.stderr).strip().splitlines()[:1]
    if result.returncode != 0:
        return Check("Claude Code CLI", "fail", f"{path} exited {result.returncode}", "reinstall")
    return Check("Claude Code CLI", "ok", f"{version[0] if version else '?'} ({origin})")


def _auth() -> Check:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"):
        if os.environ.get(name):
            return Check("Claude credentials", "ok", f"{name} is set (value not shown)")
    for name in ("CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_USE_FOUNDRY"):
        if os.environ.get(name):
            return Check("Claude credentials", "ok", f"{name} is set (cloud provider)")
    config = Path(os.environ.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude")
    if (config / ".credentials.json").is_file():
        return Check("Claude credentials", "ok", f"logged in ({config}/.credentials.json)")
    cli = claude_cli()[0] or "claude"
    return Check(
        "Claude credentials",
        "fail",
        "no API key and no Claude login found",
        f"set ANTHROPIC_API_KEY, or run `{cli} auth login` once, or `{cli} setup-token` "
        "(a long-lived token, with a Claude subscription) and put the token it prints in "
        "CLAUDE_CODE_OAUTH_TOKEN",
    )


def _jail(settings: Settings) -> Check:
    jail = settings.build_jail()
    if jail.mode is JailMode.CHECKER_ONLY:
        return Check(
            "Jail",
            "warn",
            "JAIL=checker-only: commands that run without asking run as you, unconfined",
            "install bubblewrap and unset JAIL to contain them",
        )
    if jail.problem is not None:
        return Check(
            "Jail",
            "warn",
            f"{jail.problem}; until then only commands that touch no file run without asking",
            "apt install bubblewrap (or set JAIL=checker-only knowingly)",
        )
    with tempfile.TemporaryDirectory() as scratch:
        probe = Path(scratch) / "written-from-the-jail"
        command = jail.wrap(f"touch {probe.name}", scratch)
        ran = subprocess.run(
            ["bash", "-c", command or "false"], capture_output=True, timeout=30, check=False
        )
        if command is None or probe.exists() or ran.returncode == 0:
            return Check("Jail", "fail", "a jailed command could write its directory", "report it")
    return Check("Jail", "ok", "bubblewrap contains commands that run without asking")


def _data_dir(settings: Settings) -> Check:
    directory = settings.store_path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory):
            pass
    except OSError as error:
        return Check(
            "Data directory",
            "fail",
            f"{directory} is not writable ({error.strerror})",
            "fix its permissions or set VOICE_AGENT_DATA_DIR",
        )
    return Check("Data directory", "ok", f"{directory} is writable")


def _store(settings: Settings) -> tuple[Check, list[int] | None]:
    storage: SessionStorage | None = None
    try:
        storage = SessionStorage(settings.store_path)
        chats = storage.list_all_chats()
        sessions = sum(len(storage.list_sessions(chat)) for chat in chats)
        owners = storage.owners.list()
        detail = (
            f"{storage.db_path}: schema {storage.schema_version}, "
            f"{sessions} session(s) in {len(chats)} chat(s)"
        )
    except StorageError as error:  # the reason names the cause, the fix matches it
        fix = error.fix or "check the disk and the file, then retry"
        return Check("Session store", "fail", error.reason, fix), None
    finally:
        if storage is not None:
            storage.close()
    if storage.moved_aside:
        moved = ", ".join(str(p) for p in storage.moved_aside)
        return Check(
            "Session store", "warn", f"{detail}; moved aside: {moved}", "inspect them"
        ), owners
    return Check("Session store", "ok", detail), owners


SAMPLE = Path(__file__).resolve().parent.parent / "speech" / "sample.ogg"
SAMPLE_WORDS = (("testing",), ("three", "3"))


async def _hear_sample(settings: Settings) -> Check:
    import time

    from voice_agent.speech import registry
    from voice_agent.speech.base import SpeechError
    from voice_agent.speech.local import LocalWhisper

    speech = settings.speech_settings()
    try:
        engine = registry.create(speech)
        loaded = ""
        if isinstance(engine, LocalWhisper):
            took = await engine.load()
            loaded = f"model {engine.model_name} ({engine.model_dir}) loaded in {took:.2f} s; "
        start = time.perf_counter()
        transcript = await engine.transcribe(SAMPLE.read_bytes(), "audio/ogg")
    except (SpeechError, OSError) as error:
        where = "STT_MODEL / STT_MODEL_DIR" if speech.backend == "local" else "WHISPER_URL"
        return Check("Speech-to-text", "fail", f"{speech.backend}: {error}", f"check {where}")
    took = time.perf_counter() - start
    heard = transcript.text.lower()
    if not all(any(word in heard for word in choices) for choices in SAMPLE_WORDS):
        return Check(
            "Speech-to-text",
            "warn",
            f"{speech.backend}: the sample came out as “{transcript.text}”",
            "try a larger model (STT_MODEL_DIR) or check STT_LANGUAGE",
        )
    return Check(
        "Speech-to-text",
        "ok",
        f"{speech.backend}: {loaded}heard “{transcript.text}” in {took:.2f} s",
    )


async def _speak_sample() -> Check:
    from voice_agent.speech.tts import EspeakTTS

    tts = EspeakTTS()
    if not tts.available():
        return Check(
            "Spoken replies",
            "skip",
            "espeak-ng is not installed (optional: spoken replies with /voice on, and"
            " misheard words matched by their sound): apt install espeak-ng",
        )
    try:
        audio = await tts.synthesize("voice agent is ready")
    except Exception as error:  # optional feature: report, never fail the run
        return Check("Spoken replies", "warn", f"espeak-ng failed: {error}", "reinstall espeak-ng")
    return Check("Spoken replies", "ok", f"espeak-ng works ({len(audio)} bytes of OGG/Opus)")


def run_checks(settings: Settings) -> list[Check]:
    """Every check, in the order they are shown.

    Args:
        settings: The settings to check.
    """
    store, owners = _store(settings)
    steps: list[Callable[[], Check]] = [
        lambda: asyncio.run(_get_me(settings)),
        lambda: _access(settings, owners),
        _cli,
        _auth,
        lambda: _jail(settings),
        lambda: _data_dir(settings),
        lambda: store,
        lambda: asyncio.run(_hear_sample(settings)),
        lambda: asyncio.run(_speak_sample()),
    ]
    if settings.nats_url:
        steps.append(lambda: _machines(settings))
    return [step() for step in steps]


def _machines(settings: Settings) -> Check:
    """NATS: the hub's (with a bot token) or this worker's connection and permissions."""
    from voice_agent.machines import probe  # nats-py is imported only with NATS_URL set

    if settings.telegram_bot_token is None:
        result = asyncio.run(probe.probe_worker(settings))
        return Check(
            f"NATS (worker {settings.machine_name})", result.status, result.detail, result.fix
        )
    machines: list[str] = []
    if settings.store_path.exists():
        database = Database(settings.store_path)
        try:
            machines = MachinesTable(database).machines()
        finally:
            database.close()
    result = asyncio.run(probe.probe_hub(settings, machines))
    return Check("NATS (hub)", result.status, result.detail, result.fix)


def doctor(settings: Settings, print_line: Callable[[str], None] = print) -> int:
    """Run the checks and print one line each.

    Args:
        settings: The settings to check.
        print_line: Where lines go.

    Returns:
        1 when something required failed, else 0.
    """
    checks = run_checks(settings)
    secrets = settings_secrets(settings)
    for check in checks:  # what was found may quote a server: no secret in it, ever
        shown = replace(check, detail=redact(check.detail, secrets), fix=redact(check.fix, secrets))
        print_line(shown.line())
    failed = [c for c in checks if c.status == "fail"]
    print_line(f"{len(failed)} problem(s) found." if failed else "All required checks passed.")
    return 1 if failed else 0
