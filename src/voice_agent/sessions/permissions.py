"""Permission handling for Claude SDK tool calls.

Manages the canUseTool callback flow for requesting user approval.

Decision order for each call: explicit deny rules, then the safe-call policy
(provably read-only calls inside the working directory), then the session's
sticky rules, then its permission mode, and finally a question to the user.
Many requests can wait at once, each with its own id; a decision names the id
or acts on the oldest. A request nobody answers is denied after ``timeout``
seconds. Every decision is written to the store's audit log.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from voice_agent.policy.bash import is_safe_bash_command
from voice_agent.policy.calls import SAFE_TOOLS, is_safe_tool_call
from voice_agent.policy.decide import CallContext, Verdict, decide
from voice_agent.policy.jail import Jail, default_jail
from voice_agent.policy.rules import TOOL_FIELD_NAMES, StickyApproval, derive_rule, find_matching
from voice_agent.sessions.describe import summarize_input
from voice_agent.sessions.pending import PendingPermission, PermissionState
from voice_agent.sessions.rules import SessionRules
from voice_agent.store.records import AuditEntry

if TYPE_CHECKING:
    from voice_agent.sessions.storage import SessionStorage

__all__ = [
    "SAFE_TOOLS",
    "TOOL_FIELD_NAMES",
    "PendingPermission",
    "PermissionHandler",
    "PermissionState",
    "StickyApproval",
    "Verdict",
    "is_safe_bash_command",
    "is_safe_tool_call",
]

logger = logging.getLogger(__name__)

PERMISSION_MODES = ("default", "acceptEdits", "plan")
ASK_USER_QUESTION = "AskUserQuestion"

CHECK_TIMEOUT = 10.0
"""Seconds the automatic checks of one call may take; past that, the user is asked."""
_REMEMBERED = 256

NotifyCallback = Callable[[str, dict[str, Any]], Coroutine[Any, Any, None]]
RequestCallback = Callable[["PendingPermission"], Awaitable[None]]


class PermissionListener(Protocol):
    """Told of every request of the handlers it listens to (one object for many sessions)."""

    async def permission_requested(
        self, handler: PermissionHandler, request: PendingPermission
    ) -> None:
        """A request started waiting for a decision."""

    async def permission_resolved(
        self, handler: PermissionHandler, request: PendingPermission
    ) -> None:
        """A request was decided, timed out or cancelled."""


class PermissionHandler:
    """Handles permission requests for Claude SDK tool calls.

    Attributes:
        timeout: Seconds to wait for user approval.
        notify_callback: Async callback ``(tool_name, input_data)`` told of each request.
        on_request: Async callback given each new :class:`PendingPermission`
            (front ends show a prompt with its ``request_id`` on the buttons).
        on_resolved: Async callback given each request once decided or timed out.
        listener: Told of every request; one object can serve many handlers.
        sticky_approvals: Sticky approval rules for auto-approving (the session's
            own: ``rules.session``).
        rules: The session's sticky rules and the chat's project rules
            (:class:`~voice_agent.sessions.rules.SessionRules`).
        cwd: The session's working directory, for the safe-call policy.
        extra_roots: Further directories whose files may be read without asking.
        permission_mode: ``default``, ``acceptEdits`` (edits inside cwd pass) or ``plan``.
        deny_rules: Rules whose matching calls are refused without asking.
        chat_id: Chat of the session (for persistence and the audit log).
        session_name: Name of the session (for persistence and the audit log).
        jail: Where Bash commands that run unasked run.
        check_timeout: Seconds the automatic checks of one call may take before
            the user is asked instead.
        keep_rules: False when the calls run elsewhere (a session on another
            machine): an "Always" is then only passed on (``request.sticky``),
            and no rule is kept or applied here.
    """

    def __init__(
        self,
        timeout: int = 300,
        notify_callback: NotifyCallback | None = None,
        *,
        cwd: str | None = None,
        extra_roots: Sequence[str] = (),
        storage: SessionStorage | None = None,
        chat_id: int | None = None,
        session_name: str | None = None,
        permission_mode: str = "default",
        deny_rules: Sequence[StickyApproval] = (),
        listener: PermissionListener | None = None,
        jail: Jail | None = None,
    ) -> None:
        """Initialize the permission handler.

        Args:
            timeout: Seconds to wait for user approval.
            notify_callback: Async function to notify user of permission request.
            cwd: The session's working directory.
            extra_roots: Further directories whose files may be read without asking.
            storage: Store for sticky rules and the audit log.
            chat_id: Chat of the session.
            session_name: Name of the session.
            permission_mode: Initial permission mode.
            deny_rules: Rules whose matching calls are refused without asking.
            listener: Told of every request (shared by many handlers).
            jail: Where Bash commands that run unasked run (default: bubblewrap,
                see :mod:`voice_agent.policy.jail`).
        """
        self.timeout = timeout
        self.listener = listener
        self.notify_callback = notify_callback
        self.on_request: RequestCallback | None = None
        self.on_resolved: RequestCallback | None = None
        self.cwd = cwd
        self.extra_roots = list(extra_roots)
        self.permission_mode = permission_mode
        self.deny_rules = list(deny_rules)
        self.chat_id = chat_id
        self.session_name = session_name
        self._storage = storage
        self._pending: dict[str, PendingPermission] = {}
        self._numbers = itertools.count(1)
        self.jail = jail or default_jail()
        # Verdicts the PreToolUse hook already reached, by tool call id: each call
        # is evaluated once, and can_use_tool picks the verdict up.
        self._evaluated: OrderedDict[str, Verdict | None] = OrderedDict()
        self._evaluating = asyncio.Lock()
        self.check_timeout = CHECK_TIMEOUT
        self.rules = SessionRules(self, storage)
        self.keep_rules = True

    # -- sticky rules: one-line delegates to :attr:`rules` -----------------------

    @property
    def sticky_approvals(self) -> list[StickyApproval]:
        """Sticky approval rules for auto-approving (persisted with the session)."""
        return self.rules.session

    @sticky_approvals.setter
    def sticky_approvals(self, rules: list[StickyApproval]) -> None:
        self.rules.session = rules

    def project_rules(self) -> list[StickyApproval]:
        """The chat's project-wide rules that cover this session's working directory."""
        return self.rules.project()

    def add_sticky_approval(self, rule: StickyApproval) -> StickyApproval:
        """Add (and persist) a sticky rule unless an equal one exists.

        Args:
            rule: The rule to add.

        Returns:
            The rule now in force.
        """
        return self.rules.add(rule)

    def get_sticky_approvals(self) -> list[StickyApproval]:
        """Get all active sticky approvals.

        Returns:
            List of sticky approval rules.
        """
        return self.rules.list()

    def clear_sticky_approvals(self) -> int:
        """Clear all sticky approvals.

        Returns:
            Number of approvals cleared.
        """
        return self.rules.clear()

    def remove_sticky_approval(self, index: int) -> StickyApproval | None:
        """Remove a sticky approval by index.

        Args:
            index: Index of the approval to remove (0-based).

        Returns:
            The removed StickyApproval or None if index invalid.
        """
        return self.rules.remove(index)

    # -- pending requests ------------------------------------------------

    @property
    def pending(self) -> PendingPermission | None:
        """The oldest pending request, if any."""
        return next(iter(self._pending.values()), None)

    def pending_requests(self) -> list[PendingPermission]:
        """All pending requests, oldest first."""
        return list(self._pending.values())

    def get_request(self, request_id: str) -> PendingPermission | None:
        """The pending request with this id, if it is still pending."""
        return self._pending.get(request_id)

    def has_pending(self) -> bool:
        """Check if there's a pending permission request.

        Returns:
            True if a permission is pending.
        """
        return bool(self._pending)

    def get_pending_description(self, request_id: str | None = None) -> str | None:
        """Get a human-readable description of a pending permission.

        Args:
            request_id: Which request; the oldest when None.

        Returns:
            Description string or None if no pending permission.
        """
        request = self._select(request_id)
        return request.description if request else None

    def _select(self, request_id: str | None) -> PendingPermission | None:
        if request_id is None:
            return self.pending
        return self._pending.get(request_id)

    # -- the callback path -------------------------------------------------

    async def request_permission(
        self, tool_name: str, input_data: dict[str, Any], *, tool_use_id: str | None = None
    ) -> tuple[bool, str | None]:
        """Request permission for a tool call.

        Auto-approves safe tools and sticky approvals, queues others for user.

        Args:
            tool_name: Name of the tool.
            input_data: Input parameters for the tool.
            tool_use_id: The tool call's id from Claude, when known.

        Returns:
            Tuple of (approved, deny_message).
        """
        approved, message, _ = await self.decide_call(
            tool_name, input_data, tool_use_id=tool_use_id
        )
        return approved, message

    async def decide_call(
        self, tool_name: str, input_data: dict[str, Any], *, tool_use_id: str | None = None
    ) -> tuple[bool, str | None, dict[str, Any] | None]:
        """Like :meth:`request_permission`, also returning the input to run the tool with.

        The input differs when the decision changed it: a Bash command that runs
        unasked is rewritten to run in the jail, and the answers to an
        ``AskUserQuestion`` are added (see :meth:`answer_questions`).

        Args:
            tool_name: Name of the tool.
            input_data: Input parameters for the tool.
            tool_use_id: The tool call's id from Claude, when known.

        Returns:
            (approved, deny message, updated input or None).
        """
        if tool_use_id is not None and tool_use_id in self._evaluated:
            verdict = self._evaluated.pop(tool_use_id)  # the hook already evaluated it
        else:
            verdict = await self.evaluate(tool_name, input_data)
        if verdict is not None:
            self._audit(tool_name, input_data, verdict.decision, rule=verdict.rule)
            return verdict.approved, verdict.message, verdict.updated_input
        return await self._ask(tool_name, input_data, tool_use_id)

    async def pre_check(
        self, tool_name: str, input_data: dict[str, Any], tool_use_id: str | None = None
    ) -> Verdict | None:
        """The automatic verdict for a call, before Claude Code decides by its own rules.

        This is the ``PreToolUse`` hook's question. A verdict the checker reached
        alone (:attr:`Verdict.unasked`) lets the call run at once and is audited
        here; any other outcome is remembered by `tool_use_id`, so that the
        permission callback that follows does not evaluate the call again.

        Args:
            tool_name: Name of the tool.
            input_data: Input parameters for the tool.
            tool_use_id: The tool call's id from Claude.

        Returns:
            The verdict, or None when a person must decide.
        """
        verdict = await self.evaluate(tool_name, input_data)
        if verdict is not None and verdict.unasked:
            self._audit(tool_name, input_data, verdict.decision, rule=verdict.rule)
        elif tool_use_id is not None:
            self._evaluated[tool_use_id] = verdict
            while len(self._evaluated) > _REMEMBERED:
                self._evaluated.popitem(last=False)
        return verdict

    async def evaluate(self, tool_name: str, input_data: Mapping[str, Any]) -> Verdict | None:
        """Run the automatic part of the decision order, off the event loop and bounded.

        Args:
            tool_name: Name of the tool.
            input_data: Its input.

        Returns:
            The verdict, or None when a person must decide (also when the checks
            failed or took longer than ``check_timeout`` seconds).
        """
        try:
            # One at a time, in arrival order, so that requests are asked in the order
            # Claude made them; the store is read here, on the loop, not in the thread.
            async with self._evaluating:
                rules = self.rules.in_force()
                work = asyncio.to_thread(self._automatic_decision, tool_name, input_data, rules)
                return await asyncio.wait_for(work, self.check_timeout)
        except Exception:
            logger.exception("the automatic checks of a %s call failed; asking", tool_name)
            return None

    async def ask(
        self,
        tool_name: str,
        input_data: dict[str, Any],
        *,
        tool_use_id: str | None = None,
        placed_diff: str | None = None,
    ) -> PendingPermission:
        """Ask a person about a call, without the automatic checks, and wait for the answer.

        For a call whose checks already ran where it will run (another machine's
        checker asked): the request waits, is announced and times out like any other.

        Args:
            tool_name: Name of the tool.
            input_data: Input parameters for the tool.
            tool_use_id: The tool call's id from Claude, when known.
            placed_diff: The change placed in its file where the file is
                (:attr:`PendingPermission.placed_diff`).

        Returns:
            The request, decided: its ``state``, ``deny_message``, ``sticky`` rule
            (an "Always") and ``updated_input`` (answers) say how.
        """
        request = PendingPermission(
            tool_name=tool_name,
            input_data=input_data,
            number=self._next_number(),
            tool_use_id=tool_use_id,
            placed_diff=placed_diff,
        )
        await self._wait_for_person(request)
        return request

    async def _ask(
        self, tool_name: str, input_data: dict[str, Any], tool_use_id: str | None
    ) -> tuple[bool, str | None, dict[str, Any] | None]:
        request = await self.ask(tool_name, input_data, tool_use_id=tool_use_id)
        approved = request.state is PermissionState.APPROVED
        return approved, request.deny_message, request.updated_input

    async def _wait_for_person(self, request: PendingPermission) -> None:
        self._pending[request.request_id] = request
        try:
            if not await self._announce(request):
                self._finish(request, PermissionState.DENIED, "Could not show the approval prompt")
            else:
                await asyncio.wait_for(request.event.wait(), timeout=self.timeout)
        except TimeoutError:
            self._finish(request, PermissionState.TIMEOUT, "Permission request timed out")
        except asyncio.CancelledError:
            self._finish(request, PermissionState.DENIED, "Cancelled")
            raise
        finally:
            await self._report(request)

    def _automatic_decision(
        self, tool_name: str, input_data: Mapping[str, Any], rules: Sequence[StickyApproval]
    ) -> Verdict | None:
        """The policy's verdict for this session's call (runs in a worker thread)."""
        context = CallContext(
            cwd=self.cwd,
            jail=self.jail,
            extra_roots=self.extra_roots,
            deny_rules=tuple(self.deny_rules),
            rules=tuple(rules),
            permission_mode=self.permission_mode,
        )
        return decide(tool_name, input_data, context)

    def matching_sticky(
        self, tool_name: str, input_data: Mapping[str, Any]
    ) -> StickyApproval | None:
        """The sticky rule that approves this call, if any.

        A Bash command made of several simple commands passes when each is
        covered by some rule (or is inert, like ``cd`` inside the cwd).

        Args:
            tool_name: Name of the tool.
            input_data: Its input.
        """
        rules = self.rules.in_force()
        return find_matching(rules, tool_name, input_data, self.cwd)

    def _next_number(self) -> int:
        # Never reused while the handler lives: a decision for "#3" can only mean
        # the request the user saw as #3.
        return next(self._numbers)

    async def _announce(self, request: PendingPermission) -> bool:
        """Tell the front end; False if it could not be told."""
        try:
            if self.on_request is not None:
                await self.on_request(request)
            if self.listener is not None:
                await self.listener.permission_requested(self, request)
            if self.notify_callback is not None:
                await self.notify_callback(request.tool_name, request.input_data)
        except Exception:
            logger.exception("could not announce permission request %s", request.request_id)
            return False
        return True

    async def _report(self, request: PendingPermission) -> None:
        try:
            if self.on_resolved is not None:
                await self.on_resolved(request)
            if self.listener is not None:
                await self.listener.permission_resolved(self, request)
        except Exception:
            logger.exception("could not report the outcome of %s", request.request_id)

    # -- decisions ---------------------------------------------------------

    def _finish(
        self,
        request: PendingPermission,
        state: PermissionState,
        message: str | None = None,
        user_id: int | None = None,
    ) -> bool:
        if self._pending.get(request.request_id) is not request:
            return False
        del self._pending[request.request_id]
        request.state = state
        request.deny_message = message
        request.decided_by = user_id
        request.event.set()
        decision = {
            PermissionState.APPROVED: "always" if request.sticky else "approved",
            PermissionState.DENIED: "denied",
            PermissionState.TIMEOUT: "timeout",
        }.get(state, "unknown")
        rule = request.sticky.describe() if request.sticky else message
        self._audit(request.tool_name, request.input_data, decision, rule=rule, user_id=user_id)
        return True

    def approve(self, request_id: str | None = None, *, user_id: int | None = None) -> bool:
        """Approve a pending permission.

        Args:
            request_id: Which request; the oldest when None.
            user_id: Who approved, for the audit log.

        Returns:
            True if there was such a pending permission to approve.
        """
        request = self._select(request_id)
        return request is not None and self._finish(
            request, PermissionState.APPROVED, user_id=user_id
        )

    def answer_questions(
        self, request_id: str, answers: dict[str, str], *, user_id: int | None = None
    ) -> bool:
        """Answer Claude's ``AskUserQuestion``: the tool runs with the chosen answers.

        Args:
            request_id: The pending ``AskUserQuestion`` request.
            answers: Question text to the chosen option's label.
            user_id: Who answered, for the audit log.

        Returns:
            True if there was such a pending question.
        """
        request = self._pending.get(request_id)
        if request is None or request.tool_name != ASK_USER_QUESTION:
            return False
        request.updated_input = {**request.input_data, "answers": dict(answers)}
        return self._finish(request, PermissionState.APPROVED, user_id=user_id)

    def deny(
        self,
        message: str | None = None,
        request_id: str | None = None,
        *,
        user_id: int | None = None,
    ) -> bool:
        """Deny a pending permission.

        Args:
            message: Optional message explaining denial (told to Claude).
            request_id: Which request; the oldest when None.
            user_id: Who denied, for the audit log.

        Returns:
            True if there was such a pending permission to deny.
        """
        request = self._select(request_id)
        return request is not None and self._finish(
            request, PermissionState.DENIED, message or "User rejected", user_id
        )

    def deny_all(self, message: str) -> int:
        """Deny every pending request (e.g. when the turn is interrupted).

        Args:
            message: Told to Claude for each.

        Returns:
            How many were denied.
        """
        return sum(self.deny(message, r.request_id) for r in self.pending_requests())

    def sticky_approve(
        self,
        request_id: str | None = None,
        *,
        user_id: int | None = None,
        ttl: float | None = None,
        project: bool = False,
    ) -> StickyApproval | None:
        """Approve a pending permission and create a sticky rule for similar calls.

        The rule is scoped to what was approved (see :mod:`voice_agent.policy.rules`)
        and persisted with the session.

        Args:
            request_id: Which request; the oldest when None.
            user_id: Who approved, for the audit log.
            ttl: Seconds the rule lasts (None: until revoked).
            project: Cover every session of the chat working in this project
                (the session's working directory), not just this session.

        Returns:
            The created StickyApproval or None if no such pending permission.
        """
        request = self._select(request_id)
        if request is None:
            return None
        rule = derive_rule(request.tool_name, request.input_data, self.cwd)
        if ttl is not None:
            rule.expires_at = time.time() + ttl
        if project and self.cwd:
            rule.project = os.path.realpath(self.cwd)
        if self.keep_rules:
            self.rules.add(rule)
        request.sticky = rule
        self._finish(request, PermissionState.APPROVED, user_id=user_id)
        return rule

    # -- audit -------------------------------------------------------------

    def _audit(
        self,
        tool_name: str,
        input_data: Mapping[str, Any],
        decision: str,
        *,
        rule: str | None = None,
        user_id: int | None = None,
    ) -> None:
        logger.info(
            "permission %s for %s (chat %s, session %s)",
            decision,
            tool_name,
            self.chat_id,
            self.session_name,
        )
        if self._storage is None:
            return
        self._storage.audit.record(
            AuditEntry(
                tool_name=tool_name,
                input_summary=summarize_input(tool_name, input_data),
                decision=decision,
                chat_id=self.chat_id,
                user_id=user_id,
                session_name=self.session_name,
                rule=rule,
            )
        )
