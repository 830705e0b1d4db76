"""Fixtures for end-to-end tests that drive the real Claude Code CLI against FakeAnthropic.

The main entry point is the ``harness`` fixture: a :class:`CliHarness` holding a
running :class:`~tests.fakes.anthropic.FakeAnthropic`, a temporary ``HOME``, a
working directory, the CLI environment, and a recording ``can_use_tool``
callback whose decisions the test can script.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from claude_agent_sdk import (
    ClaudeAgentOptions,
    ClaudeSDKClient,
    Message,
    PermissionResult,
    PermissionResultAllow,
    PermissionResultDeny,
    ResultMessage,
    ToolPermissionContext,
)

from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.cli_env import cli_env

TURN_TIMEOUT = 30.0
"""Upper bound for one prompt's round trip; a healthy turn takes well under a second."""


@dataclass(frozen=True)
class PermissionCall:
    """One ``can_use_tool`` call the CLI made."""

    tool_name: str
    input: dict[str, Any]
    context: ToolPermissionContext


Decide = Callable[[str, dict[str, Any]], PermissionResult]


@dataclass
class Permissions:
    """A ``can_use_tool`` callback that records every call and answers from ``decide``.

    By default it allows everything.
    """

    decide: Decide = field(default=lambda _name, _input: PermissionResultAllow())
    calls: list[PermissionCall] = field(default_factory=list)

    async def __call__(
        self, tool_name: str, tool_input: dict[str, Any], context: ToolPermissionContext
    ) -> PermissionResult:
        self.calls.append(PermissionCall(tool_name, tool_input, context))
        return self.decide(tool_name, tool_input)

    def allow_all(self) -> None:
        self.decide = lambda _name, _input: PermissionResultAllow()

    def deny_all(self, message: str) -> None:
        self.decide = lambda _name, _input: PermissionResultDeny(message=message)


@dataclass(frozen=True)
class Turn:
    """Every message the SDK yielded for one prompt, ending with its ResultMessage."""

    messages: list[Message]

    @property
    def result(self) -> ResultMessage:
        last = self.messages[-1]
        assert isinstance(last, ResultMessage), f"turn did not end in a result: {last!r}"
        return last

    def of_type(self, kind: type[Any]) -> list[Any]:
        return [m for m in self.messages if isinstance(m, kind)]


@dataclass
class CliHarness:
    """A fake Anthropic API plus everything needed to run the real CLI against it."""

    fake: FakeAnthropic
    home: Path
    workdir: Path
    env: dict[str, str]
    permissions: Permissions

    def options(self, **overrides: Any) -> ClaudeAgentOptions:
        """Options for a client on the fake: isolated HOME, no settings, partial messages."""
        base = ClaudeAgentOptions(
            cwd=self.workdir,
            env=self.env,
            setting_sources=[],
            can_use_tool=self.permissions,
            include_partial_messages=True,
        )
        return dataclasses.replace(base, **overrides)

    @asynccontextmanager
    async def client(self, **overrides: Any) -> AsyncIterator[ClaudeSDKClient]:
        """A connected ``ClaudeSDKClient``; disconnected on exit."""
        async with asyncio.timeout(TURN_TIMEOUT):
            client = ClaudeSDKClient(self.options(**overrides))
            await client.connect()
        try:
            yield client
        finally:
            async with asyncio.timeout(TURN_TIMEOUT):
                await client.disconnect()

    async def turn(
        self,
        client: ClaudeSDKClient,
        prompt: str | None = None,
        *,
        on_message: Callable[[Message], Any] | None = None,
    ) -> Turn:
        """Send ``prompt`` (unless ``None``: already sent) and collect messages to the result."""
        if prompt is not None:
            await client.query(prompt)
        messages: list[Message] = []
        async with asyncio.timeout(TURN_TIMEOUT):
            async for message in client.receive_response():
                messages.append(message)
                if on_message is not None:
                    maybe = on_message(message)
                    if asyncio.iscoroutine(maybe):
                        await maybe
        return Turn(messages)


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    """A running fake Messages API; fails the test if the server itself raised."""
    with FakeAnthropic() as fake:
        yield fake
        assert fake.errors == [], f"FakeAnthropic raised: {fake.errors!r}"


@pytest.fixture
def cli_home(tmp_path: Path) -> Path:
    """A temporary HOME for the CLI (config, session transcripts, TMPDIR)."""
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The CLI's working directory."""
    work = tmp_path / "work"
    work.mkdir()
    return work


@pytest.fixture
def harness(fake_anthropic: FakeAnthropic, cli_home: Path, workdir: Path) -> CliHarness:
    """Everything an e2e test needs to run the real CLI against the fake."""
    return CliHarness(
        fake=fake_anthropic,
        home=cli_home,
        workdir=workdir,
        env=cli_env(fake_anthropic.base_url, cli_home),
        permissions=Permissions(),
    )


# -- SessionManager over the real CLI -----------------------------------------------


class RequestLog:
    """Permission requests the manager announced, as a front end would receive them."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.resolved: list[Any] = []
        self._changed = asyncio.Condition()

    async def on_request(self, session: Any, request: Any) -> None:
        async with self._changed:
            self.requests.append(request)
            self._changed.notify_all()

    async def on_resolved(self, session: Any, request: Any) -> None:
        async with self._changed:
            self.resolved.append(request)
            self._changed.notify_all()

    async def wait_requests(self, count: int) -> list[Any]:
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.requests) >= count), TURN_TIMEOUT
            )
        return self.requests[:count]


def make_manager(
    harness: CliHarness,
    db: Path,
    *,
    max_live_clients: int = 4,
    permission_timeout: int | float = 30,
    jail: Any = None,
) -> tuple[Any, RequestLog]:
    """A SessionManager on the real CLI and the fake, with a request log attached."""
    from voice_agent.agent.options import AgentSettings
    from voice_agent.sessions import SessionManager, SessionStorage

    settings = AgentSettings(
        env=harness.env,
        setting_sources=(),
        max_live_clients=max_live_clients,
        idle_timeout=None,
    )
    manager = SessionManager(
        default_cwd=str(harness.workdir),
        permission_timeout=permission_timeout,  # type: ignore[arg-type]
        storage=SessionStorage(db),
        agent=settings,
        jail=jail,
    )
    log = RequestLog()
    manager.set_permission_listeners(log.on_request, log.on_resolved)
    return manager, log


@pytest.fixture
async def managed(harness: CliHarness, tmp_path: Path) -> AsyncIterator[tuple[Any, RequestLog]]:
    """A SessionManager (max 4 live clients) and its request log; closed after the test."""
    manager, log = make_manager(harness, tmp_path / "sessions.db")
    try:
        yield manager, log
    finally:
        async with asyncio.timeout(TURN_TIMEOUT):
            await manager.aclose()
