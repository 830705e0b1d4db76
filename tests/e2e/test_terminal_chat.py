"""The terminal front end end to end: ``run_chat`` on a pipe, the real CLI, the scripted fake."""

from __future__ import annotations

import asyncio
import io
import os
import pty
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import TURN_TIMEOUT, CliHarness
from tests.e2e.helpers import cli_processes
from tests.fakes.anthropic import Reply
from voice_agent.agent.options import AgentSettings
from voice_agent.sessions import PendingPermission, Session, SessionManager, SessionStorage
from voice_agent.sessions.relay import RequestListener
from voice_agent.terminal import run_chat
from voice_agent.terminal.approvals import DENIED_BY_USER
from voice_agent.terminal.approvals import PROMPT as ALLOW
from voice_agent.terminal.chat import BUSY_NOTE, PROMPT

pytestmark = pytest.mark.e2e

CHAT = 7


class Screen(io.StringIO):
    """The chat's output; every write wakes whoever waits for some text."""

    def __init__(self) -> None:
        super().__init__()
        self._written = asyncio.Event()

    def write(self, text: str) -> int:
        count = super().write(text)
        self._written.set()
        return count

    async def wait_for(self, text: str, count: int = 1) -> str:
        """Wait until ``text`` was written ``count`` times; return the whole output."""
        async with asyncio.timeout(TURN_TIMEOUT):
            while self.getvalue().count(text) < count:
                self._written.clear()
                await self._written.wait()
        return self.getvalue()


class Keyboard:
    """The chat's input: a pipe (or a pseudo-terminal) the test types lines into."""

    def __init__(self, *, terminal: bool = False) -> None:
        read_end, self._write_end = pty.openpty()[::-1] if terminal else os.pipe()
        self.terminal = terminal
        self.stream = os.fdopen(read_end, "r", encoding="utf-8")
        self._open = True

    def type(self, line: str) -> None:
        self.press(line + "\n")

    def press(self, keys: str) -> None:
        os.write(self._write_end, keys.encode())

    def close(self) -> None:
        """The end of the input (Ctrl-D)."""
        if self._open:
            self._open = False
            if self.terminal:
                self.press("\x04")
            else:
                os.close(self._write_end)

    def release(self) -> None:
        if self.terminal:
            os.close(self._write_end)


@dataclass
class Chat:
    manager: SessionManager
    keyboard: Keyboard
    screen: Screen
    task: asyncio.Task[int]
    requests: list[PendingPermission]
    _announced: asyncio.Event
    prompts: int = 1  # prompts seen so far (the first one is awaited on start)

    async def say(self, line: str) -> str:
        """Type a line, wait until the chat is back at its prompt; return what it wrote since."""
        start = len(self.screen.getvalue())
        self.keyboard.type(line)
        return (await self.idle())[start:]

    async def requests_arrived(self, count: int) -> None:
        """Wait until the manager announced ``count`` permission requests."""
        async with asyncio.timeout(TURN_TIMEOUT):
            while len(self.requests) < count:
                self._announced.clear()
                await self._announced.wait()

    async def idle(self) -> str:
        """Wait for the next prompt (the end of the running turn or command)."""
        self.prompts += 1
        return await self.screen.wait_for(PROMPT, self.prompts)

    async def quit(self) -> int:
        self.keyboard.close()
        async with asyncio.timeout(TURN_TIMEOUT):
            return await self.task


def spy_on_requests(manager: SessionManager) -> tuple[list[PendingPermission], asyncio.Event]:
    """Record the requests announced to the listener the chat registers (it still gets them)."""
    seen: list[PendingPermission] = []
    announced = asyncio.Event()
    register = manager.set_permission_listeners

    def spying(
        on_request: RequestListener | None, on_resolved: RequestListener | None = None
    ) -> None:
        async def recording(session: Session, request: PendingPermission) -> None:
            if on_request is not None:
                await on_request(session, request)
            seen.append(request)
            announced.set()

        register(recording if on_request is not None else None, on_resolved)

    manager.set_permission_listeners = spying  # type: ignore[method-assign]
    return seen, announced


@asynccontextmanager
async def terminal(
    harness: CliHarness, tmp_path: Path, *, keyboard: Keyboard | None = None
) -> AsyncIterator[Chat]:
    """``run_chat`` in a task, at its first prompt; ended by EOF afterwards."""
    manager = SessionManager(
        default_cwd=str(harness.workdir),
        permission_timeout=30,
        storage=SessionStorage(tmp_path / "sessions.db"),
        agent=AgentSettings(env=harness.env, setting_sources=(), idle_timeout=None),
    )
    requests, announced = spy_on_requests(manager)
    keyboard, screen = keyboard or Keyboard(), Screen()
    task = asyncio.create_task(
        run_chat(manager, chat_id=CHAT, input_stream=keyboard.stream, output=screen)
    )
    chat = Chat(manager, keyboard, screen, task, requests, announced)
    try:
        await screen.wait_for(PROMPT)
        yield chat
    finally:
        if not task.done():
            await chat.quit()
        keyboard.stream.close()
        keyboard.release()


async def test_text_prompt_streams_the_answer(harness: CliHarness, tmp_path: Path) -> None:
    harness.fake.enqueue(Reply.text("Hello from the fake model.", chunk_size=4))
    async with terminal(harness, tmp_path) as chat:
        out = await chat.say("say hello")
    assert "Hello from the fake model." in out
    assert "— " in out.split("Hello from the fake model.")[1]  # then the footer
    assert harness.fake.main_requests[0].last_user_text() == "say hello"


async def test_write_is_shown_and_yes_creates_the_file(harness: CliHarness, tmp_path: Path) -> None:
    target = harness.workdir / "hello.txt"
    harness.fake.enqueue(
        Reply.tool_use("Write", {"file_path": str(target), "content": "line one\nline two\n"}),
        Reply.text("Wrote it."),
    )
    async with terminal(harness, tmp_path) as chat:
        chat.keyboard.type("write hello.txt")
        shown = await chat.screen.wait_for(ALLOW)
        assert f"Write file: {target}" in shown
        assert "│ line one\n" in shown
        assert "│ line two\n" in shown
        assert not target.exists()
        out = await chat.say("y")
        assert f"🔧 Write: {target}" in chat.screen.getvalue()
    assert target.read_text() == "line one\nline two\n"
    assert "✓ allowed" in out
    assert "✓ Write" in out
    assert "Wrote it." in out


async def test_no_leaves_no_file_and_the_model_is_told(harness: CliHarness, tmp_path: Path) -> None:
    target = harness.workdir / "nope.txt"
    harness.fake.enqueue(
        Reply.tool_use("Write", {"file_path": str(target), "content": "x"}),
        Reply.text("OK, I won't."),
    )
    async with terminal(harness, tmp_path) as chat:
        chat.keyboard.type("write nope.txt")
        await chat.screen.wait_for(ALLOW)
        out = await chat.say("n")
    assert not target.exists()
    assert "✗ denied" in out
    (result,) = (await harness.fake.main_request(2)).tool_results()
    assert result.is_error
    assert DENIED_BY_USER in result.content


async def test_hidden_characters_in_a_command_are_shown_escaped(
    harness: CliHarness, tmp_path: Path
) -> None:
    command = "touch \u202etxt.exe\u200b"
    harness.fake.enqueue(Reply.tool_use("Bash", {"command": command}), Reply.text("Not run."))
    async with terminal(harness, tmp_path) as chat:
        chat.keyboard.type("touch it")
        shown = await chat.screen.wait_for(ALLOW)
        await chat.say("n")
    assert "⚠ contains hidden characters" in shown
    assert "$ touch \\u202etxt.exe\\u200b\n" in shown
    assert not {"\u202e", "\u200b"} & set(shown)
    assert not list(harness.workdir.glob("*txt.exe*"))


async def test_always_approves_the_next_similar_call_unasked(
    harness: CliHarness, tmp_path: Path
) -> None:
    first, second = harness.workdir / "one.txt", harness.workdir / "two.txt"
    harness.fake.enqueue(
        Reply.tool_use("Write", {"file_path": str(first), "content": "1"}),
        Reply.text("first"),
        Reply.tool_use("Write", {"file_path": str(second), "content": "2"}),
        Reply.text("second"),
    )
    async with terminal(harness, tmp_path) as chat:
        chat.keyboard.type("write one")
        await chat.screen.wait_for(ALLOW)
        assert "✓ allowed, and from now on: " in await chat.say("a")
        out = await chat.say("write two")
        rules = await chat.say("/approvals")
    assert first.exists()
    assert second.exists()
    assert ALLOW not in out
    assert "second" in out
    assert len(chat.requests) == 1
    assert f"1. Write files in {harness.workdir}" in rules


async def test_approvals_lists_a_project_rule_too(harness: CliHarness, tmp_path: Path) -> None:
    first = harness.workdir / "one.txt"
    harness.fake.enqueue(
        Reply.tool_use("Write", {"file_path": str(first), "content": "1"}),
        Reply.text("first"),
    )
    async with terminal(harness, tmp_path) as chat:
        chat.keyboard.type("write one")
        await chat.screen.wait_for(ALLOW)
        await chat.say("a project")
        rules = await chat.say("/approvals")
    assert first.exists()
    assert f"1. Write files in {harness.workdir}" in rules
    assert "(every session of the project)" in rules


async def test_parallel_requests_are_asked_one_after_another(
    harness: CliHarness, tmp_path: Path
) -> None:
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
    async with terminal(harness, tmp_path) as chat:
        chat.keyboard.type("read both")
        shown = await chat.screen.wait_for(ALLOW)
        await chat.requests_arrived(2)  # both wait at once...
        handler = chat.manager.get(CHAT).permission_handler  # type: ignore[union-attr]
        assert len(handler.pending_requests()) == 2
        assert chat.screen.getvalue().count(ALLOW) == 1  # ...but only the first is asked
        assert "⚠ outside the working directory" in shown
        chat.keyboard.type("y")
        await chat.screen.wait_for(ALLOW, 2)
        await chat.say("n")
    results = {r.content: r for r in (await harness.fake.main_request(2)).tool_results()}
    assert any("alpha" in content for content in results)
    assert any(DENIED_BY_USER in content for content in results)
    assert not any("bravo" in content for content in results)


async def test_new_session_gets_the_next_prompt(harness: CliHarness, tmp_path: Path) -> None:
    harness.fake.script = lambda request: Reply.text(f"echo: {request.last_user_text()}")
    async with terminal(harness, tmp_path) as chat:
        await chat.say("hello main")
        made = await chat.say("/new other")
        assert "New session other" in made
        out = await chat.say("hello other")
        assert "echo: hello other" in out
        manager = chat.manager
        assert manager.get_active_session_name(CHAT) == "other"
        assert manager.get(CHAT, "other").message_count == 1  # type: ignore[union-attr]
        assert manager.get(CHAT, "main").message_count == 1  # type: ignore[union-attr]
        # The new session is a new Claude conversation.
        assert "hello main" not in harness.fake.main_requests[-1].user_texts()
        listing = await chat.say("/sessions")
        assert "* other" in listing
        await chat.say("/switch main")
        await chat.say("back in main")
    assert "hello main" in harness.fake.main_requests[-1].user_texts()


async def test_eof_ends_with_status_0_and_no_cli_left(harness: CliHarness, tmp_path: Path) -> None:
    harness.fake.enqueue(Reply.text("hi"))
    async with terminal(harness, tmp_path) as chat:
        await chat.say("hello")
        assert len(cli_processes()) == 1
        assert await chat.quit() == 0
    assert cli_processes() == []


async def test_ctrl_c_stops_the_turn_and_then_leaves(harness: CliHarness, tmp_path: Path) -> None:
    release = threading.Event()
    harness.fake.enqueue(
        Reply.text("A long answer " * 50, chunk_size=10, hang=release),
        Reply.text("Second answer."),
    )
    try:
        async with terminal(harness, tmp_path) as chat:
            chat.keyboard.type("tell me a lot")
            await chat.screen.wait_for("A long")
            (cli,) = cli_processes()
            os.kill(os.getpid(), signal.SIGINT)
            assert "interrupted" in await chat.idle()
            assert "Second answer." in await chat.say("again")
            assert cli_processes() == [cli]  # interrupted, not restarted
            os.kill(os.getpid(), signal.SIGINT)  # at the prompt: leave
            async with asyncio.timeout(TURN_TIMEOUT):
                assert await chat.task == 130
    finally:
        release.set()
    assert cli_processes() == []


async def test_ctrl_c_key_at_a_terminal_stops_the_turn(harness: CliHarness, tmp_path: Path) -> None:
    release = threading.Event()
    harness.fake.enqueue(
        Reply.text("A long answer " * 50, chunk_size=10, hang=release),
        Reply.text("Second answer."),
    )
    keyboard = Keyboard(terminal=True)
    try:
        async with terminal(harness, tmp_path, keyboard=keyboard) as chat:
            chat.keyboard.type("tell me a lot")
            await chat.screen.wait_for("A long")
            (cli,) = cli_processes()
            chat.keyboard.press("\x03")  # the terminal sends no SIGINT: the chat reads the key
            assert "interrupted" in await chat.idle()
            assert "Second answer." in await chat.say("again")
            assert cli_processes() == [cli]
            assert await chat.quit() == 0
    finally:
        release.set()
    assert cli_processes() == []


async def test_at_a_terminal_a_line_typed_mid_turn_is_not_a_prompt(
    harness: CliHarness, tmp_path: Path
) -> None:
    release = threading.Event()
    harness.fake.enqueue(Reply.text("Thinking hard.", hang=release))
    try:
        async with terminal(harness, tmp_path, keyboard=Keyboard(terminal=True)) as chat:
            chat.keyboard.type("think")
            await chat.screen.wait_for("Thinking")
            chat.keyboard.type("y")  # no question is open: dropped, with a note
            await chat.screen.wait_for(BUSY_NOTE)
            release.set()
            await chat.idle()
    finally:
        release.set()
    assert [r.last_user_text() for r in harness.fake.main_requests] == ["think"]


async def test_scripted_input_answers_questions_in_order(
    harness: CliHarness, tmp_path: Path
) -> None:
    target = harness.workdir / "scripted.txt"
    harness.fake.enqueue(
        Reply.tool_use("Write", {"file_path": str(target), "content": "x"}),
        Reply.text("Written."),
        Reply.text("Still here."),
    )
    manager = SessionManager(
        default_cwd=str(harness.workdir),
        storage=SessionStorage(tmp_path / "sessions.db"),
        agent=AgentSettings(env=harness.env, setting_sources=(), idle_timeout=None),
    )
    script = io.StringIO("write it\ny\nare you there?\n")  # all typed ahead, then EOF
    screen = Screen()
    async with asyncio.timeout(TURN_TIMEOUT):
        status = await run_chat(manager, chat_id=CHAT, input_stream=script, output=screen)
    assert status == 0
    assert target.read_text() == "x"
    transcript = screen.getvalue()
    assert f"{ALLOW}y\n✓ allowed" in transcript
    assert "> are you there?\nStill here." in transcript
    assert cli_processes() == []
