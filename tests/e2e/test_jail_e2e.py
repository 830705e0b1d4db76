"""The jail through the real CLI: what runs unasked runs in bubblewrap, and the model
sees the command's normal output; without a jail only commands that touch no file run
unasked, unless the user chose checker-only."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CliHarness, make_manager
from tests.e2e.helpers import collect, final
from tests.fakes.anthropic import Reply
from voice_agent.agent.events import ToolStarted, TurnResult
from voice_agent.policy.jail import Jail, JailMode
from voice_agent.sessions import SessionManager

pytestmark = pytest.mark.e2e

CHAT = 1001

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None and not os.environ.get("CI"),
    reason="bubblewrap is not installed (apt install bubblewrap)",
)


async def _run(
    harness: CliHarness, manager: SessionManager, log: Any, command: str
) -> tuple[str, bool]:
    """Run one Bash call; deny it if asked. Returns (the tool result, whether it asked)."""
    harness.fake.enqueue(Reply.tool_use("Bash", {"command": command}), Reply.text("done"))
    before = len(log.requests)

    async def deny_when_asked() -> None:
        (*_, request) = await log.wait_requests(before + 1)
        manager.get(CHAT).permission_handler.deny("no", request.request_id)  # type: ignore[union-attr]

    denier = asyncio.create_task(deny_when_asked())
    try:
        events = await collect(manager.stream(CHAT, f"run {command}"))
    finally:
        denier.cancel()
    assert isinstance(final(events), TurnResult)
    assert any(isinstance(e, ToolStarted) for e in events)
    request = harness.fake.main_requests[-1]
    (result,) = request.tool_results()
    return result.content, len(log.requests) > before


@needs_bwrap
async def test_an_unasked_command_runs_in_the_jail(harness: CliHarness, tmp_path: Path) -> None:
    (harness.workdir / "README.md").write_text("# Hello\n")
    (harness.workdir / ".env").write_text("TOKEN=CANARY-e2e-jail\n")
    manager, log = make_manager(harness, tmp_path / "s.db")
    try:
        output, asked = await _run(harness, manager, log, "cat README.md && ls -la")
    finally:
        await manager.aclose()
    assert not asked
    assert output.startswith("# Hello\n")
    # In the jail the .env is masked by an empty read-only file: ls shows size 0.
    (env_line,) = [line for line in output.splitlines() if line.endswith(" .env")]
    assert env_line.startswith("-r--r--r--")
    assert env_line.split()[4] == "0"
    (entry,) = [e for e in manager.storage.audit.entries(chat_id=CHAT)]  # type: ignore[union-attr]
    assert (entry.decision, entry.rule) == ("auto", "read-only, in the jail")
    # The model's own tool call is left as it wrote it.
    assert harness.fake.main_requests[-1].tool_uses()[0]["input"] == {
        "command": "cat README.md && ls -la"
    }


async def test_without_a_jail_only_file_free_commands_run_unasked(
    harness: CliHarness, tmp_path: Path
) -> None:
    (harness.workdir / "README.md").write_text("# Hello\n")
    jail = Jail(bwrap=str(tmp_path / "no-bwrap"))
    manager, log = make_manager(harness, tmp_path / "s.db", jail=jail)
    try:
        output, asked = await _run(harness, manager, log, "echo hi && pwd")
        assert not asked
        assert output.splitlines() == ["hi", str(harness.workdir.resolve())]
        output, asked = await _run(harness, manager, log, "cat README.md")
        assert asked
        assert "# Hello" not in output
    finally:
        await manager.aclose()


async def test_checker_only_runs_unconfined_as_chosen(harness: CliHarness, tmp_path: Path) -> None:
    (harness.workdir / "README.md").write_text("# Hello\n")
    (harness.workdir / ".env").write_text("TOKEN=x\n")
    manager, log = make_manager(harness, tmp_path / "s.db", jail=Jail(JailMode.CHECKER_ONLY))
    try:
        output, asked = await _run(harness, manager, log, "ls -la")
    finally:
        await manager.aclose()
    assert not asked
    (env_line,) = [line for line in output.splitlines() if line.endswith(" .env")]
    assert env_line.split()[4] == "8"  # the real file: nothing masked
    (entry,) = manager.storage.audit.entries(chat_id=CHAT)  # type: ignore[union-attr]
    assert entry.rule == "read-only (checker only, no jail)"
