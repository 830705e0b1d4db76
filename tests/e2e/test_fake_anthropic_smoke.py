"""Smoke tests: the real Claude Code CLI, driven through ClaudeSDKClient, against FakeAnthropic.

The e2e tests each start the real CLI (~0.5 s) and finish in well under a second.
The tests without the marker check the fake's own helpers without the CLI.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest
from claude_agent_sdk import (
    AssistantMessage,
    Message,
    StreamEvent,
    SystemMessage,
    TextBlock,
    ToolResultBlock,
    UserMessage,
)

from tests.e2e.conftest import CliHarness
from tests.fakes.anthropic import (
    FakeAnthropic,
    MessagesRequest,
    Reply,
    TextPart,
    ToolUsePart,
)

WAIT = 30.0
"""Upper bound for waits on the fake; they normally end within milliseconds."""

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


def sdk_tool_results(messages: list[Message]) -> list[ToolResultBlock]:
    return [
        block
        for m in messages
        if isinstance(m, UserMessage) and isinstance(m.content, list)
        for block in m.content
        if isinstance(block, ToolResultBlock)
    ]


# --------------------------------------------------------------------------- #
# The real CLI
# --------------------------------------------------------------------------- #


@pytest.mark.e2e
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
    assert result.stop_reason == "end_turn"

    (request,) = harness.fake.main_requests
    assert request.stream
    assert request.path == "/v1/messages"
    assert request.query == {"beta": ["true"]}
    assert request.last_user_text() == "Say hello"
    assert {"Write", "Bash", "Read"} <= set(request.tool_names())
    assert request.headers["x-api-key"]
    assert "authorization" not in request.headers
    assert request.headers["x-claude-code-session-id"] == result.session_id
    # With CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC there are no side calls at all.
    assert harness.fake.requests == harness.fake.main_requests


@pytest.mark.e2e
async def test_script_callable_answers_each_turn(harness: CliHarness) -> None:
    harness.fake.script = lambda request: Reply.text(f"echo: {request.last_user_text()}")

    async with harness.client() as client:
        first = await harness.turn(client, "one")
        second = await harness.turn(client, "two")

    assert assistant_text(first.messages) == "echo: one"
    assert assistant_text(second.messages) == "echo: two"
    assert first.result.session_id == second.result.session_id
    later = await harness.fake.main_request(2)
    assert later.user_texts() == ["one", "two"]
    assert later.assistant_texts() == ["echo: one"]


@pytest.mark.e2e
async def test_write_approved_reaches_can_use_tool_and_runs(harness: CliHarness) -> None:
    target = harness.workdir / "approved.txt"
    harness.fake.enqueue(
        Reply.tool_use("Write", {"file_path": str(target), "content": "approved!\n"}),
        Reply.text("Written."),
    )

    async with harness.client() as client:
        turn = await harness.turn(client, "Write the file")

    assert turn.result.subtype == "success"
    assert turn.result.num_turns == 2
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
    assert [b.tool_use_id for b in sdk_tool_results(turn.messages)] == [result.tool_use_id]


@pytest.mark.e2e
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
    assert result.content == "Not today: the user said no."
    assert turn.result.permission_denials
    assert turn.result.permission_denials[0]["tool_name"] == "Write"


@pytest.mark.e2e
async def test_parallel_tool_calls_come_back_together(harness: CliHarness) -> None:
    a, b = harness.workdir / "a.txt", harness.workdir / "b.txt"
    harness.fake.enqueue(
        Reply.of(
            TextPart("Writing both."),
            ToolUsePart("Write", {"file_path": str(a), "content": "A"}, id="toolu_a"),
            ToolUsePart("Write", {"file_path": str(b), "content": "B"}, id="toolu_b"),
        ),
        Reply.text("Both written."),
    )

    async with harness.client() as client:
        turn = await harness.turn(client, "Write two files")

    assert turn.result.subtype == "success"
    assert [c.context.tool_use_id for c in harness.permissions.calls] == ["toolu_a", "toolu_b"]
    assert (a.read_text(), b.read_text()) == ("A", "B")
    second = await harness.fake.main_request(2)
    assert [r.tool_use_id for r in second.tool_results()] == ["toolu_a", "toolu_b"]
    assert [u["id"] for u in second.tool_uses()] == ["toolu_a", "toolu_b"]


@pytest.mark.e2e
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
    (image,) = request.images()
    assert (image.source_type, image.media_type, image.data) == ("base64", "image/png", PNG_1X1)
    assert request.last_user_text() == "What is in this picture?"
    # The CLI also saves the image under TMPDIR and tells the model where.
    assert "[Image: source: " in request.all_text()


@pytest.mark.e2e
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
    assert resumed.headers["x-claude-code-session-id"] == session_id
    assert resumed.last_user_text() == "Which word did I ask you to remember?"
    assert resumed.user_texts() == [
        "Remember the word pomegranate.",
        "Which word did I ask you to remember?",
    ]
    assert resumed.assistant_texts() == ["Noted: the word is pomegranate."]


@pytest.mark.e2e
async def test_interrupt_mid_stream_then_prompt_again(harness: CliHarness) -> None:
    slow = "word " * 400  # 400 deltas x 50 ms = 20 s if never interrupted
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
        assert len(text_deltas(turn.messages)) < 100
        result = turn.result
        assert result.is_error
        assert result.subtype == "error_during_execution"
        assert result.terminal_reason == "aborted_streaming"
        # The partial text comes back as an AssistantMessage, then the CLI's note.
        assert assistant_text(turn.messages).startswith("word")
        notes = [
            m
            for m in turn.of_type(UserMessage)
            if m.content == [TextBlock(text="[Request interrupted by user]")]
        ]
        assert len(notes) == 1

        # The fake sees the CLI drop the stream.
        exchange = await asyncio.wait_for(harness.fake.main_finished(1), WAIT)
        assert exchange.client_disconnected
        assert not exchange.completed

        again = await harness.turn(client, "Are you still there?")

    assert assistant_text(again.messages) == "Back."
    assert again.result.subtype == "success"
    assert not again.result.is_error
    last = await harness.fake.main_request(2)
    assert last.follows_interrupt()
    assert last.last_user_text() == "Are you still there?"
    assert last.assistant_texts()[0].startswith("word")


@pytest.mark.e2e
async def test_hang_holds_the_stream_until_released(harness: CliHarness) -> None:
    release = threading.Event()
    harness.fake.enqueue(Reply.text("first half, second half", chunk_size=12, hang=release))
    first_delta = asyncio.Event()

    def on_message(message: Message) -> None:
        if text_deltas([message]):
            first_delta.set()

    async with harness.client() as client:
        await client.query("Take your time")
        collecting = asyncio.create_task(harness.turn(client, on_message=on_message))
        await asyncio.wait_for(first_delta.wait(), WAIT)
        exchange = harness.fake.exchanges[harness.fake.main_requests[0].index]
        assert exchange.finished_at is None
        assert not collecting.done()
        release.set()
        turn = await asyncio.wait_for(collecting, WAIT)

    assert text_deltas(turn.messages) == ["first half, ", "second half"]
    assert turn.result.subtype == "success"


@pytest.mark.e2e
async def test_http_error_ends_the_turn_with_an_error_result(harness: CliHarness) -> None:
    harness.fake.enqueue(Reply.http_error(529, "Overloaded"), Reply.text("Fine again."))

    async with harness.client() as client:
        failed = await harness.turn(client, "Hello?")
        recovered = await harness.turn(client, "Hello again?")

    assert failed.result.is_error
    assert failed.result.api_error_status == 529
    (message,) = failed.of_type(AssistantMessage)
    assert message.error == "server_error"
    assert "Overloaded" in assistant_text(failed.messages)
    assert assistant_text(recovered.messages) == "Fine again."
    # x-should-retry: false means one request per prompt, no backoff.
    assert len(harness.fake.main_requests) == 2
    assert not any(
        isinstance(m, SystemMessage) and m.subtype == "api_retry" for m in failed.messages
    )


# --------------------------------------------------------------------------- #
# The fake alone
# --------------------------------------------------------------------------- #


def _post(url: str, body: dict[str, Any]) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())


_TOOLS = [{"name": "Write", "input_schema": {"type": "object"}}]


def test_non_streaming_request_gets_a_json_message() -> None:
    with FakeAnthropic(
        replies=[Reply.tool_use("Write", {"file_path": "/x"}, id="toolu_1")]
    ) as fake:
        status, raw = _post(
            f"{fake.base_url}/v1/messages",
            {
                "model": "m",
                "stream": False,
                "tools": _TOOLS,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )
    assert status == 200
    message = json.loads(raw)
    assert message["stop_reason"] == "tool_use"
    assert message["content"] == [
        {"type": "tool_use", "id": "toolu_1", "name": "Write", "input": {"file_path": "/x"}}
    ]
    assert message["model"] == "m"


def test_streaming_request_gets_server_sent_events() -> None:
    with FakeAnthropic(replies=[Reply.text("abcdef", chunk_size=4)]) as fake:
        status, raw = _post(
            f"{fake.base_url}/v1/messages?beta=true",
            {
                "model": "m",
                "stream": True,
                "tools": _TOOLS,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )
    assert status == 200
    events = [
        line.removeprefix("event: ")
        for line in raw.decode().splitlines()
        if line.startswith("event: ")
    ]
    assert events == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert '"stop_reason": "end_turn"' in raw.decode()


def test_side_requests_errors_and_unknown_paths() -> None:
    with FakeAnthropic(replies=[Reply.http_error(400, "bad")]) as fake:
        titled = _post(
            f"{fake.base_url}/v1/messages",
            {
                "model": "m",
                "tools": [],
                "messages": [{"role": "user", "content": "x"}],
                "output_config": {
                    "format": {
                        "type": "json_schema",
                        "schema": {"type": "object", "properties": {"title": {"type": "string"}}},
                    }
                },
            },
        )
        failed = _post(
            f"{fake.base_url}/v1/messages",
            {"model": "m", "tools": _TOOLS, "messages": [{"role": "user", "content": "x"}]},
        )
        counted = _post(f"{fake.base_url}/v1/messages/count_tokens", {"messages": []})
        missing = _post(f"{fake.base_url}/v1/elsewhere", {})
        assert len(fake.requests) == 4
        assert len(fake.main_requests) == 1
        assert len(fake.side_requests) == 1

    assert titled[0] == 200
    assert json.loads(json.loads(titled[1])["content"][0]["text"]) == {"title": "Fake title"}
    assert failed[0] == 400
    assert json.loads(failed[1])["error"] == {"type": "invalid_request_error", "message": "bad"}
    assert counted[0] == 200
    assert json.loads(counted[1])["input_tokens"] >= 1
    assert missing[0] == 404
    assert json.loads(missing[1])["type"] == "error"


def test_wait_for_main_request_times_out_cleanly() -> None:
    with FakeAnthropic() as fake, pytest.raises(TimeoutError, match="main request #1"):
        fake.wait_for_main_request(1, timeout=0.05)


def test_messages_request_helpers_ignore_cli_injections() -> None:
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
                        {
                            "type": "text",
                            "text": "<system-reminder>\nignore me\n</system-reminder>",
                        },
                        {"type": "text", "text": "[Request interrupted by user]\n"},
                        {"type": "text", "text": "and now this\n"},
                        {"type": "text", "text": "[Image: source: /tmp/x/images/1.png]"},
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
    assert request.follows_interrupt()
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
    assert (Reply.text("a") + Reply.tool_use("Bash", {})).effective_stop_reason == "tool_use"
    assert Reply.text("x", stop_reason="max_tokens").effective_stop_reason == "max_tokens"
    error = Reply.http_error(529).error
    assert error is not None
    assert error.error_type == "overloaded_error"
