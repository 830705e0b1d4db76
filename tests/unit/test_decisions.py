"""The one decision API: the same word means the same thing from every front end."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from voice_agent.sessions import PendingPermission, PermissionHandler
from voice_agent.sessions.decisions import (
    ALWAYS,
    ANSWER,
    APPROVE,
    HOUR,
    KEEP_PLANNING,
    REJECT,
    Decision,
    Scope,
    apply,
)
from voice_agent.telegram.approval_view import outcome_line
from voice_agent.terminal.approvals import DENIED_BY_USER, parse_answer, to_decision

Asked = tuple[PermissionHandler, PendingPermission, "asyncio.Task[tuple[bool, str | None]]"]


async def ask(project: Path, tool: str, data: dict[str, Any]) -> Asked:
    """A handler with one request of ``tool`` waiting."""
    arrived: asyncio.Queue[PendingPermission] = asyncio.Queue()

    async def on_request(request: PendingPermission) -> None:
        await arrived.put(request)

    handler = PermissionHandler(timeout=30, cwd=str(project), chat_id=1, session_name="main")
    handler.on_request = on_request
    task = asyncio.create_task(handler.request_permission(tool, data))
    return handler, await asyncio.wait_for(arrived.get(), 5), task


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path.resolve()


async def test_no_to_a_plan_means_keep_planning_whatever_the_front_end(project: Path) -> None:
    for rejected in (None, DENIED_BY_USER):  # the phone's default, the terminal's default
        handler, request, task = await ask(project, "ExitPlanMode", {"plan": "1. test"})
        outcome = apply(handler, request, Decision(REJECT), rejected=rejected)
        assert (outcome.done, outcome.text) == (True, "✏️ keep planning")
        assert await task == (False, KEEP_PLANNING)


async def test_a_reason_for_keep_planning_is_told_to_claude(project: Path) -> None:
    handler, request, task = await ask(project, "ExitPlanMode", {"plan": "1. test"})
    apply(handler, request, Decision(REJECT, reason="add a step for docs"))
    assert await task == (False, f"{KEEP_PLANNING} add a step for docs")


async def test_approve_plan(project: Path) -> None:
    handler, request, task = await ask(project, "ExitPlanMode", {"plan": "1. test"})
    assert apply(handler, request, Decision(APPROVE)).text == "✅ plan approved"
    assert (await task)[0] is True


async def test_reject_tells_the_reason_or_the_front_ends_default(project: Path) -> None:
    handler, request, task = await ask(project, "Bash", {"command": "make x"})
    outcome = apply(handler, request, Decision(REJECT), rejected=DENIED_BY_USER)
    assert outcome.text == "❌ rejected"
    assert await task == (False, DENIED_BY_USER)
    handler, request, task = await ask(project, "Bash", {"command": "make x"})
    apply(handler, request, Decision(REJECT, reason="use the tmp folder"))
    assert await task == (False, "use the tmp folder")


async def test_always_with_scope_makes_the_rule(project: Path) -> None:
    handler, request, task = await ask(project, "Bash", {"command": "npm test"})
    outcome = apply(handler, request, Decision(ALWAYS, Scope(project=True, ttl=HOUR)))
    assert outcome.text == "♾ always approved"
    assert outcome.rule is not None
    assert outcome.rule.expires_at is not None
    assert outcome.rule.project == str(project)
    assert (await task)[0] is True


async def test_a_finished_request_is_not_decided_again(project: Path) -> None:
    handler, request, task = await ask(project, "Bash", {"command": "make x"})
    assert apply(handler, request, Decision(APPROVE)).done
    await task
    again = apply(handler, request, Decision(REJECT))
    assert not again.done
    assert "no longer pending" in again.text


async def test_answers_fit_only_a_question(project: Path) -> None:
    handler, request, task = await ask(project, "Bash", {"command": "make x"})
    assert not apply(handler, request, Decision(ANSWER, answers={"Which?": "A"})).done
    assert apply(handler, request, Decision(APPROVE)).done
    await task


async def test_the_phone_shows_a_plan_outcome_in_the_same_words(project: Path) -> None:
    handler, request, task = await ask(project, "ExitPlanMode", {"plan": "1. test"})
    apply(handler, request, Decision(REJECT))
    await task
    assert outcome_line(request, "Ann") == "✏️ *Keep planning* by Ann"
    handler, request, task = await ask(project, "ExitPlanMode", {"plan": "1. test"})
    apply(handler, request, Decision(APPROVE))
    await task
    assert outcome_line(request, "Ann") == "✅ *Plan approved* by Ann"


def test_the_terminal_names_the_scope_of_always() -> None:
    assert parse_answer("a") == ("always", "")
    assert parse_answer("always project 1h") == ("always", "project 1h")
    assert parse_answer("a somewhere") is None
    assert to_decision("always", "") == Decision(ALWAYS)
    assert to_decision("always", "p") == Decision(ALWAYS, Scope(project=True))
    assert to_decision("always", "1h") == Decision(ALWAYS, Scope(ttl=HOUR))
    assert to_decision("no", "use tmp") == Decision(REJECT, reason="use tmp")
    assert to_decision("yes", "") == Decision(APPROVE)
