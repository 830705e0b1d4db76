"""Every ``voice-agent`` subcommand as a user runs it: the installed script, in a subprocess.

``chat`` runs on a real pseudo-terminal against the real Claude Code CLI and the
scripted model; ``doctor`` against the fake Bot API; ``sessions`` and ``audit``
against a store file the test made. ``run`` (and no command, which is ``run``) is
in ``test_cli_run.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
from contextlib import closing
from pathlib import Path

import psutil
import pytest

import voice_agent
from tests.e2e.conftest import TURN_TIMEOUT, CliHarness
from tests.e2e.console import VOICE_AGENT, Finished, Terminal, run, run_module, user_env
from tests.fakes.anthropic import Reply
from tests.fakes.telegram import FakeTelegram
from voice_agent.sessions import SessionStorage, StoredSession
from voice_agent.store.records import AuditEntry
from voice_agent.terminal.approvals import PROMPT as ALLOW
from voice_agent.terminal.chat import PROMPT

pytestmark = pytest.mark.e2e

CHAT = 7


# -- chat ------------------------------------------------------------------------


def test_chat_streams_asks_and_writes_only_what_was_allowed(
    harness: CliHarness, tmp_path: Path
) -> None:
    release = threading.Event()
    allowed, refused = harness.workdir / "hello.txt", harness.workdir / "nope.txt"
    harness.fake.enqueue(
        Reply.text("Streaming, part one. And part two.", chunk_size=10, hang=release),
        Reply.tool_use("Write", {"file_path": str(allowed), "content": "line one\nline two\n"}),
        Reply.text("Wrote it."),
        Reply.tool_use("Write", {"file_path": str(refused), "content": "x"}),
        Reply.text("OK, I won't."),
    )
    clis: list[psutil.Process] = []
    try:
        with Terminal(["chat"], user_env(tmp_path, harness=harness), tmp_path) as chat:
            assert f"in {harness.workdir}" in chat.expect(PROMPT)
            chat.type("say something")
            chat.expect("Streaming,")  # the first delta, while the model still writes
            assert "part two" not in chat.since_mark()
            release.set()
            assert "And part two." in chat.expect(PROMPT)
            clis = chat.descendants()
            assert clis, "no Claude Code process ran the turn"

            chat.type("write hello.txt")
            shown = chat.expect(ALLOW)
            assert f"Write file: {allowed}" in shown
            assert "│ line one\n" in shown
            assert not allowed.exists()
            chat.type("y")
            out = chat.expect(PROMPT)
            assert "✓ allowed" in out
            assert "Wrote it." in out

            chat.type("write nope.txt")
            assert f"Write file: {refused}" in chat.expect(ALLOW)
            chat.type("n")
            out = chat.expect(PROMPT)
            assert "✗ denied" in out
            assert "OK, I won't." in out

            chat.press("\x04")  # Ctrl-D at the prompt
            assert chat.wait() == 0, chat.stderr
    finally:
        release.set()
    assert allowed.read_text() == "line one\nline two\n"
    assert not refused.exists()
    (result,) = harness.fake.main_requests[-1].tool_results()
    assert result.is_error
    assert [r.last_user_text() for r in harness.fake.main_requests if r.last_user_text()] == [
        "say something",
        "write hello.txt",
        "write nope.txt",
    ]
    _, alive = psutil.wait_procs(clis, timeout=TURN_TIMEOUT)
    assert alive == [], "Claude Code outlived the chat"
    with closing(SessionStorage(tmp_path / "data" / "sessions.db")) as storage:
        assert storage.get_session(0, "main") is not None  # the terminal's chat, in the store


def test_chat_keeps_its_log_off_the_screen(harness: CliHarness, tmp_path: Path) -> None:
    # stderr is the chat's screen on a real terminal: only warnings and errors go there;
    # the rest of the log goes to the data folder's chat.log, readable by its owner only.
    harness.fake.enqueue(Reply.text("Hello there."))
    with Terminal(["chat"], user_env(tmp_path, harness=harness), tmp_path) as chat:
        chat.expect(PROMPT)
        chat.type("say hello")
        assert "Hello there." in chat.expect(PROMPT)
        chat.press("\x04")
        assert chat.wait() == 0, chat.stderr
        screen_log = chat.stderr
    assert " INFO " not in screen_log, screen_log
    log = tmp_path / "data" / "chat.log"
    assert " INFO " in log.read_text()
    assert log.stat().st_mode & 0o077 == 0


def test_chat_quit_leaves_with_status_0(harness: CliHarness, tmp_path: Path) -> None:
    with Terminal(
        ["chat", "--session", "scratch", "--cwd", str(tmp_path)],
        user_env(tmp_path, harness=harness),
        tmp_path,
    ) as chat:
        assert f"Session scratch in {tmp_path}" in chat.expect(PROMPT)
        chat.type("/quit")
        assert chat.wait() == 0, chat.stderr
    assert harness.fake.main_requests == []


async def test_chat_with_a_missing_directory_says_so(tmp_path: Path) -> None:
    done = await run(["chat", "--cwd", str(tmp_path / "nowhere")], user_env(tmp_path), tmp_path)
    assert done.status == 2
    assert "not a directory" in done.err


# -- doctor ----------------------------------------------------------------------


async def test_doctor_without_token_or_credentials_prints_every_check_and_fails(
    tmp_path: Path,
) -> None:
    env = user_env(tmp_path)
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"):
        env.pop(name, None)
    env.pop("CLAUDE_CONFIG_DIR", None)  # the CLI's own login would be under the new HOME
    done = await run(["doctor"], env, tmp_path)
    assert done.status == 1, done.err
    lines = done.out.splitlines()
    assert lines[0].startswith(
        "✗ Telegram token: TELEGRAM_BOT_TOKEN is not set → talk to @BotFather"
    )
    assert "! Access: no allowlist and no owner yet" in done.out
    assert "✓ Claude Code CLI: 2." in done.out
    (credentials,) = [line for line in lines if "Claude credentials" in line]
    assert credentials.startswith("✗ Claude credentials: no API key and no Claude login found")
    assert " auth login` once" in credentials  # `claude login` is no command of the CLI
    assert " setup-token` " in credentials
    assert "✓ Session store" in done.out
    assert "✓ Speech-to-text: local: model" in done.out
    assert lines[-1] == "2 problem(s) found."


async def test_doctor_with_a_working_token_passes(harness: CliHarness, tmp_path: Path) -> None:
    async with FakeTelegram() as tg:
        env = user_env(tmp_path, harness=harness, tg=tg, ALLOWED_USER_IDS="1001")
        done = await run(["doctor"], env, tmp_path)
        assert [call.method for call in tg.calls()].count("getMe") == 1
    assert done.status == 0, done.out + done.err
    assert "✓ Telegram token: accepted: @fake_test_bot (id 123456789)" in done.out
    assert "✓ Access: allowlist: 1 user(s), 0 chat(s)" in done.out
    assert "✓ Claude credentials: ANTHROPIC_API_KEY is set (value not shown)" in done.out
    assert env["ANTHROPIC_API_KEY"] not in done.out + done.err
    assert env["TELEGRAM_BOT_TOKEN"].split(":")[1] not in done.out + done.err
    assert done.out.splitlines()[-1] == "All required checks passed."


# -- sessions and audit ------------------------------------------------------------


def _store(tmp_path: Path) -> Path:
    """A store like the bot leaves it: two sessions, a sticky rule, a topic, decisions."""
    path = tmp_path / "data" / "sessions.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    storage = SessionStorage(path)
    storage.save_session(StoredSession(CHAT, "main", "/code", "2026-11-01T10:00:00", 3, "abc-123"))
    storage.save_session(StoredSession(CHAT, "api", "/code/api", "2026-11-02T10:00:00", 1))
    storage.set_active_session(CHAT, "main")
    storage.sticky.add(CHAT, "api", "Bash", "npm test(?: .*)?", "command", "Bash: npm test …")
    storage.topics.bind(CHAT, 12, "api", "API work")
    storage.save_session(StoredSession(8, "main", "/other", "2026-11-03T10:00:00", 0))
    for tool, summary, decision, chat, user, ts in (
        ("Bash", "rm -rf build", "denied", CHAT, 42, "2026-11-20T09:00:00+00:00"),
        ("Read", "src/app.py", "auto", 8, None, "2026-11-25T09:00:00+00:00"),
        ("Write", "notes.md", "approved", CHAT, 42, "2026-11-26T09:00:00+00:00"),
    ):
        storage.audit.record(
            AuditEntry(
                tool, summary, decision, chat_id=chat, user_id=user, session_name="main", ts=ts
            )
        )
    storage.close()
    return path


async def _all(tmp_path: Path, *commands: list[str]) -> list[Finished]:
    env = user_env(tmp_path)
    return list(await asyncio.gather(*(run(args, env, tmp_path) for args in commands)))


async def test_sessions_list_and_show(tmp_path: Path) -> None:
    _store(tmp_path)
    listing, only_8, show, missing = await _all(
        tmp_path,
        ["sessions"],
        ["sessions", "list", "--chat", "8"],
        ["sessions", "show", str(CHAT), "api"],
        ["sessions", "show", str(CHAT), "nope"],
    )
    assert listing.status == 0, listing.err
    assert "*main" in listing.out
    assert "abc-123" in listing.out
    assert "/code/api" in listing.out
    assert "/other" in listing.out
    assert only_8.status == 0
    assert "/other" in only_8.out
    assert "/code" not in only_8.out
    assert show.status == 0, show.err
    assert "Session api in chat 7\n" in show.out
    assert "working directory: /code/api" in show.out
    assert "#1 Bash: npm test" in show.out
    assert "forum topic: 12 (API work)" in show.out
    assert missing.status == 1
    assert "No session 'nope' in chat 7." in missing.out


async def test_sessions_export_imports_again(tmp_path: Path) -> None:
    _store(tmp_path)
    written, printed = await _all(
        tmp_path,
        ["sessions", "export", "-o", str(tmp_path / "out.json")],
        ["sessions", "export", "--chat", "8"],
    )
    assert written.status == 0, written.err
    assert written.out == f"Wrote 2 chat(s) to {tmp_path / 'out.json'}.\n"
    exported = json.loads((tmp_path / "out.json").read_text())
    assert exported["7"]["active_session"] == "main"
    assert set(exported["7"]["sessions"]) == {"main", "api"}
    with closing(SessionStorage(tmp_path / "out.json")) as again:  # a reference sessions.json
        assert again.get_session(CHAT, "api") is not None
    assert printed.status == 0
    assert set(json.loads(printed.out)) == {"8"}


async def test_sessions_delete_asks_first(tmp_path: Path) -> None:
    store = _store(tmp_path)
    (unasked,) = await _all(tmp_path, ["sessions", "delete", str(CHAT), "api"])
    assert unasked.status == 1  # no terminal to ask at: nothing deleted
    assert "Nothing deleted." in unasked.out
    with Terminal(["sessions", "delete", str(CHAT), "api"], user_env(tmp_path), tmp_path) as term:
        term.expect("Delete session 'api' of chat 7? [y/N] ")
        term.type("n")
        assert term.wait() == 1
        assert "Nothing deleted." in term.since_mark()
    with closing(SessionStorage(store)) as storage:
        assert storage.get_session(CHAT, "api") is not None
    with Terminal(["sessions", "delete", str(CHAT), "api"], user_env(tmp_path), tmp_path) as term:
        term.expect("[y/N] ")
        term.type("y")
        assert term.wait() == 0
        assert "Deleted session 'api' of chat 7" in term.since_mark()
    (forced, missing) = await _all(
        tmp_path,
        ["sessions", "delete", str(CHAT), "main", "--yes"],
        ["sessions", "delete", "9", "x"],
    )
    assert forced.status == 0
    assert missing.status == 1
    assert "No session 'x' in chat 9." in missing.out
    with closing(SessionStorage(store)) as storage:
        assert storage.list_sessions(CHAT) == []
        assert storage.get_session(8, "main") is not None


async def test_audit_and_its_filters(tmp_path: Path) -> None:
    _store(tmp_path)
    everything, chat_7_since, until_json, limit, bad = await _all(
        tmp_path,
        ["audit"],
        ["audit", "--chat", "7", "--since", "2026-11-21"],
        ["audit", "--until", "2026-11-20", "--json"],
        ["audit", "--limit", "1"],
        ["audit", "--since", "yesterday"],
    )
    assert everything.status == 0, everything.err
    assert everything.out.splitlines() == [
        "2026-11-20 09:00:00  chat 7 main  denied by 42  Bash: rm -rf build",
        "2026-11-25 09:00:00  chat 8 main  auto  Read: src/app.py",
        "2026-11-26 09:00:00  chat 7 main  approved by 42  Write: notes.md",
    ]
    assert chat_7_since.out.splitlines() == [everything.out.splitlines()[2]]
    entries = [json.loads(line) for line in until_json.out.splitlines()]
    assert [(e["decision"], e["tool_name"], e["user_id"]) for e in entries] == [
        ("denied", "Bash", 42)
    ]
    assert limit.out.splitlines() == [everything.out.splitlines()[-1]]  # the newest
    assert bad.status == 2
    assert "'yesterday' is not a date like 2026-11-26" in bad.err


async def test_a_broken_settings_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text('stt_language = "en\n')  # an unterminated string
    env = {**user_env(tmp_path), "VOICE_AGENT_CONFIG": str(config)}
    toml = await run(["doctor"], env, tmp_path)
    assert toml.status == 2
    assert f"invalid settings file {config}:" in toml.err
    assert "Traceback" not in toml.err
    (tmp_path / ".env").write_bytes(b"LOG_LEVEL=\xff\xfe\n")  # not UTF-8
    dotenv = await run(["doctor"], user_env(tmp_path), tmp_path)
    assert dotenv.status == 2
    assert ".env is not UTF-8 text" in dotenv.err


async def test_an_empty_store_says_so(tmp_path: Path) -> None:
    sessions, audit = await _all(tmp_path, ["sessions", "list"], ["audit"])
    assert (sessions.status, sessions.out) == (0, "No sessions stored.\n"), sessions.err
    assert (audit.status, audit.out) == (0, "No decisions logged.\n"), audit.err


async def test_a_broken_store_is_reported_not_replaced(tmp_path: Path) -> None:
    store = tmp_path / "data" / "sessions.db"
    store.parent.mkdir(parents=True)
    broken = b"this is not a database" * 100
    store.write_bytes(broken)
    (done,) = await _all(tmp_path, ["sessions"])
    assert (done.status, done.out) == (0, "No sessions stored.\n")
    assert "is unusable" in done.err
    (kept,) = store.parent.glob("sessions.db.corrupt-*")
    assert kept.read_bytes() == broken


def _damaged_store(tmp_path: Path) -> tuple[Path, bytes]:
    """A store of 300 sessions and 300 audit rows whose header is fine but whose middle is not.

    Returns:
        The file and its damaged bytes.
    """
    store = tmp_path / "data" / "sessions.db"
    with closing(SessionStorage(store)) as storage:
        storage.save_sessions(
            StoredSession(CHAT, f"s{i}", "/code/" + "x" * 200, "2026-11-01T10:00:00", i, f"id-{i}")
            for i in range(300)
        )
        for _ in range(300):
            storage.audit.record(
                AuditEntry("Bash", "echo " + "y" * 300, "denied", chat_id=CHAT, user_id=42)
            )
    data = bytearray(store.read_bytes())
    for page in range(8):  # eight pages a third of the way in, the first pages untouched
        at = len(data) // 3 + page * 4096 + 100
        data[at : at + 2000] = b"\xaa" * 2000
    store.write_bytes(bytes(data))
    return store, bytes(data)


def _kept_aside(store: Path, damaged: bytes) -> None:
    (kept,) = store.parent.glob("sessions.db.corrupt-*")
    assert kept.read_bytes() == damaged  # not a byte of it lost
    assert store.read_bytes() != damaged  # and a fresh store in its place


@pytest.mark.parametrize(
    ("args", "out"),
    [
        (["sessions"], "No sessions stored.\n"),
        (["audit"], "No decisions logged.\n"),
        (["chat"], None),  # no input: it starts and leaves at once
    ],
)
async def test_a_store_damaged_past_its_header_is_moved_aside_not_a_traceback(
    tmp_path: Path, args: list[str], out: str | None
) -> None:
    store, damaged = _damaged_store(tmp_path)
    done = await run(args, user_env(tmp_path), tmp_path)
    assert "Traceback" not in done.err + done.out
    assert done.status == 0, done.err
    if out is not None:
        assert done.out == out
    (said,) = [line for line in done.err.splitlines() if "moved it aside" in line]
    assert f"store file {store} is unusable (database disk image is malformed" in said
    _kept_aside(store, damaged)


async def test_doctor_reports_a_store_damaged_past_its_header(tmp_path: Path) -> None:
    store, damaged = _damaged_store(tmp_path)
    done = await run(["doctor"], user_env(tmp_path), tmp_path)
    assert "Traceback" not in done.err + done.out
    (line,) = [line for line in done.out.splitlines() if "Session store" in line]
    assert line.startswith(f"! Session store: {store}: schema ")
    assert "; moved aside: " in line
    _kept_aside(store, damaged)


async def test_a_directory_in_place_of_the_store_is_named(tmp_path: Path) -> None:
    store = tmp_path / "data" / "sessions.db"
    store.mkdir(parents=True)
    (store / "keep.txt").write_text("mine")
    sessions, chat, doctor = await _all(tmp_path, ["sessions"], ["chat"], ["doctor"])
    for done in (sessions, chat):
        assert done.status == 1
        assert "Traceback" not in done.err
        assert f"the store {store} is a directory, not a file; move it away" in done.err
    (line,) = [line for line in doctor.out.splitlines() if "Session store" in line]
    assert line == (
        f"✗ Session store: the store {store} is a directory, not a file → move it away, "
        "or set VOICE_AGENT_DATA_DIR to another folder"
    )
    assert (store / "keep.txt").read_text() == "mine"
    assert list(store.parent.glob("*.corrupt-*")) == []


def _read_only(folder: Path, args: list[str]) -> list[str]:
    """``voice-agent ARGS`` with ``folder`` read-only for it (a read-only mount for root)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return [str(VOICE_AGENT), *args]
    if shutil.which("unshare") is None:
        pytest.skip("root without unshare: no way to make a folder read-only")
    mount = f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder}"
    script = f'{mount} && exec "$0" "$@"'
    return [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        str(VOICE_AGENT),
        *args,
    ]


async def _run_command(command: list[str], env: dict[str, str], cwd: Path) -> Finished:
    process = await asyncio.create_subprocess_exec(
        *command,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(), err.decode())


async def test_a_read_only_data_folder_is_named_and_the_advice_matches(tmp_path: Path) -> None:
    store = _store(tmp_path)
    kept = store.read_bytes()
    env = user_env(tmp_path)
    try:
        probe = await _run_command(_read_only(store.parent, ["--version"]), env, tmp_path)
        if probe.status != 0:
            pytest.skip(f"cannot make a read-only mount here: {probe.err.strip()}")
        sessions, audit, doctor = [
            await _run_command(_read_only(store.parent, args), env, tmp_path)
            for args in (["sessions"], ["audit"], ["doctor"])
        ]
    finally:
        store.parent.chmod(0o755)
    said = f"the data folder {store.parent} is not writable"
    for done in (sessions, audit):
        assert done.status == 1
        assert "Traceback" not in done.err
        assert done.err.startswith(f"voice-agent: {said}"), done.err
        assert "set VOICE_AGENT_DATA_DIR to a writable folder" in done.err
        assert "unable to open database file" not in done.err
    (line,) = [line for line in doctor.out.splitlines() if "Session store" in line]
    assert line.startswith(f"✗ Session store: {said}")
    assert "move the file away" not in line
    assert "→ fix the folder's permissions" in line
    assert store.read_bytes() == kept
    assert list(store.parent.glob("*.corrupt-*")) == []


async def test_python_dash_m_is_the_same_command(tmp_path: Path) -> None:
    env = user_env(tmp_path)
    script, module = await asyncio.gather(
        run(["--version"], env, tmp_path), run_module(["--version"], env, tmp_path)
    )
    assert (script.status, script.out) == (0, f"voice-agent {voice_agent.__version__}\n")
    assert (module.status, module.out) == (script.status, script.out)
