"""One decision API: what a person's answer to a permission request means.

Every front end (Telegram buttons, a decision in words or voice, the terminal)
turns what the person did into a :class:`Decision` and hands it to :func:`apply`,
so the same word means the same thing everywhere:

* ``approve``: the call runs (for a plan: the plan is approved).
* ``always``: the call runs and a sticky rule covers similar calls, for this
  session or the whole project (:class:`Scope`), until revoked or for a time.
* ``reject``: the call does not run; the reason, if given, is told to Claude.
  For a plan it means "keep planning", and Claude is told so.
* ``answer``: Claude's ``AskUserQuestion`` runs with the chosen answers.

:func:`apply` returns an :class:`Outcome`: whether the request was still
pending, the sticky rule made, and the one line every front end shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from voice_agent.policy.rules import StickyApproval
from voice_agent.sessions.pending import PendingPermission
from voice_agent.sessions.permissions import ASK_USER_QUESTION, PermissionHandler

__all__ = [
    "ALWAYS",
    "ANSWER",
    "APPROVE",
    "EXIT_PLAN_MODE",
    "HOUR",
    "KEEP_PLANNING",
    "NOT_PENDING",
    "REJECT",
    "SHOWN",
    "SHOWN_FOR_PLAN",
    "Action",
    "Decision",
    "Outcome",
    "Scope",
    "apply",
    "is_plan",
]

APPROVE: Final = "approve"
ALWAYS: Final = "always"
REJECT: Final = "reject"
ANSWER: Final = "answer"
Action = Literal["approve", "always", "reject", "answer"]

EXIT_PLAN_MODE = "ExitPlanMode"
KEEP_PLANNING = "Keep planning: the user did not approve the plan yet."
"""Told to Claude when a plan is rejected without a reason."""

HOUR = 3600.0
"""An "Always" for a time lasts this long (seconds)."""

SHOWN: dict[str, str] = {
    APPROVE: "✅ approved",
    ALWAYS: "♾ always approved",
    REJECT: "❌ rejected",
    ANSWER: "✅ answered",
}
"""What each action shows once done (a plan's shows :data:`SHOWN_FOR_PLAN`)."""
SHOWN_FOR_PLAN: dict[str, str] = {APPROVE: "✅ plan approved", REJECT: "✏️ keep planning"}


@dataclass(frozen=True)
class Scope:
    """How far an "Always" goes.

    Attributes:
        project: Every session of the chat working in this project, not just this one.
        ttl: Seconds the rule lasts (None: until revoked).
    """

    project: bool = False
    ttl: float | None = None


@dataclass(frozen=True)
class Decision:
    """What a person decided about one request.

    Attributes:
        action: ``approve``, ``always``, ``reject`` or ``answer``.
        scope: For ``always``: how far the rule goes.
        reason: For ``reject``: what to tell Claude (empty: the front end's default,
            or "keep planning" for a plan).
        answers: For ``answer``: question text to the chosen option's label.
    """

    action: Action
    scope: Scope = Scope()
    reason: str = ""
    answers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """How a decision ended.

    Attributes:
        done: False when the request was no longer pending (nothing was decided).
        text: The line a front end shows ("✅ approved", "✏️ keep planning"…).
        rule: The sticky rule an ``always`` made, if any.
    """

    done: bool
    text: str
    rule: StickyApproval | None = None


NOT_PENDING = Outcome(False, "no longer pending; nothing was decided")


def is_plan(request: PendingPermission) -> bool:
    """Whether ``request`` asks to leave plan mode (approve the plan or keep planning)."""
    return request.tool_name == EXIT_PLAN_MODE


def apply(
    handler: PermissionHandler,
    request: PendingPermission,
    decision: Decision,
    *,
    user_id: int | None = None,
    rejected: str | None = None,
) -> Outcome:
    """Carry out ``decision`` on a request of ``handler``.

    Args:
        handler: The permission handler the request waits in.
        request: The request.
        decision: What the person decided.
        user_id: Who decided, for the audit log.
        rejected: What this front end tells Claude about a plain rejection without
            a reason (None: the handler's default).

    Returns:
        The outcome; ``done`` is False when the request was no longer pending, or
        an answer did not fit the request.
    """
    request_id = request.request_id
    plan = is_plan(request)
    rule: StickyApproval | None = None
    if decision.action == ANSWER:
        done = request.tool_name == ASK_USER_QUESTION and handler.answer_questions(
            request_id, dict(decision.answers), user_id=user_id
        )
    elif decision.action == APPROVE:
        done = handler.approve(request_id, user_id=user_id)
    elif decision.action == ALWAYS:
        scope = decision.scope
        rule = handler.sticky_approve(
            request_id, user_id=user_id, ttl=scope.ttl, project=scope.project
        )
        done = rule is not None
    else:
        done = handler.deny(
            _deny_message(plan, decision.reason, rejected), request_id, user_id=user_id
        )
    if not done:
        return NOT_PENDING
    text = SHOWN_FOR_PLAN.get(decision.action) if plan else None
    return Outcome(True, text or SHOWN[decision.action], rule)


def _deny_message(plan: bool, reason: str, rejected: str | None) -> str | None:
    """What Claude is told about a rejection (None: the handler's default)."""
    if plan:
        return f"{KEEP_PLANNING} {reason}".strip()
    return reason or rejected
