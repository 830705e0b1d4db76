"""SessionManager end to end: the real Claude Code CLI against the scripted Anthropic fake."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.e2e.conftest import CliHarness, RequestLog, make_manager
from tests.e2e.helpers import cli_processes, collect, final, text_of
from tests.fakes.anthropic import Reply
from voice_agent.agent.events import TextDelta, ToolFinished, ToolStarted, TurnError, TurnResult
from voice_agent.sessions import ImageAttachment, SessionManager

pytestmark = pytest.mark.e2e

CHAT = 1001

# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


async def test_write_asked_and_approved_creates_file(
    harness: CliHarness, managed: tuple[SessionManager, RequestLog]
) -> None:
    manager, log = managed
    target = harness.workdir / "hello.txt"
    harness.fake.enqueue(
        Reply.tool_use("Write", {"file_path": str(target), "content": "hello\n"}),
        Reply.text("Wrote it."),
    )

    async def approve(event: Any) -> None:
        if isinstance(event, ToolStarted):
            (request,) = await log.wait_requests(1)
            assert request.tool_name == "Write"
            assert manager.get(CHAT).permission_handler.approve(request.request_id)  # type: ignore[union-attr]

    events = await collect(manager.stream(CHAT, "write hello.txt"), approve)
    assert target.read_text() == "hello\n"
    result = final(events)
    assert isinstance(result, TurnResult)
    assert not result.is_error
    assert result.session_id
    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert [(f.name, f.is_error) for f in finished] == [("Write", False)]
    assert text_of(events) == "Wrote it."
    assert any(isinstance(e, TextDelta) for e in events)
    assert manager.get(CHAT).claude_session_id == result.session_id  # type: ignore[union-attr]
    entries = manager.storage.audit.entries(chat_id=CHAT)  # type: ignore[union-attr]
    assert [(e.tool_name, e.decision) for e in entries] == [("Write", "approved")]


async def test_write_denied_leaves_no_file_and_tells_the_model(
    harness: CliHarness, managed: tuple[SessionManager, RequestLog]
) -> None:
    manager, log = managed
    target = harness.workdir / "nope.txt"
    harness.fake.enqueue(
        Reply.tool_use("Write", {"file_path": str(target), "content": "x"}),
        Reply.text("OK, I won't."),
    )

    async def deny(event: Any) -> None:
        if isinstance(event, ToolStarted):
            await log.wait_requests(1)
            manager.get(CHAT).permission_handler.deny("Not in this folder, please")  # type: ignore[union-attr]

    await collect(manager.stream(CHAT, "write nope.txt"), deny)
    assert not target.exists()
    second = await harness.fake.main_request(2)
    (tool_result,) = second.tool_results()
    assert tool_result.is_error
    assert "Not in this folder, please" in tool_result.content


async def test_unanswered_request_times_out_as_denied(harness: CliHarness, tmp_path: Path) -> None:
    manager, log = make_manager(harness, tmp_path / "s.db", permission_timeout=1)
    target = harness.workdir / "late.txt"
    harness.fake.enqueue(
        Reply.tool_use("Write", {"file_path": str(target), "content": "x"}),
        Reply.text("Timed out."),
    )
    try:
        events = await collect(manager.stream(CHAT, "write late.txt"))
    finally:
        await manager.aclose()
    assert not target.exists()
    assert isinstance(final(events), TurnResult)
    (tool_result,) = (await harness.fake.main_request(2)).tool_results()
    assert "timed out" in tool_result.content
    assert [r.state.name for r in log.resolved] == ["TIMEOUT"]


async def test_two_parallel_tool_calls_are_two_pending_requests(
    harness: CliHarness, managed: tuple[SessionManager, RequestLog], tmp_path: Path
) -> None:
    manager, log = managed
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.txt").write_text("alpha\n")
    (outside / "b.txt").write_text("bravo\n")
    harness.fake.enqueue(
        Reply.tool_uses(
            ("Read", {"file_path": str(outside / "a.txt")}),
            ("Read", {"file_path": str(outside / "b.txt")}),
        ),
        Reply.text("Read one of them."),
    )
    decided = asyncio.Event()

    async def decide(event: Any) -> None:
        if isinstance(event, ToolStarted) and not decided.is_set():
            decided.set()
            first, second = await log.wait_requests(2)
            handler = manager.get(CHAT).permission_handler  # type: ignore[union-attr]
            assert len(handler.pending_requests()) == 2
            assert handler.approve(request_id=second.request_id)
            assert handler.deny("not that one", request_id=first.request_id)

    await collect(manager.stream(CHAT, "read both"), decide)
    results = {r.content.strip(): r for r in (await harness.fake.main_request(2)).tool_results()}
    assert any("bravo" in content for content in results)
    assert any("not that one" in content for content in results)
    assert not any("alpha" in content for content in results)


async def test_sticky_rule_approves_similar_call_not_different_one(
    harness: CliHarness, managed: tuple[SessionManager, RequestLog]
) -> None:
    manager, log = managed
    harness.fake.enqueue(
        Reply.tool_use("Bash", {"command": "touch one.txt"}),
        Reply.text("first"),
        Reply.tool_use("Bash", {"command": "touch two.txt"}),
        Reply.text("second"),
        Reply.tool_use("Bash", {"command": "mkdir newdir"}),
        Reply.text("third"),
    )

    async def always(event: Any) -> None:
        if isinstance(event, ToolStarted):
            await log.wait_requests(1)
            rule = manager.get(CHAT).permission_handler.sticky_approve()  # type: ignore[union-attr]
            assert rule is not None

    await collect(manager.stream(CHAT, "touch one"), always)
    await collect(manager.stream(CHAT, "touch two"))
    assert (harness.workdir / "two.txt").exists()
    assert len(log.requests) == 1  # the second touch was not asked

    async def reject(event: Any) -> None:
        if isinstance(event, ToolStarted):
            await log.wait_requests(2)
            manager.get(CHAT).permission_handler.deny()  # type: ignore[union-attr]

    await collect(manager.stream(CHAT, "mkdir"), reject)
    assert not (harness.workdir / "newdir").exists()
    decisions = [e.decision for e in manager.storage.audit.entries(chat_id=CHAT)]  # type: ignore[union-attr]
    assert decisions == ["always", "sticky", "denied"]


async def test_interrupt_mid_stream_keeps_the_session(
    harness: CliHarness, managed: tuple[SessionManager, RequestLog]
) -> None:
    manager, _ = managed
    release = threading.Event()
    harness.fake.enqueue(
        Reply.text("A long answer " * 50, chunk_size=10, hang=release),
        Reply.text("Second answer."),
    )
    interrupted = asyncio.Event()

    async def stop(event: Any) -> None:
        if isinstance(event, TextDelta) and not interrupted.is_set():
            interrupted.set()
            assert await manager.interrupt(CHAT) is True

    try:
        events = await collect(manager.stream(CHAT, "tell me a lot"), stop)
    finally:
        release.set()
    result = final(events)
    assert isinstance(result, TurnResult)
    assert result.interrupted
    events = await collect(manager.stream(CHAT, "again"))
    assert text_of(events) == "Second answer."
    assert await manager.interrupt(CHAT) is False  # nothing running


async def test_image_prompt_reaches_the_model_as_image_block(
    harness: CliHarness, managed: tuple[SessionManager, RequestLog]
) -> None:
    manager, _ = managed
    harness.fake.enqueue(Reply.text("A tiny picture."))
    image = ImageAttachment.from_bytes(PNG)
    chunks = [c async for c in manager.send_prompt(CHAT, "what is this?", images=[image])]
    assert chunks == ["A tiny picture."]
    request = await harness.fake.main_request(1)
    (block,) = request.images(latest_only=True)
    assert block.media_type == "image/png"
    assert base64.b64decode(block.data) == PNG
    assert request.last_user_text() == "what is this?"


async def test_killed_cli_gives_clear_error_and_next_prompt_works(
    harness: CliHarness, managed: tuple[SessionManager, RequestLog]
) -> None:
    manager, _ = managed
    harness.fake.enqueue(Reply.text("Before the crash."))
    await collect(manager.stream(CHAT, "hello"))
    release = threading.Event()
    harness.fake.enqueue(
        Reply.text("never finished " * 20, hang=release), Reply.text("Back again.")
    )

    async def kill(event: Any) -> None:
        if isinstance(event, TextDelta):
            for process in cli_processes():
                process.kill()

    try:
        events = await collect(manager.stream(CHAT, "crash now"), kill)
    finally:
        release.set()
    error = final(events)
    assert isinstance(error, TurnError)
    assert "stopped" in error.message
    events = await collect(manager.stream(CHAT, "are you there?"))
    assert text_of(events) == "Back again."
    # The new process resumed the same conversation.
    last = harness.fake.main_requests[-1]
    assert "hello" in last.user_texts()


async def test_a_cli_that_died_while_idle_is_started_again_for_the_next_prompt(
    harness: CliHarness, managed: tuple[SessionManager, RequestLog]
) -> None:
    manager, _ = managed
    harness.fake.enqueue(Reply.text("Before the crash."), Reply.text("Back again."))
    await collect(manager.stream(CHAT, "hello"))
    dead = cli_processes()
    assert dead
    for process in dead:
        process.kill()
    psutil.wait_procs(dead, timeout=10)
    # The prompt never reached the dead process: it is sent to a new one, not lost.
    events = await collect(manager.stream(CHAT, "are you there?"))
    assert not isinstance(final(events), TurnError), final(events)
    assert text_of(events) == "Back again."
    last = harness.fake.main_requests[-1]
    assert last.last_user_text() == "are you there?"
    assert "hello" in last.user_texts()  # the new process resumed the conversation


async def test_defect8_live_clients_bounded_and_evicted_sessions_resume(
    harness: CliHarness, tmp_path: Path
) -> None:
    manager, _ = make_manager(harness, tmp_path / "s.db", max_live_clients=2)
    harness.fake.script = lambda request: Reply.text(f"echo: {request.last_user_text()}")
    try:
        for name in ("a", "b", "c"):
            manager.create_new(CHAT, name=name)
            await collect(manager.stream(CHAT, f"I am {name}", name=name))
            assert manager.live_clients <= 2
            assert len(cli_processes()) <= 2
        events = await collect(manager.stream(CHAT, "who am I?", name="a"))
        assert text_of(events) == "echo: who am I?"
        assert "I am a" in harness.fake.main_requests[-1].user_texts()
        assert manager._runner.pool.peak_live == 2
    finally:
        await manager.aclose()
    assert cli_processes() == []


async def test_defect7_close_from_another_task_is_clean(
    harness: CliHarness, managed: tuple[SessionManager, RequestLog]
) -> None:
    manager, _ = managed
    harness.fake.enqueue(Reply.text("hi"))
    await asyncio.create_task(collect(manager.stream(CHAT, "hello")))
    assert len(cli_processes()) == 1
    assert await asyncio.create_task(manager.close_session_async(CHAT, "main")) is True
    assert cli_processes() == []
    assert manager.get(CHAT) is None


CHILD = """
import asyncio, json, sys
from voice_agent.agent.options import AgentSettings
from voice_agent.sessions import SessionManager, SessionStorage

async def main(db, cwd, env):
    manager = SessionManager(default_cwd=cwd, storage=SessionStorage(db),
                             agent=AgentSettings(env=env, setting_sources=(), idle_timeout=None))
    chunks = [c async for c in manager.send_prompt(1001, "what did I say before?")]
    await manager.aclose()
    print(json.dumps({"chunks": chunks, "claude": manager.get(1001).claude_session_id}))

asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
"""


async def test_restart_in_new_process_resumes_same_conversation(
    harness: CliHarness, tmp_path: Path
) -> None:
    db = tmp_path / "sessions.db"
    manager, _ = make_manager(harness, db)
    harness.fake.script = lambda request: Reply.text(f"echo: {request.last_user_text()}")
    try:
        await collect(manager.stream(CHAT, "remember the word pelican"))
        first_id = manager.get(CHAT).claude_session_id  # type: ignore[union-attr]
    finally:
        await manager.aclose()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(db),
        str(harness.workdir),
        json.dumps(harness.env),
        stdout=subprocess.PIPE,
        env={**os.environ},
    )
    out, _ = await asyncio.wait_for(child.communicate(), 60)
    assert child.returncode == 0
    answer = json.loads(out)
    assert answer["chunks"] == ["echo: what did I say before?"]
    assert answer["claude"] == first_id
    assert "remember the word pelican" in harness.fake.main_requests[-1].user_texts()


async def test_defect9_sync_replace_closes_old_client_in_tracked_task(
    harness: CliHarness, managed: tuple[SessionManager, RequestLog]
) -> None:
    manager, _ = managed
    harness.fake.script = lambda request: Reply.text("hi")
    await collect(manager.stream(CHAT, "hello"))
    assert len(cli_processes()) == 1
    manager.create_new(CHAT)  # sync twin: replaces "main", its client closes in the background
    await manager.aclose()  # awaits the tracked close: nothing leaks
    assert cli_processes() == []
    events = await collect(manager.stream(CHAT, "fresh start"))
    assert text_of(events) == "hi"
    assert "hello" not in harness.fake.main_requests[-1].user_texts()


async def test_defect2_secret_in_cwd_is_asked_although_the_cli_would_allow_it(
    harness: CliHarness, managed: tuple[SessionManager, RequestLog]
) -> None:
    manager, log = managed
    (harness.workdir / ".env").write_text("SECRET=hunter2\n")
    (harness.workdir / "notes.txt").write_text("plain notes\n")
    harness.fake.enqueue(
        Reply.tool_use("Read", {"file_path": str(harness.workdir / "notes.txt")}),
        Reply.tool_use("Read", {"file_path": str(harness.workdir / ".env")}),
        Reply.text("done"),
    )

    async def reject(event: Any) -> None:
        if isinstance(event, ToolStarted) and event.input["file_path"].endswith(".env"):
            (request,) = await log.wait_requests(1)
            assert request.tool_name == "Read"
            manager.get(CHAT).permission_handler.deny("no secrets")  # type: ignore[union-attr]

    await collect(manager.stream(CHAT, "read notes and .env"), reject)
    (notes,) = (await harness.fake.main_request(2)).tool_results()
    assert "plain notes" in notes.content  # safe read: not asked
    (secret,) = (await harness.fake.main_request(3)).tool_results()
    assert "hunter2" not in secret.content
    assert "no secrets" in secret.content
    assert len(log.requests) == 1


async def test_idle_client_is_closed_and_next_prompt_resumes(
    harness: CliHarness, tmp_path: Path
) -> None:
    from voice_agent.agent.options import AgentSettings
    from voice_agent.sessions import SessionStorage

    manager = SessionManager(
        default_cwd=str(harness.workdir),
        storage=SessionStorage(tmp_path / "s.db"),
        agent=AgentSettings(env=harness.env, setting_sources=(), idle_timeout=0.2),
    )
    harness.fake.script = lambda request: Reply.text(f"echo: {request.last_user_text()}")
    try:
        await collect(manager.stream(CHAT, "first words"))
        assert manager.live_clients == 1
        pool = manager._runner.pool
        await asyncio.wait_for(pool.wait_for(lambda p: p.live_count == 0), 10)
        assert cli_processes() == []
        events = await collect(manager.stream(CHAT, "still there?"))
        assert text_of(events) == "echo: still there?"
        assert "first words" in harness.fake.main_requests[-1].user_texts()
    finally:
        await manager.aclose()
