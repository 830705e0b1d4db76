"""Permission requests of other machines, asked on the hub's front end.

A worker's checker could not let a call run unasked, so it asks the hub
(``va.m.<machine>.ask``). The hub asks a person through the session's own
permission handler (:meth:`~voice_agent.sessions.PermissionHandler.ask`: the
same approval prompt, buttons, words and timeout as a local call, and no
automatic checks: those ran on the worker) and answers with the decision, bound
to the worker's request id; the worker carries it out there, an "Always" rule
included, derived and kept where the commands run. A request the worker ended
itself (``va.m.<machine>.resolved``) takes the hub's prompt down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import nats.errors
from nats.aio.msg import Msg

from voice_agent.edit_preview import MAX_PLACED_BYTES
from voice_agent.machines.connection import Link
from voice_agent.machines.protocol import (
    Ask,
    AskAnswer,
    ProtocolError,
    Resolved,
    from_any,
    machine_of,
)
from voice_agent.machines.runner import Placement
from voice_agent.sessions.decisions import ALWAYS, ANSWER, APPROVE, REJECT
from voice_agent.sessions.manager import SessionManager
from voice_agent.sessions.pending import PendingPermission, PermissionState
from voice_agent.sessions.permissions import ASK_USER_QUESTION

logger = logging.getLogger(__name__)


def answer_of(request_id: str, request: PendingPermission) -> AskAnswer:
    """The decision a person made on the hub's copy of a request, for the worker.

    Args:
        request_id: The worker's request id.
        request: The hub's copy, decided (or timed out).
    """
    if request.state is not PermissionState.APPROVED:
        reason = request.deny_message or "Rejected"
        return AskAnswer(request_id=request_id, action=REJECT, reason=reason)
    user = request.decided_by
    if request.sticky is not None:
        expires = request.sticky.expires_at
        return AskAnswer(
            request_id=request_id,
            action=ALWAYS,
            ttl=max(1.0, expires - time.time()) if expires is not None else None,
            project=request.sticky.project is not None,
            user_id=user,
        )
    answers = (request.updated_input or {}).get("answers")
    if request.tool_name == ASK_USER_QUESTION and isinstance(answers, dict):
        chosen = {str(k): str(v) for k, v in answers.items()}
        return AskAnswer(request_id=request_id, action=ANSWER, answers=chosen, user_id=user)
    return AskAnswer(request_id=request_id, action=APPROVE, user_id=user)


def _placed(ask: Ask) -> str | None:
    """The worker's placed diff, when it is one a prompt can show (else the plain hunk)."""
    placed = ask.placed
    if placed is None or len(placed.encode()) > MAX_PLACED_BYTES or "\n@@ " not in placed:
        return None
    return placed


class AskDesk:
    """Answers the permission requests of every machine, through the hub's sessions."""

    def __init__(
        self,
        link: Link,
        manager: SessionManager,
        placement: Placement,
        chats: Callable[[int], bool],
    ) -> None:
        """Ask people about requests of the sessions of ``manager``.

        Args:
            link: The hub's NATS connection.
            manager: The hub's sessions (their handlers show the prompts).
            placement: Which machine each session lives on.
            chats: The chats this front end answers for (the bot: Telegram's; a
                terminal attached to a machine: its own). Requests of other chats
                are left to the front end that has them.
        """
        self._link = link
        self._manager = manager
        self._placement = placement
        self._chats = chats
        self._waiting: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._repliers: dict[tuple[str, str], list[Msg]] = {}

    async def start(self) -> None:
        """Subscribe to every machine's requests and their ends."""
        client = self._link.client
        await client.subscribe(from_any("ask"), cb=self._on_ask)
        await client.subscribe(from_any("resolved"), cb=self._on_resolved)

    async def aclose(self) -> None:
        """Stop asking: the waiting prompts are cancelled (the workers deny on their side)."""
        for task in list(self._waiting.values()):
            task.cancel()
        if self._waiting:
            await asyncio.wait(list(self._waiting.values()), timeout=10)

    async def _on_ask(self, msg: Msg) -> None:
        try:
            machine = machine_of(msg.subject)
            ask = Ask.decode(msg.data)
        except ProtocolError as error:
            logger.warning("refused a permission request: %s", error)
            return
        if not self._chats(ask.chat_id):
            return  # another front end's chat: it answers
        key = (machine, ask.request_id)
        if key in self._waiting:  # asked again: the one prompt's answer goes to both
            self._repliers[key].append(msg)
            return
        self._repliers[key] = [msg]
        task = asyncio.get_running_loop().create_task(self._answer(key, machine, ask))
        self._waiting[key] = task

        def done(_: object) -> None:
            self._waiting.pop(key, None)
            self._repliers.pop(key, None)

        task.add_done_callback(done)

    async def _answer(self, key: tuple[str, str], machine: str, ask: Ask) -> None:
        session = self._manager.get(ask.chat_id, ask.session)
        if session is None or self._placement.remote_machine(session) != machine:
            logger.warning(
                "%s asked about session %s of chat %s, which does not live there",
                machine,
                ask.session,
                ask.chat_id,
            )
            refusal = AskAnswer(
                request_id=ask.request_id,
                action=REJECT,
                reason=f"The hub has no session {ask.session} on {machine}",
            )
            await self._respond(key, refusal)
            return
        handler = session.permission_handler
        handler.keep_rules = False  # an "Always" is kept on the machine, not here
        try:
            request = await handler.ask(
                ask.tool_name,
                dict(ask.input),
                tool_use_id=ask.tool_use_id,
                placed_diff=_placed(ask),
            )
        except asyncio.CancelledError:
            return  # ended on the worker (or the hub stopping): nothing to answer
        await self._respond(key, answer_of(ask.request_id, request))

    async def _respond(self, key: tuple[str, str], answer: AskAnswer) -> None:
        """Answer every time the request was asked (the worker waits on the latest)."""
        for msg in self._repliers.get(key, []):
            with contextlib.suppress(nats.errors.Error):
                await msg.respond(answer.encode())

    async def _on_resolved(self, msg: Msg) -> None:
        try:
            machine = machine_of(msg.subject)
            resolved = Resolved.decode(msg.data)
        except ProtocolError as error:
            logger.warning("refused a resolved request: %s", error)
            return
        task = self._waiting.get((machine, resolved.request_id))
        if task is not None:
            task.cancel()
