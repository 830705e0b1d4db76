"""Lifecycle of live clients and the pool, on fake SDK clients: starting, stopping, cancelling.

The real CLI versions of the start timeout and of a bot's stop are in
``tests/e2e/test_lifecycle_e2e.py``.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from claude_agent_sdk import ClaudeAgentOptions

from tests.fakes.sdk_client import Behaviour, FakeClients
from voice_agent.agent.client import AgentUnavailable, LiveClient
from voice_agent.agent.events import TurnResult
from voice_agent.agent.pool import ClientPool

WAIT = 5.0  # bound for things that happen at once; nothing here waits that long when it works


def _options() -> tuple[ClaudeAgentOptions, object]:
    return ClaudeAgentOptions(), None


async def _lease(pool: ClientPool, key: str) -> None:
    async with pool.lease(key, _options):
        pass


def _owner_task(key: str) -> asyncio.Task[object]:
    return next(t for t in asyncio.all_tasks() if t.get_name() == f"claude-client-{key}")


async def _turn(client: LiveClient) -> list[object]:
    return [event async for event in client.run_turn("hi")]


async def test_start_timeout_ends_the_wait_in_time_and_stops_connecting() -> None:
    fakes = FakeClients(Behaviour(connect_hangs=True))
    client = LiveClient(ClaudeAgentOptions(), key="late", start_timeout=0.2, sdk_client=fakes)
    started = time.monotonic()
    with pytest.raises(AgentUnavailable, match=r"did not start within 0\.2 s"):
        await asyncio.wait_for(client.start(), WAIT)
    assert time.monotonic() - started < 1.0
    assert not client.alive
    (fake,) = fakes.made
    await asyncio.wait_for(fake.connect_cancelled.wait(), WAIT)
    await asyncio.wait_for(client.close(), WAIT)


async def test_close_while_connecting_stops_it_at_once() -> None:
    fakes = FakeClients(Behaviour(connect_hangs=True))
    client = LiveClient(ClaudeAgentOptions(), key="closing", sdk_client=fakes)  # 60 s timeout
    starting = asyncio.create_task(client.start())
    await asyncio.wait_for(fakes.any_made.wait(), WAIT)
    await asyncio.wait_for(fakes.made[0].connecting.wait(), WAIT)
    await asyncio.wait_for(client.close(), WAIT)
    with pytest.raises(AgentUnavailable, match="stopped while starting"):
        await asyncio.wait_for(starting, WAIT)
    assert fakes.made[0].connect_cancelled.is_set()


async def test_a_cancelled_owner_task_ends_cancelled_even_while_stopping_a_stubborn_turn() -> None:
    behaviour = Behaviour(stubborn_turn=True)
    fakes = FakeClients(behaviour)
    client = LiveClient(
        ClaudeAgentOptions(), key="stubborn", interrupt_timeout=0.05, sdk_client=fakes
    )
    await asyncio.wait_for(client.start(), WAIT)
    (fake,) = fakes.made
    turn = asyncio.create_task(_turn(client))
    await asyncio.wait_for(fake.turn_started.wait(), WAIT)
    closing = asyncio.create_task(client.close())
    # The turn ignored the interrupt, so the owner cancelled it and waits for it to end.
    await asyncio.wait_for(fake.turn_cancelled.wait(), WAIT)
    owner = _owner_task("stubborn")
    owner.cancel()
    behaviour.release.set()
    await asyncio.wait_for(asyncio.wait({owner}), WAIT)
    assert owner.cancelled(), "the owner task swallowed its own cancellation"
    await asyncio.wait_for(closing, WAIT)  # close() returns; it does not raise the owner's end
    assert fake.disconnected.is_set()
    events = await asyncio.wait_for(turn, WAIT)
    assert events  # the reader heard how the turn ended
    assert not client.alive


async def test_an_interrupt_whose_caller_gave_up_leaves_the_client_usable() -> None:
    behaviour = Behaviour(stubborn_turn=True, slow_interrupt=True)
    fakes = FakeClients(behaviour)
    client = LiveClient(
        ClaudeAgentOptions(), key="impatient", interrupt_timeout=0.05, sdk_client=fakes
    )
    await asyncio.wait_for(client.start(), WAIT)
    (fake,) = fakes.made
    turn = asyncio.create_task(_turn(client))
    await asyncio.wait_for(fake.turn_started.wait(), WAIT)
    asking = asyncio.create_task(client.interrupt())
    await asyncio.wait_for(fake.interrupting.wait(), WAIT)
    asking.cancel()  # the caller stops waiting while the CLI is still being interrupted
    await asyncio.wait({asking})
    behaviour.release.set()
    # The owner task carried on: the next interrupt reaches the CLI again.
    assert await asyncio.wait_for(client.interrupt(), WAIT) is True
    assert client.alive
    await asyncio.wait_for(client.close(), WAIT)
    await asyncio.wait_for(turn, WAIT)
    assert fake.disconnected.is_set()
    assert _no_owner_left("impatient")


def _no_owner_left(key: str) -> bool:
    return not any(t.get_name() == f"claude-client-{key}" for t in asyncio.all_tasks())


async def test_pool_start_timeout_frees_the_slot_for_the_next_turn() -> None:
    fakes = FakeClients(Behaviour(connect_hangs=True), Behaviour())
    pool = ClientPool(max_live=1, idle_timeout=None, start_timeout=0.2, sdk_client=fakes)
    try:
        with pytest.raises(AgentUnavailable, match="did not start"):
            await asyncio.wait_for(_lease(pool, "a"), WAIT)
        async with asyncio.timeout(WAIT):
            async with pool.lease("b", _options) as client:  # the one slot is free again
                events = await _turn(client)
        assert isinstance(events[-1], TurnResult)
        assert pool.live_count == 1
    finally:
        await asyncio.wait_for(pool.close_all(), WAIT)
    assert pool.live_count == 0


async def test_close_all_waits_for_a_client_whose_closing_was_abandoned() -> None:
    behaviour = Behaviour(slow_disconnect=True)
    fakes = FakeClients(behaviour)
    pool = ClientPool(max_live=2, idle_timeout=None, sdk_client=fakes)
    async with asyncio.timeout(WAIT):
        async with pool.lease("a", _options):
            pass
    (fake,) = fakes.made
    closing = asyncio.create_task(pool.close("a"))
    await asyncio.wait_for(fake.disconnecting.wait(), WAIT)
    closing.cancel()  # e.g. the /close handler is cancelled at shutdown
    await asyncio.wait({closing})
    shutting = asyncio.create_task(pool.close_all())
    done, _ = await asyncio.wait({shutting}, timeout=0.5)
    assert not done, "close_all returned while a client of the pool was still disconnecting"
    behaviour.release.set()
    await asyncio.wait_for(shutting, WAIT)
    assert fake.disconnected.is_set()
    assert _no_owner_left("a")
    leftovers = [t for t in asyncio.all_tasks() if "ClientPool" in repr(t.get_coro())]
    assert leftovers == []
