"""What is typed and pasted at ``voice-agent chat`` on a pseudo-terminal reaches Claude whole.

The installed script runs on a real pseudo-terminal (:class:`Terminal`); the
assertions are on what the scripted model received. A terminal emulator in
bracketed-paste mode sends a paste between ``ESC[200~`` and ``ESC[201~``; the tests
type those bytes as it would.
"""

from __future__ import annotations

import codecs
import os
import shlex
import signal
import subprocess
import threading
from pathlib import Path

import psutil
import pytest

from tests.e2e.conftest import TURN_TIMEOUT, CliHarness
from tests.e2e.console import VOICE_AGENT, Terminal, user_env
from tests.fakes.anthropic import Reply
from voice_agent.terminal.approvals import PROMPT as ALLOW
from voice_agent.terminal.chat import LATE_NOTE, PROMPT
from voice_agent.terminal.editor import PASTE_OFF, PASTE_ON

pytestmark = pytest.mark.e2e

PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"
LEFT, UP, HOME, BACKSPACE = "\x1b[D", "\x1b[A", "\x1b[H", "\x7f"


def prompts(harness: CliHarness) -> list[str]:
    """The prompts the model received, in order (tool results left out)."""
    return [text for r in harness.fake.main_requests if (text := r.last_user_text())]


def test_a_100_kb_paste_reaches_the_model_whole(harness: CliHarness, tmp_path: Path) -> None:
    harness.fake.enqueue(Reply.text("Got all of it."))
    pasted = "BEGIN" + "x" * 100_000 + "END"
    with Terminal(["chat"], user_env(tmp_path, harness=harness), tmp_path) as chat:
        chat.expect(PROMPT)
        chat.press(pasted + "\n")  # no brackets: the kernel's 4,095-byte line cap
        chat.expect("Got all of it.")
        chat.expect(PROMPT)
        chat.press("\x04")
        assert chat.wait() == 0, chat.stderr
    assert prompts(harness) == [pasted]


def test_a_pasted_traceback_is_one_prompt(harness: CliHarness, tmp_path: Path) -> None:
    harness.fake.script = lambda request: Reply.text(f"echo: {len(request.last_user_text())}")
    pasted = 'fix this traceback:\r\n  File "a.py", line 3\r\nValueError: boom\r\n'
    with Terminal(["chat"], user_env(tmp_path, harness=harness), tmp_path) as chat:
        assert PASTE_ON in chat.expect(PROMPT)
        chat.press(PASTE_START + pasted + PASTE_END)
        chat.press(" please\r")  # the paste waits for Enter, and can be added to
        chat.expect("echo: ")
        chat.expect(PROMPT)
        chat.press("\x04")
        assert chat.wait() == 0, chat.stderr
    assert prompts(harness) == [
        'fix this traceback:\n  File "a.py", line 3\nValueError: boom\n please'
    ]
    assert chat.screen.rindex(PASTE_OFF) > chat.screen.rindex(PASTE_ON)


def test_lines_pasted_without_brackets_are_one_prompt(harness: CliHarness, tmp_path: Path) -> None:
    harness.fake.script = lambda request: Reply.text("answered")
    with Terminal(["chat"], user_env(tmp_path, harness=harness), tmp_path) as chat:
        chat.expect(PROMPT)
        chat.press("fix this traceback:\n  File a.py line 3\nValueError: boom\n")
        chat.expect("answered")
        chat.expect(PROMPT)
        chat.press("\x04")
        assert chat.wait() == 0, chat.stderr
    assert prompts(harness) == ["fix this traceback:\n  File a.py line 3\nValueError: boom"]


def test_arrow_keys_edit_the_line_instead_of_reaching_the_model(
    harness: CliHarness, tmp_path: Path
) -> None:
    harness.fake.enqueue(Reply.text("edited"))
    with Terminal(["chat"], user_env(tmp_path, harness=harness), tmp_path) as chat:
        chat.expect(PROMPT)
        chat.press("fix teh bug" + LEFT * 4 + BACKSPACE * 2 + "he" + UP + HOME + "please ")
        chat.press("\r")
        chat.expect("edited")
        chat.expect(PROMPT)
        chat.press("\x04")
        assert chat.wait() == 0, chat.stderr
    assert prompts(harness) == ["please fix the bug"]


def test_a_late_yes_after_a_timeout_is_not_a_prompt(harness: CliHarness, tmp_path: Path) -> None:
    target = harness.workdir / "late.txt"
    harness.fake.enqueue(
        Reply.tool_use("Write", {"file_path": str(target), "content": "x"}),
        Reply.text("Gave up."),
        Reply.text("Hello back."),
    )
    env = user_env(tmp_path, harness=harness, PERMISSION_TIMEOUT="5")
    with Terminal(["chat"], env, tmp_path) as chat:
        chat.expect(PROMPT)
        chat.type("write late")
        chat.expect(ALLOW)
        chat.expect("not answered in time, denied", timeout=TURN_TIMEOUT + 5)
        chat.expect(PROMPT)
        chat.type("y")
        assert LATE_NOTE in chat.expect(PROMPT)
        chat.type("hello")  # the next line is a prompt again
        assert "Hello back." in chat.expect(PROMPT)
        chat.press("\x04")
        assert chat.wait() == 0, chat.stderr
    assert not target.exists()
    assert prompts(harness) == ["write late", "hello"]


class ShellTerminal(Terminal):
    """A shell on a pseudo-terminal: ``stty -g``, ``voice-agent chat``, ``stty -g`` again."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        chat = shlex.quote(str(VOICE_AGENT))
        script = f"stty -g; echo BEFORE; {chat} chat; echo STATUS=$?; stty -g; echo AFTER"
        self._master, slave = os.openpty()
        self._stderr_path = cwd / f"stderr-shell-{self._master}.log"
        with self._stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                ["/bin/sh", "-c", script],
                stdin=slave,
                stdout=slave,
                stderr=stderr,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        os.close(slave)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._text = ""
        self._closed = False
        self._mark = 0

    def settings(self, word: str) -> str:
        """The ``stty -g`` line printed before ``word``."""
        return self.screen.split(word)[0].strip().splitlines()[-1]


@pytest.mark.parametrize("leave", ["ctrl-d", "ctrl-c", "sigterm-mid-turn"])
def test_the_terminal_settings_come_back(harness: CliHarness, tmp_path: Path, leave: str) -> None:
    release = threading.Event()
    harness.fake.enqueue(Reply.text("Streaming slowly", chunk_size=3, hang=release))
    try:
        with ShellTerminal(user_env(tmp_path, harness=harness), tmp_path) as shell:
            shell.expect(PROMPT)
            if leave == "ctrl-d":
                shell.press("\x04")
            elif leave == "ctrl-c":
                shell.press("half typed\x03")
            else:
                shell.type("go")
                shell.expect("Str")
                (chat,) = (
                    p for p in psutil.Process(shell.process.pid).children() if "chat" in p.cmdline()
                )
                os.kill(chat.pid, signal.SIGTERM)
            shell.expect("AFTER")
            assert shell.wait() == 0
    finally:
        release.set()
    status = {"ctrl-d": 0, "ctrl-c": 130, "sigterm-mid-turn": 143}[leave]
    assert f"STATUS={status}" in shell.screen
    assert shell.settings("AFTER") == shell.settings("BEFORE")
    assert shell.screen.rindex(PASTE_OFF) > shell.screen.rindex(PASTE_ON)
