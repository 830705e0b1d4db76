"""The automatic checks of a call: once per call, off the event loop, bounded, failing closed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from voice_agent.policy.jail import Jail, JailMode
from voice_agent.sessions import PendingPermission, PermissionHandler, StickyApproval


class CountingRule(StickyApproval):
    """A deny rule that counts how often the checks consult it (and never matches)."""

    def __init__(self, *, block: threading.Event | None = None, fail: bool = False) -> None:
        super().__init__("Nothing")
        self.calls = 0
        self.threads: set[int] = set()
        self.block = block
        self.fail = fail

    def pattern_matches(
        self, tool_name: str, input_data: Mapping[str, Any], cwd: str | None = None
    ) -> bool:
        self.calls += 1
        self.threads.add(threading.get_ident())
        if self.block is not None:
            self.block.wait(5)
        if self.fail:
            raise RuntimeError("a checker bug")
        return False


def handler_with(rule: CountingRule, project: Path) -> tuple[PermissionHandler, list[Any]]:
    handler = PermissionHandler(
        timeout=5, cwd=str(project), deny_rules=[rule], jail=Jail(JailMode.CHECKER_ONLY)
    )
    asked: list[PendingPermission] = []

    async def on_request(request: PendingPermission) -> None:
        asked.append(request)
        handler.deny("no", request.request_id)

    handler.on_request = on_request
    return handler, asked


async def test_a_call_is_evaluated_once_by_hook_and_callback(tmp_path: Path) -> None:
    rule = CountingRule()
    handler, asked = handler_with(rule, tmp_path)
    command = {"command": "make deploy"}
    assert await handler.pre_check("Bash", command, "toolu_1") is None
    assert rule.calls == 1
    assert await handler.decide_call("Bash", command, tool_use_id="toolu_1") == (False, "no", None)
    assert rule.calls == 1  # the callback reused the hook's verdict
    assert len(asked) == 1
    # A call the hook never saw is evaluated by the callback itself.
    await handler.decide_call("Bash", command, tool_use_id="toolu_2")
    assert rule.calls == 2


async def test_a_safe_call_is_allowed_by_the_hook_alone(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a\n")
    rule = CountingRule()
    handler, asked = handler_with(rule, tmp_path)
    verdict = await handler.pre_check("Bash", {"command": "cat a.txt"}, "toolu_1")
    assert verdict is not None
    assert verdict.unasked
    assert asked == []


async def test_checks_run_off_the_event_loop(tmp_path: Path) -> None:
    release = threading.Event()
    rule = CountingRule(block=release)
    handler, _ = handler_with(rule, tmp_path)
    checking = asyncio.create_task(handler.pre_check("Bash", {"command": "ls"}, "toolu_1"))
    # The loop keeps serving other work while the check is blocked in its thread.
    for _ in range(3):
        await asyncio.sleep(0)
    assert not checking.done()
    release.set()
    await checking
    assert threading.get_ident() not in rule.threads


async def test_a_check_that_takes_too_long_asks(tmp_path: Path) -> None:
    release = threading.Event()
    rule = CountingRule(block=release)
    handler, asked = handler_with(rule, tmp_path)
    handler.check_timeout = 0.05
    try:
        approved, _, _ = await handler.decide_call("Bash", {"command": "ls"}, tool_use_id="t")
    finally:
        release.set()
    assert not approved
    assert len(asked) == 1  # a person was asked, although `ls` is read-only


async def test_a_check_that_fails_asks(tmp_path: Path) -> None:
    rule = CountingRule(fail=True)
    handler, asked = handler_with(rule, tmp_path)
    assert await handler.pre_check("Bash", {"command": "ls"}, "toolu_1") is None
    approved, _, _ = await handler.decide_call("Bash", {"command": "ls"}, tool_use_id="toolu_1")
    assert not approved
    assert len(asked) == 1


async def test_requests_are_asked_in_arrival_order(tmp_path: Path) -> None:
    rule = CountingRule()
    handler, asked = handler_with(rule, tmp_path)
    await asyncio.gather(*(handler.decide_call("Bash", {"command": f"make {n}"}) for n in "abcdef"))
    assert [r.input_data["command"] for r in asked] == [f"make {n}" for n in "abcdef"]
    assert [r.number for r in asked] == [1, 2, 3, 4, 5, 6]
