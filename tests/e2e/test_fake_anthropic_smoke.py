"""Smoke tests: the real Claude Code CLI, driven through ClaudeSDKClient, against FakeAnthropic."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from claude_agent_sdk import (
    AssistantMessage,
    Message,
    PermissionResultAllow,
    PermissionResultDeny,
    ResultMessage,
    StreamEvent,
    TextBlock,
    ToolResultBlock,
    UserMessage,
)

from tests.e2e.conftest import CliHarness
from tests.fakes.anthropic import MessagesRequest, Reply

pytestmark = pytest.mark.e2e

WAIT = 30.0

# A 1x1 transparent PNG.
PNG_1X1 = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000185d6b1e40000000049454e44ae426082"
    )
).decode()


def text_deltas(messages: list[Message]) -> list[str]:
    return [
        m.event["delta"]["text"]
        for m in messages
        if isinstance(m, StreamEvent)
        and m.event.get("type") == "content_block_delta"
        and m.event.get("delta", {}).get("type") == "text_delta"
    ]


def assistant_text(messages: list[Message]) -> str:
    return "".join(
        block.text
        for m in messages
        if isinstance(m, AssistantMessage)
        for block in m.content
        if isinstance(block, TextBlock)
    )


async def test_text_reply_streams_back(harness: CliHarness) -> None:
    harness.fake.enqueue(Reply.text("Hello from the fake, in three chunks.", chunk_size=13))

    async with harness.client() as client:
        turn = await harness.turn(client, "Say hello")

    assert assistant_text(turn.messages) == "Hello from the fake, in three chunks."
    assert text_deltas(turn.messages) == ["Hello from th", "e fake, in th", "ree chunks."]
    result = turn.result
    assert result.subtype == "success"
    assert not result.is_error
    assert result.session_id
    assert result.result == "Hello from the fake, in three chunks."

    (request,) = harness.fake.main_requests
    assert request.stream
    assert request.path == "/v1/messages"
    assert request.query == {"beta": ["true"]}
    assert request.last_user_text() == "Say hello"
    assert {"Write", "Bash", "Read"} <= set(request.tool_names())
    assert request.headers["x-api-key"]
    assert request.headers["x-claude-code-session-id"] == result.session_id
    # With CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC there are no side calls at all.
    assert harness.fake.requests == harness.fake.main_requests


async def test_write_approved_reaches_can_use_tool_and_runs(harness: CliHarness) -> None:
    target = harness.workdir / "approved.txt"
    harness.fake.enqueue(
        Reply.tool_use("Write", {"file_path": str(target), "content": "approved!\n"}),
        Reply.text("Written."),
    )

    async with harness.client() as client:
        turn = await harness.turn(client, "Write the file")

    assert turn.result.subtype == "success"
    assert assistant_text(turn.messages) == "Written."
    (call,) = harness.permissions.calls
    assert call.tool_name == "Write"
    assert call.input == {"file_path": str(target), "content": "approved!\n"}
    assert target.read_text() == "approved!\n"

    second = await harness.fake.main_request(2)
    (result,) = second.tool_results()
    assert result.tool_use_id == call.context.tool_use_id
    assert not result.is_error
    assert "File created successfully" in result.content
    # The SDK also surfaces the tool result as a UserMessage.
    sdk_results = [
        block
        for m in turn.of_type(UserMessage)
        if isinstance(m.content, list)
        for block in m.content
        if isinstance(block, ToolResultBlock)
    ]
    assert [b.tool_use_id for b in sdk_results] == [result.tool_use_id]


async def test_write_denied_sends_message_back_as_tool_result(harness: CliHarness) -> None:
    target = harness.workdir / "denied.txt"
    harness.permissions.deny_all("Not today: the user said no.")
    harness.fake.enqueue(
        Reply.tool_use("Write", {"file_path": str(target), "content": "nope"}),
        Reply.text("Understood, not writing."),
    )

    async with harness.client() as client:
        turn = await harness.turn(client, "Write the file")

    assert turn.result.subtype == "success"
    assert [c.tool_name for c in harness.permissions.calls] == ["Write"]
    assert not target.exists()
    second = await harness.fake.main_request(2)
    (result,) = second.tool_results()
    assert result.is_error
    assert "Not today: the user said no." in result.content
    assert turn.result.permission_denials
    assert turn.result.permission_denials[0]["tool_name"] == "Write"


async def test_image_prompt_reaches_the_fake(harness: CliHarness) -> None:
    harness.fake.enqueue(Reply.text("A tiny transparent square."))

    async def prompt() -> AsyncIterator[dict[str, Any]]:
        yield {
            "type": "user",
            "message": {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG_1X1},
                    },
                    {"type": "text", "text": "What is in this picture?"},
                ],
            },
            "parent_tool_use_id": None,
            "session_id": "default",
        }

    async with harness.client() as client:
        await client.query(prompt())
        turn = await harness.turn(client)

    assert assistant_text(turn.messages) == "A tiny transparent square."
    (request,) = harness.fake.main_requests
    assert request.has_image()
    (image,) = request.images()
    assert image.media_type == "image/png"
    assert image.source_type == "base64"
    assert image.data == PNG_1X1
    assert request.last_user_text() == "What is in this picture?"
    # The CLI also saves the image under TMPDIR and tells the model where.
    assert "[Image: source: " in request.all_text()


async def test_resume_sends_earlier_turns(harness: CliHarness) -> None:
    harness.fake.enqueue(Reply.text("Noted: the word is pomegranate."))
    async with harness.client() as client:
        first = await harness.turn(client, "Remember the word pomegranate.")
    session_id = first.result.session_id

    harness.fake.enqueue(Reply.text("It was pomegranate."))
    async with harness.client(resume=session_id) as client:
        second = await harness.turn(client, "Which word did I ask you to remember?")

    assert assistant_text(second.messages) == "It was pomegranate."
    assert second.result.session_id == session_id
    resumed = await harness.fake.main_request(2)
    assert resumed.last_user_text() == "Which word did I ask you to remember?"
    assert "Remember the word pomegranate." in resumed.user_texts()
    assert "Noted: the word is pomegranate." in resumed.assistant_texts()


async def test_interrupt_mid_stream_then_prompt_again(harness: CliHarness) -> None:
    slow = "word " * 400  # 400 chunks x 50 ms = 20 s if never interrupted
    harness.fake.enqueue(Reply.text(slow, chunk_size=5, chunk_delay=0.05), Reply.text("Back."))

    async with harness.client() as client:
        interrupted_at: list[float] = []

        async def interrupt_on_first_delta(message: Message) -> None:
            if not interrupted_at and text_deltas([message]):
                interrupted_at.append(time.monotonic())
                await client.interrupt()

        turn = await harness.turn(
            client, "Tell me a long story", on_message=interrupt_on_first_delta
        )
        took = time.monotonic() - interrupted_at[0]
        assert took < 5.0, f"interrupt took {took:.2f}s"
        result = turn.result
        assert isinstance(result, ResultMessage)
        assert result.terminal_reason == "aborted_streaming"
        assert len(text_deltas(turn.messages)) < 100

        # The fake sees the CLI drop the stream.
        first = harness.fake.main_requests[0]
        await asyncio.wait_for(
            harness.fake.until(lambda ex: ex[first.index].finished_at is not None), WAIT
        )
        assert harness.fake.exchange_for(first).client_disconnected

        again = await harness.turn(client, "Are you still there?")

    assert assistant_text(again.messages) == "Back."
    assert again.result.subtype == "success"
    assert not again.result.is_error
    last = await harness.fake.main_request(2)
    assert last.last_user_text() == "Are you still there?"


def test_messages_request_helpers_ignore_reminders_and_environment() -> None:
    request = MessagesRequest(
        index=0,
        method="POST",
        path="/v1/messages",
        query={},
        headers={},
        body={
            "system": [{"type": "text", "text": "You are a test."}],
            "tools": [{"name": "Write"}],
            "messages": [
                {"role": "user", "content": "first"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t1", "name": "Write", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "t1", "content": "ok"},
                        {"type": "text", "text": "<system-reminder>\nignore me\n</system-reminder>"},
                        {"type": "text", "text": "and now this"},
                    ],
                },
                {"role": "system", "content": [{"type": "text", "text": "# Environment"}]},
            ],
        },
        received_at=0.0,
    )
    assert request.is_main()
    assert request.system == "You are a test."
    assert request.last_user_text() == "and now this"
    (result,) = request.tool_results()
    assert (result.tool_use_id, result.content, result.is_error) == ("t1", "ok", False)
    assert not request.has_image()
    assert request.user_texts() == ["first", "and now this"]


def test_reply_stop_reasons() -> None:
    assert Reply.text("x").effective_stop_reason == "end_turn"
    assert Reply.tool_use("Bash", {"command": "true"}).effective_stop_reason == "tool_use"
    both = Reply.tool_uses(("Read", {"file_path": "/a"}), ("Read", {"file_path": "/b"}))
    assert len(both.blocks) == 2
    assert both.effective_stop_reason == "tool_use"
    assert Reply.http_error(529).error is not None


async def test_permission_result_allow_is_default(harness: CliHarness) -> None:
    # Sanity check of the harness itself, without the CLI.
    decision = await harness.permissions("Bash", {"command": "true"}, _context())
    assert isinstance(decision, PermissionResultAllow)
    harness.permissions.deny_all("no")
    decision = await harness.permissions("Bash", {"command": "true"}, _context())
    assert isinstance(decision, PermissionResultDeny)


def _context() -> Any:
    from claude_agent_sdk import ToolPermissionContext

    return ToolPermissionContext(tool_use_id="toolu_x")
