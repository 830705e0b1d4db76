"""Relays permission requests of every session to the front end's listeners."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from voice_agent.sessions.permissions import PendingPermission, PermissionHandler
from voice_agent.sessions.session import Session

RequestListener = Callable[[Session, PendingPermission], Awaitable[None]]


class PermissionRelay:
    """One listener shared by all sessions' handlers (nothing is built per session).

    Attributes:
        on_request: Awaited with ``(session, request)`` when a request starts waiting.
        on_resolved: Awaited with ``(session, request)`` once it is decided or timed out.
    """

    def __init__(self, sessions: Mapping[int, Mapping[str, Session]]) -> None:
        """Relay for the sessions in ``sessions`` (chat id -> name -> session).

        Args:
            sessions: The manager's live mapping of sessions.
        """
        self._sessions = sessions
        self._asking: dict[str, Session] = {}  # by request id, until resolved
        self.on_request: RequestListener | None = None
        self.on_resolved: RequestListener | None = None

    async def permission_requested(
        self, handler: PermissionHandler, request: PendingPermission
    ) -> None:
        """Pass a session's new permission request to the front end's listener."""
        session = self._session_of(handler)
        if session is not None:
            self._asking[request.request_id] = session
        if self.on_request is not None and session is not None:
            await self.on_request(session, request)

    async def permission_resolved(
        self, handler: PermissionHandler, request: PendingPermission
    ) -> None:
        """Pass a decided permission request to the front end's listener.

        Also when its session was closed meanwhile (``/close``): its prompt still
        has to say how the request ended.
        """
        session = self._asking.pop(request.request_id, None) or self._session_of(handler)
        if self.on_resolved is not None and session is not None:
            await self.on_resolved(session, request)

    def _session_of(self, handler: PermissionHandler) -> Session | None:
        if handler.chat_id is None or handler.session_name is None:
            return None
        session = self._sessions.get(handler.chat_id, {}).get(handler.session_name)
        return session if session is not None and session.permission_handler is handler else None
