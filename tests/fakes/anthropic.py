"""A scripted fake of the Anthropic Messages API for end-to-end tests.

The real Claude Code CLI (bundled with ``claude-agent-sdk``) can be pointed at
this server with ``ANTHROPIC_BASE_URL`` (see :mod:`tests.fakes.cli_env`). Every
request is recorded (:attr:`FakeAnthropic.requests`,
:attr:`FakeAnthropic.exchanges`), and answered like this:

* ``POST /v1/messages`` of the main agent loop (:meth:`MessagesRequest.is_main`:
  the body offers tools) takes the next :class:`Reply` from the queue
  (:meth:`FakeAnthropic.enqueue`), else asks the ``script`` callable, else gets
  :data:`PLACEHOLDER_TEXT`;
* other ``POST /v1/messages`` (side calls such as the session title, which the
  CLI sends with ``tools: []``) go to ``side_script``, else get
  :func:`default_side_reply` (a JSON value when the request asks for a JSON
  schema, else :data:`SIDE_REPLY_TEXT`);
* ``POST /v1/messages/count_tokens`` gets a rough count, ``/api/hello`` a 200,
  and any other path a 404 with an Anthropic error body.

A reply is streamed as server-sent events (``event:`` + ``data:`` lines, chunked
transfer encoding, ``ping`` after the first block start) when the body says
``"stream": true`` — the CLI always does — and sent as one JSON message
otherwise (the CLI's fallback after a broken stream).

Example::

    with FakeAnthropic() as fake:
        fake.enqueue(
            Reply.tool_use("Write", {"file_path": "/tmp/x", "content": "hi"}),
            Reply.text("Done."),
        )
        ...  # run the CLI with ANTHROPIC_BASE_URL=fake.base_url
        second = fake.wait_for_main_request(2, timeout=30)  # or: await fake.main_request(2)
        assert "File created" in second.tool_results()[0].content

The server is a stdlib :class:`http.server.ThreadingHTTPServer` on a daemon
thread, so it never blocks an asyncio test's event loop. From async tests use
the awaitable waits (:meth:`FakeAnthropic.main_request`,
:meth:`FakeAnthropic.main_finished`, :meth:`FakeAnthropic.until`), which do not
block the loop either; the ``wait_for*`` methods block the calling thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import itertools
import json
import select
import socket
import sys
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Literal, Self, TypeAlias, cast
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "INTERRUPTED_MARKER",
    "PLACEHOLDER_TEXT",
    "SIDE_REPLY_TEXT",
    "Exchange",
    "FakeAnthropic",
    "HttpError",
    "ImageBlock",
    "MessagesRequest",
    "Reply",
    "ReplyBlock",
    "Script",
    "TextPart",
    "ThinkingPart",
    "ToolResult",
    "ToolUsePart",
    "Usage",
    "default_side_reply",
]

JSON: TypeAlias = dict[str, Any]
"""A decoded JSON object."""


DEFAULT_MODEL: Final = "claude-fake-1"
PLACEHOLDER_TEXT: Final = "(fake anthropic: no scripted reply)"
SIDE_REPLY_TEXT: Final = "Fake reply"
_POLL_INTERVAL: Final = 0.05
_HANG_LIMIT: Final = 300.0
_SYSTEM_REMINDER_OPEN: Final = "<system-reminder>"
_IMAGE_NOTE_OPEN: Final = "[Image: source: "
INTERRUPTED_MARKER: Final = "[Request interrupted by user]"
"""Text the CLI adds to the user turn that follows an interrupted one."""


# --------------------------------------------------------------------------- #
# Requests
# --------------------------------------------------------------------------- #


def _content_blocks(content: object) -> list[JSON]:
    """Return a message's content as a list of blocks (a string becomes one text block)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [cast(JSON, b) for b in content if isinstance(b, dict)]
    return []


def _is_reminder(text: str) -> bool:
    """Tell whether a text block was injected by the CLI rather than typed by the user.

    That is a ``<system-reminder>`` block, the ``[Image: source: PATH]`` note
    the CLI adds after an image it saved to disk, or the
    ``[Request interrupted by user]`` note it puts before the next prompt after
    an interrupt.
    """
    stripped = text.strip()
    return (
        stripped.startswith(_SYSTEM_REMINDER_OPEN)
        or stripped == INTERRUPTED_MARKER
        or (stripped.startswith(_IMAGE_NOTE_OPEN) and stripped.endswith("]"))
    )


def _blocks_text(blocks: Iterable[JSON], *, skip_reminders: bool) -> str:
    """Join the text of the text blocks among ``blocks`` with newlines."""
    parts: list[str] = []
    for block in blocks:
        if block.get("type") != "text":
            continue
        text = str(block.get("text", ""))
        if skip_reminders and _is_reminder(text):
            continue
        parts.append(text)
    return "\n".join(parts)


@dataclass(frozen=True)
class ToolResult:
    """A ``tool_result`` block the CLI sent back, with its content flattened to text."""

    tool_use_id: str
    content: str
    is_error: bool
    raw: JSON = field(repr=False, compare=False)


@dataclass(frozen=True)
class ImageBlock:
    """An ``image`` content block found in a request."""

    media_type: str
    data: str
    source_type: str
    raw: JSON = field(repr=False, compare=False)


@dataclass(frozen=True)
class MessagesRequest:
    """One HTTP request received by the fake, with helpers for Messages API bodies.

    Attributes:
        index: Position among all requests the server received (0-based).
        method: HTTP method.
        path: URL path without the query string.
        query: Parsed query string (e.g. ``{"beta": ["true"]}``).
        headers: Request headers with lower-cased names.
        body: Parsed JSON body (an empty dict when there was none or it was not JSON).
        received_at: ``time.monotonic()`` when the request was read.
    """

    index: int
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: JSON
    received_at: float

    # -- what kind of request ------------------------------------------------

    @property
    def is_messages(self) -> bool:
        """Whether this is a ``POST /v1/messages`` request."""
        return self.method == "POST" and self.path.rstrip("/") == "/v1/messages"

    @property
    def stream(self) -> bool:
        """Whether the body asks for a streamed (SSE) answer."""
        return bool(self.body.get("stream", False))

    @property
    def model(self) -> str:
        """The model named in the body, or a placeholder."""
        return str(self.body.get("model") or DEFAULT_MODEL)

    @property
    def tools(self) -> list[JSON]:
        """The tool definitions sent with the request."""
        tools = self.body.get("tools")
        if not isinstance(tools, list):
            return []
        return [cast(JSON, t) for t in tools if isinstance(t, dict)]

    def tool_names(self) -> list[str]:
        """Names of the tools offered to the model."""
        return [str(t.get("name", "")) for t in self.tools]

    def is_main(self) -> bool:
        """Heuristic: whether this is a turn of the main agent loop.

        The CLI's agent loop sends its tool definitions (``Write``, ``Bash``,
        ...) with every turn; the side calls it makes (session titles, topic
        detection, and other small-model helpers) send no tools.
        """
        return self.is_messages and bool(self.tools)

    # -- conversation --------------------------------------------------------

    @property
    def messages(self) -> list[JSON]:
        """The ``messages`` array of the body."""
        messages = self.body.get("messages")
        if not isinstance(messages, list):
            return []
        return [cast(JSON, m) for m in messages if isinstance(m, dict)]

    @property
    def system(self) -> str:
        """The system prompt as plain text (text blocks joined with newlines)."""
        return _blocks_text(_content_blocks(self.body.get("system")), skip_reminders=False)

    def _latest_user_blocks(self) -> list[JSON]:
        """Content blocks of the user messages after the last assistant message."""
        blocks: list[JSON] = []
        for message in reversed(self.messages):
            if message.get("role") == "assistant":
                break
            if message.get("role") == "user":
                blocks[:0] = _content_blocks(message.get("content"))
        return blocks

    def last_user_text(self) -> str:
        """Text the user typed in the latest turn, stripped.

        Joins the text blocks of the user messages after the last assistant
        message, ignoring what the CLI injects: ``<system-reminder>`` blocks,
        ``[Image: source: ...]`` notes, the ``[Request interrupted by user]``
        note, and the ``role: "system"`` environment message it appends after
        the prompt.
        """
        return _blocks_text(self._latest_user_blocks(), skip_reminders=True).strip()

    def follows_interrupt(self) -> bool:
        """Whether the latest user turn carries the CLI's ``[Request interrupted by user]`` note."""
        return any(
            block.get("type") == "text" and str(block.get("text", "")).strip() == INTERRUPTED_MARKER
            for block in self._latest_user_blocks()
        )

    def user_texts(self) -> list[str]:
        """Typed text of every user message, oldest first, stripped; see :meth:`last_user_text`."""
        texts: list[str] = []
        for message in self.messages:
            if message.get("role") != "user":
                continue
            content = _content_blocks(message.get("content"))
            text = _blocks_text(content, skip_reminders=True).strip()
            if text:
                texts.append(text)
        return texts

    def assistant_texts(self) -> list[str]:
        """Text of every assistant message in the history, oldest first."""
        return [
            _blocks_text(_content_blocks(m.get("content")), skip_reminders=False)
            for m in self.messages
            if m.get("role") == "assistant"
        ]

    def tool_results(self) -> list[ToolResult]:
        """The ``tool_result`` blocks of the latest user turn, in order."""
        results: list[ToolResult] = []
        for block in self._latest_user_blocks():
            if block.get("type") != "tool_result":
                continue
            content = block.get("content")
            text = (
                content
                if isinstance(content, str)
                else _blocks_text(_content_blocks(content), skip_reminders=False)
            )
            results.append(
                ToolResult(
                    tool_use_id=str(block.get("tool_use_id", "")),
                    content=text,
                    is_error=bool(block.get("is_error", False)),
                    raw=block,
                )
            )
        return results

    def tool_uses(self) -> list[JSON]:
        """All ``tool_use`` blocks of the assistant messages in the history."""
        return [
            block
            for m in self.messages
            if m.get("role") == "assistant"
            for block in _content_blocks(m.get("content"))
            if block.get("type") == "tool_use"
        ]

    def _all_blocks(self, *, latest_only: bool = False) -> Iterator[JSON]:
        """Every content block of every message, nested tool_result content included."""
        if latest_only:
            top = self._latest_user_blocks()
        else:
            top = [b for m in self.messages for b in _content_blocks(m.get("content"))]
        for block in top:
            yield block
            if block.get("type") == "tool_result":
                yield from _content_blocks(block.get("content"))

    def images(self, *, latest_only: bool = False) -> list[ImageBlock]:
        """Image blocks in the conversation, including inside tool results.

        Args:
            latest_only: Only look at the latest user turn (after the last
                assistant message).
        """
        found: list[ImageBlock] = []
        for block in self._all_blocks(latest_only=latest_only):
            if block.get("type") != "image":
                continue
            source = block.get("source")
            src = cast(JSON, source) if isinstance(source, dict) else {}
            found.append(
                ImageBlock(
                    media_type=str(src.get("media_type", "")),
                    data=str(src.get("data", src.get("url", ""))),
                    source_type=str(src.get("type", "")),
                    raw=block,
                )
            )
        return found

    def has_image(self) -> bool:
        """Whether any message carries an image block."""
        return bool(self.images())

    def all_text(self) -> str:
        """All text in the system prompt and messages, for substring assertions."""
        parts = [self.system]
        for block in self._all_blocks():
            if block.get("type") == "text":  # tool_result content is yielded as text too
                parts.append(str(block.get("text", "")))
            elif block.get("type") == "tool_use":
                parts.append(json.dumps(block.get("input", {})))
        return "\n".join(parts)


# --------------------------------------------------------------------------- #
# Replies
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class TextPart:
    """A text block of a reply."""

    text: str


@dataclass(frozen=True)
class ToolUsePart:
    """A ``tool_use`` block of a reply; ``id`` is generated when ``None``."""

    name: str
    input: Mapping[str, Any]
    id: str | None = None


@dataclass(frozen=True)
class ThinkingPart:
    """A ``thinking`` block of a reply."""

    thinking: str
    signature: str = "fake-signature"


ReplyBlock: TypeAlias = TextPart | ToolUsePart | ThinkingPart
"""One content block of a scripted reply."""


@dataclass(frozen=True)
class Usage:
    """Token counts reported for a reply."""

    input_tokens: int = 10
    output_tokens: int = 5
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def to_json(self) -> JSON:
        """The ``usage`` object of the Messages API."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
        }


@dataclass(frozen=True)
class HttpError:
    """An HTTP error answer in the Anthropic error format.

    Attributes:
        status: HTTP status code.
        error_type: The ``error.type`` field (e.g. ``"overloaded_error"``).
        message: The ``error.message`` field.
        should_retry: Value of the ``x-should-retry`` header the Anthropic client
            honours; ``False`` makes the CLI give up at once instead of retrying
            with backoff.
    """

    status: int
    error_type: str
    message: str
    should_retry: bool = False

    def to_json(self) -> JSON:
        """The error body."""
        return {"type": "error", "error": {"type": self.error_type, "message": self.message}}


_ERROR_TYPES: Final[Mapping[int, str]] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class Reply:
    """A scripted answer to one Messages API request.

    Build one with :meth:`text`, :meth:`tool_use`, :meth:`of` or
    :meth:`http_error`; combine block lists with ``+``; adjust options with
    :meth:`with_options`.

    Attributes:
        blocks: Content blocks, in order.
        stop_reason: Explicit stop reason; by default ``"tool_use"`` when any
            block is a tool call, else ``"end_turn"``.
        usage: Token counts reported in ``message_start``/``message_delta``.
        chunk_size: Split text (and thinking) into deltas of at most this many
            characters; ``None`` sends each block's text in one delta.
        chunk_delay: Seconds to wait before each delta event.
        hang: When set, the stream sends ``message_start`` and the first
            block's start (and first delta, if ``hang_after_first_delta``), then
            waits until this event is set (or the client goes away, or the
            server stops) before sending the rest.
        hang_after_first_delta: See ``hang``.
        error: When set, answer with this HTTP error instead of a message.
        stream_error: When set, stream normally up to the first block, then send
            an SSE ``error`` event with this error and stop.
        model: Model name to report; defaults to the model the request named.
    """

    blocks: tuple[ReplyBlock, ...] = ()
    stop_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    chunk_size: int | None = None
    chunk_delay: float = 0.0
    hang: threading.Event | None = None
    hang_after_first_delta: bool = True
    error: HttpError | None = None
    stream_error: HttpError | None = None
    model: str | None = None

    # -- builders --------------------------------------------------------------

    @classmethod
    def of(
        cls,
        *blocks: ReplyBlock,
        stop_reason: str | None = None,
        usage: Usage | None = None,
        chunk_size: int | None = None,
        chunk_delay: float = 0.0,
        hang: threading.Event | None = None,
    ) -> Reply:
        """A reply made of the given blocks (e.g. two ``ToolUsePart`` for parallel calls)."""
        return cls(
            blocks=tuple(blocks),
            stop_reason=stop_reason,
            usage=usage or Usage(),
            chunk_size=chunk_size,
            chunk_delay=chunk_delay,
            hang=hang,
        )

    @classmethod
    def text(
        cls,
        text: str,
        *,
        chunk_size: int | None = None,
        chunk_delay: float = 0.0,
        hang: threading.Event | None = None,
        usage: Usage | None = None,
        stop_reason: str | None = None,
    ) -> Reply:
        """A plain text answer that ends the turn."""
        return cls.of(
            TextPart(text),
            stop_reason=stop_reason,
            usage=usage,
            chunk_size=chunk_size,
            chunk_delay=chunk_delay,
            hang=hang,
        )

    @classmethod
    def tool_use(
        cls,
        name: str,
        input: Mapping[str, Any],
        id: str | None = None,
        *,
        text: str | None = None,
    ) -> Reply:
        """A single tool call (optionally preceded by a text block); stop reason ``tool_use``."""
        call = ToolUsePart(name=name, input=dict(input), id=id)
        return cls.of(TextPart(text), call) if text is not None else cls.of(call)

    @classmethod
    def tool_uses(cls, *calls: tuple[str, Mapping[str, Any]]) -> Reply:
        """Several tool calls in one assistant message, e.g. parallel ``Read``s."""
        return cls.of(*(ToolUsePart(name=name, input=dict(args)) for name, args in calls))

    @classmethod
    def http_error(
        cls,
        status: int,
        message: str = "fake error",
        error_type: str | None = None,
        *,
        should_retry: bool = False,
    ) -> Reply:
        """An HTTP error answer with an Anthropic error body.

        ``error_type`` defaults from the status (529 → ``overloaded_error``, ...).
        """
        kind = error_type or _ERROR_TYPES.get(status, "api_error")
        return cls(error=HttpError(status, kind, message, should_retry))

    def __add__(self, other: Reply) -> Reply:
        """Concatenate the blocks of two replies, keeping this reply's options."""
        return replace(self, blocks=self.blocks + other.blocks)

    def with_options(
        self,
        *,
        chunk_size: int | None = None,
        chunk_delay: float | None = None,
        hang: threading.Event | None = None,
        hang_after_first_delta: bool | None = None,
        stop_reason: str | None = None,
        usage: Usage | None = None,
        stream_error: HttpError | None = None,
        model: str | None = None,
    ) -> Reply:
        """A copy with the given options replaced (``None`` keeps the current value)."""
        return replace(
            self,
            chunk_size=self.chunk_size if chunk_size is None else chunk_size,
            chunk_delay=self.chunk_delay if chunk_delay is None else chunk_delay,
            hang=self.hang if hang is None else hang,
            hang_after_first_delta=(
                self.hang_after_first_delta
                if hang_after_first_delta is None
                else hang_after_first_delta
            ),
            stop_reason=self.stop_reason if stop_reason is None else stop_reason,
            usage=self.usage if usage is None else usage,
            stream_error=self.stream_error if stream_error is None else stream_error,
            model=self.model if model is None else model,
        )

    # -- rendering -------------------------------------------------------------

    @property
    def effective_stop_reason(self) -> str:
        """The stop reason sent: explicit, else ``tool_use`` if any tool call, else ``end_turn``."""
        if self.stop_reason is not None:
            return self.stop_reason
        if any(isinstance(b, ToolUsePart) for b in self.blocks):
            return "tool_use"
        return "end_turn"

    @property
    def text_content(self) -> str:
        """The concatenated text of the text blocks."""
        return "".join(b.text for b in self.blocks if isinstance(b, TextPart))


Script: TypeAlias = Callable[[MessagesRequest], Reply | None]
"""Picks the reply to a request; ``None`` means "no opinion" (fall back to the default).

Scripts run on the server's handler threads, one call per request; requests
can arrive concurrently (e.g. side calls), so keep shared state thread-safe.
"""


def _sample_for_schema(schema: object, depth: int = 0) -> object:
    """A small value that satisfies a (simple) JSON schema."""
    spec = cast(JSON, schema) if isinstance(schema, dict) else {}
    if "const" in spec:
        return spec["const"]
    if isinstance(spec.get("enum"), list) and spec["enum"]:
        return cast(list[object], spec["enum"])[0]
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = kind[0] if kind else "string"
    if kind == "object" and depth < 8:
        props = spec.get("properties")
        props_map = cast(JSON, props) if isinstance(props, dict) else {}
        return {key: _sample_for_schema(sub, depth + 1) for key, sub in props_map.items()}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return "Fake title"


def default_side_reply(request: MessagesRequest) -> Reply:
    """The default answer to a side request.

    When the request asks for structured output
    (``output_config.format.type == "json_schema"``, as the CLI's session-title
    call does), the text is a JSON value matching the schema; otherwise it is
    :data:`SIDE_REPLY_TEXT`.
    """
    usage = Usage(input_tokens=5, output_tokens=2)
    config = request.body.get("output_config")
    fmt = cast(JSON, config).get("format") if isinstance(config, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        sample = _sample_for_schema(cast(JSON, fmt).get("schema"))
        return Reply.text(json.dumps(sample), usage=usage)
    return Reply.text(SIDE_REPLY_TEXT, usage=usage)


def _tool_id(counter: Iterator[int]) -> str:
    """A fresh ``toolu_`` identifier."""
    return f"toolu_fake{next(counter):04d}{uuid.uuid4().hex[:12]}"


def _chunks(text: str, size: int | None) -> list[str]:
    """Split ``text`` into pieces of at most ``size`` characters (at least one piece)."""
    if not size or size <= 0 or len(text) <= size:
        return [text]
    return [text[i : i + size] for i in range(0, len(text), size)]


@dataclass(frozen=True)
class _RenderedBlock:
    """A reply block with its ids fixed, ready to be sent."""

    kind: Literal["text", "tool_use", "thinking"]
    full: JSON
    start: JSON
    deltas: tuple[JSON, ...]


def _render_blocks(reply: Reply, ids: Iterator[int]) -> list[_RenderedBlock]:
    """Turn a reply's blocks into final JSON blocks plus their streaming events."""
    rendered: list[_RenderedBlock] = []
    for block in reply.blocks:
        if isinstance(block, TextPart):
            pieces = _chunks(block.text, reply.chunk_size)
            rendered.append(
                _RenderedBlock(
                    kind="text",
                    full={"type": "text", "text": block.text},
                    start={"type": "text", "text": ""},
                    deltas=tuple({"type": "text_delta", "text": p} for p in pieces),
                )
            )
        elif isinstance(block, ThinkingPart):
            pieces = _chunks(block.thinking, reply.chunk_size)
            rendered.append(
                _RenderedBlock(
                    kind="thinking",
                    full={
                        "type": "thinking",
                        "thinking": block.thinking,
                        "signature": block.signature,
                    },
                    start={"type": "thinking", "thinking": "", "signature": ""},
                    deltas=(
                        *({"type": "thinking_delta", "thinking": p} for p in pieces),
                        {"type": "signature_delta", "signature": block.signature},
                    ),
                )
            )
        else:
            tool_id = block.id or _tool_id(ids)
            args = dict(block.input)
            rendered.append(
                _RenderedBlock(
                    kind="tool_use",
                    full={"type": "tool_use", "id": tool_id, "name": block.name, "input": args},
                    start={"type": "tool_use", "id": tool_id, "name": block.name, "input": {}},
                    deltas=({"type": "input_json_delta", "partial_json": json.dumps(args)},),
                )
            )
    return rendered


# --------------------------------------------------------------------------- #
# Server
# --------------------------------------------------------------------------- #


@dataclass
class Exchange:
    """A recorded request together with what the fake did with it.

    Attributes:
        request: The request.
        reply: The reply chosen (``None`` for non-messages paths).
        scripted: Whether the reply came from the queue or a script (rather
            than a default).
        completed: Whether the whole answer was written.
        client_disconnected: Whether the client went away mid-answer (as the
            CLI does on ``interrupt()``).
        finished_at: ``time.monotonic()`` when handling ended.
    """

    request: MessagesRequest
    reply: Reply | None = None
    scripted: bool = False
    completed: bool = False
    client_disconnected: bool = False
    finished_at: float | None = None


class _ClientGone(Exception):
    """The client closed the connection while an answer was being written."""


class _Server(ThreadingHTTPServer):
    """The HTTP server, carrying a reference to its :class:`FakeAnthropic`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeAnthropic) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that drop idle keep-alive connections; record anything else.

        The CLI resets its pooled connections when it exits, which surfaces as
        ``ConnectionResetError`` while the handler waits for the next request.
        """
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        if error is not None:
            self.fake._server_error(error)


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, records it, and writes the scripted answer."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    # One handler for every method.
    def do_GET(self) -> None:
        """Handle GET."""
        self._handle()

    def do_POST(self) -> None:
        """Handle POST."""
        self._handle()

    def do_PUT(self) -> None:
        """Handle PUT."""
        self._handle()

    def do_DELETE(self) -> None:
        """Handle DELETE."""
        self._handle()

    def do_HEAD(self) -> None:
        """Handle HEAD."""
        self._handle()

    def _read_body(self) -> bytes:
        """Read the request body (Content-Length or chunked), decompressing if needed."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            raw = bytes(data)
        else:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
        encoding = self.headers.get("Content-Encoding", "").lower()
        if encoding == "gzip":
            raw = gzip.decompress(raw)
        elif encoding == "deflate":
            raw = zlib.decompress(raw)
        return raw

    def _handle(self) -> None:
        """Record the request and dispatch on its path."""
        fake = self.server.fake
        raw = self._read_body()
        try:
            decoded = json.loads(raw) if raw else {}
        except ValueError:
            decoded = {}
        body = cast(JSON, decoded) if isinstance(decoded, dict) else {}
        split = urlsplit(self.path)
        request = MessagesRequest(
            index=-1,
            method=self.command,
            path=split.path,
            query=parse_qs(split.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            received_at=time.monotonic(),
        )
        exchange = fake._record(request)
        request = exchange.request
        try:
            if request.is_messages:
                try:
                    reply, scripted = fake._choose_reply(request)
                except Exception as error:  # a broken script must fail the test, not hang it
                    fake._server_error(error)
                    reply, scripted = Reply.http_error(500, f"fake script raised {error!r}"), False
                exchange.reply = reply
                exchange.scripted = scripted
                self._answer_messages(request, reply)
            elif request.path == "/api/hello":
                # The CLI's connectivity check (only without
                # CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC).
                self._send_json(200, {"message": "hello"})
            elif request.method == "POST" and request.path.rstrip("/") == (
                "/v1/messages/count_tokens"
            ):
                tokens = max(1, len(raw) // 4)
                self._send_json(200, {"input_tokens": tokens})
            else:
                self._send_json(
                    404,
                    HttpError(404, "not_found_error", f"fake: no route {request.path}").to_json(),
                )
            exchange.completed = True
        except (_ClientGone, BrokenPipeError, ConnectionResetError):
            exchange.client_disconnected = True
            self.close_connection = True
        finally:
            fake._finished(exchange)

    # -- writing ---------------------------------------------------------------

    def _common_headers(self) -> None:
        """Headers sent with every answer."""
        self.send_header("request-id", f"req_fake_{uuid.uuid4().hex[:16]}")
        self.send_header("anthropic-organization-id", "00000000-0000-0000-0000-000000000000")

    def _send_json(self, status: int, payload: JSON, extra: Mapping[str, str] = {}) -> None:
        """Send a complete JSON answer."""
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self._common_headers()
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def _answer_messages(self, request: MessagesRequest, reply: Reply) -> None:
        """Answer a ``/v1/messages`` request with ``reply``."""
        if reply.error is not None:
            err = reply.error
            self._send_json(
                err.status,
                err.to_json(),
                {"x-should-retry": "true" if err.should_retry else "false"},
            )
            return
        fake = self.server.fake
        blocks = _render_blocks(reply, fake._tool_ids)
        message_id = f"msg_fake_{uuid.uuid4().hex[:20]}"
        model = reply.model or request.model
        if not request.stream:
            self._send_json(
                200,
                {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [b.full for b in blocks],
                    "stop_reason": reply.effective_stop_reason,
                    "stop_sequence": None,
                    "usage": reply.usage.to_json(),
                },
            )
            return
        self._stream(reply, blocks, message_id, model)

    def _stream(
        self, reply: Reply, blocks: Sequence[_RenderedBlock], message_id: str, model: str
    ) -> None:
        """Write the reply as a server-sent event stream."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self._common_headers()
        self.end_headers()
        start_usage = replace(reply.usage, output_tokens=1).to_json()
        self._event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            },
        )
        hang_pending = reply.hang is not None
        if hang_pending and not blocks:
            self._hang(reply)
            hang_pending = False
        for index, block in enumerate(blocks):
            self._event(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": block.start},
            )
            if index == 0:
                self._event("ping", {"type": "ping"})
            for n, delta in enumerate(block.deltas):
                if hang_pending and not reply.hang_after_first_delta:
                    self._hang(reply)
                    hang_pending = False
                if reply.chunk_delay > 0:
                    self._sleep(reply.chunk_delay)
                self._event(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
                if hang_pending and n == 0:
                    self._hang(reply)
                    hang_pending = False
            if reply.stream_error is not None:
                self._event("error", reply.stream_error.to_json())
                self._end_chunks()
                return
            self._event("content_block_stop", {"type": "content_block_stop", "index": index})
        self._event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": reply.effective_stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": reply.usage.output_tokens},
            },
        )
        self._event("message_stop", {"type": "message_stop"})
        self._end_chunks()

    def _write_chunk(self, data: bytes) -> None:
        """Write one chunk of a chunked-encoding body and flush it."""
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_chunks(self) -> None:
        """Terminate a chunked-encoding body."""
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _event(self, name: str, payload: JSON) -> None:
        """Write one SSE event."""
        self._write_chunk(f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode())

    def _client_gone(self) -> bool:
        """Whether the peer has closed its end of the connection."""
        sock = self.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return False
            peeked: bytes = sock.recv(1, socket.MSG_PEEK)
            return peeked == b""
        except (OSError, ValueError):
            return True

    def _sleep(self, seconds: float) -> None:
        """Wait ``seconds``, returning early (by raising) if the client or server goes away."""
        deadline = time.monotonic() + seconds
        stopping = self.server.fake._stopping
        while (left := deadline - time.monotonic()) > 0:
            if stopping.wait(min(left, _POLL_INTERVAL)):
                raise _ClientGone
            if self._client_gone():
                raise _ClientGone

    def _hang(self, reply: Reply) -> None:
        """Block until ``reply.hang`` is set; raise if the client or the server goes away."""
        assert reply.hang is not None
        deadline = time.monotonic() + _HANG_LIMIT
        stopping = self.server.fake._stopping
        while not reply.hang.wait(_POLL_INTERVAL):
            if stopping.is_set() or self._client_gone() or time.monotonic() > deadline:
                raise _ClientGone


class FakeAnthropic:
    """A scripted Anthropic Messages API server on ``127.0.0.1`` with an ephemeral port.

    Use as a context manager (``with`` or ``async with``), or call
    :meth:`start` and :meth:`stop`.

    Args:
        script: Picks the reply to a main-conversation request when the queue
            is empty; may return ``None`` to fall back to the placeholder.
        replies: Initial queue of replies for main-conversation requests.
        side_script: Picks the reply to side requests (no tools); defaults to
            a short text reply.
        is_main: Overrides the main/side heuristic
            (:meth:`MessagesRequest.is_main`).
    """

    def __init__(
        self,
        script: Script | None = None,
        *,
        replies: Iterable[Reply] = (),
        side_script: Script | None = None,
        is_main: Callable[[MessagesRequest], bool] | None = None,
    ) -> None:
        self.script = script
        self.side_script = side_script
        self._is_main = is_main or MessagesRequest.is_main
        self._queue: deque[Reply] = deque(replies)
        self._cond = threading.Condition()
        self._exchanges: list[Exchange] = []
        self._errors: list[BaseException] = []
        self._stopping = threading.Event()
        self._tool_ids = itertools.count(1)
        self._async_waiters: set[Callable[[], None]] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> Self:
        """Bind the port and start serving on a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name="FakeAnthropic",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; streams still hanging are cut off."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None
        with self._cond:
            self._notify_locked()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._server is None:
            raise RuntimeError("FakeAnthropic is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` — the value for ``ANTHROPIC_BASE_URL``."""
        return f"http://127.0.0.1:{self.port}"

    # -- scripting -------------------------------------------------------------

    def enqueue(self, *replies: Reply) -> None:
        """Append replies to the queue consumed by main-conversation requests."""
        with self._cond:
            self._queue.extend(replies)

    @property
    def pending_replies(self) -> int:
        """How many queued replies have not been used yet."""
        with self._cond:
            return len(self._queue)

    def _choose_reply(self, request: MessagesRequest) -> tuple[Reply, bool]:
        """Pick the reply for a messages request: queue, then script, then default."""
        if self._is_main(request):
            with self._cond:
                queued = self._queue.popleft() if self._queue else None
            if queued is not None:
                return queued, True
            if self.script is not None and (scripted := self.script(request)) is not None:
                return scripted, True
            return Reply.text(PLACEHOLDER_TEXT), False
        if self.side_script is not None and (side := self.side_script(request)) is not None:
            return side, True
        return default_side_reply(request), False

    # -- records ---------------------------------------------------------------

    def _record(self, request: MessagesRequest) -> Exchange:
        """Store a new request and wake waiters."""
        with self._cond:
            exchange = Exchange(request=replace(request, index=len(self._exchanges)))
            self._exchanges.append(exchange)
            self._notify_locked()
            return exchange

    def _finished(self, exchange: Exchange) -> None:
        """Mark a request as handled and wake waiters."""
        with self._cond:
            exchange.finished_at = time.monotonic()
            self._notify_locked()

    def _notify_locked(self) -> None:
        """Wake sync and async waiters; the caller holds ``self._cond``."""
        self._cond.notify_all()
        for waker in list(self._async_waiters):
            waker()

    def _server_error(self, error: BaseException) -> None:
        """Record an unexpected exception raised while handling a request."""
        with self._cond:
            self._errors.append(error)
            self._notify_locked()

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected exceptions raised while handling requests (should stay empty)."""
        with self._cond:
            return list(self._errors)

    @property
    def exchanges(self) -> list[Exchange]:
        """Every request with its outcome, in arrival order (a snapshot)."""
        with self._cond:
            return list(self._exchanges)

    @property
    def requests(self) -> list[MessagesRequest]:
        """Every request received, in arrival order (a snapshot)."""
        return [e.request for e in self.exchanges]

    @property
    def messages_requests(self) -> list[MessagesRequest]:
        """Every ``POST /v1/messages`` request (main and side)."""
        return [r for r in self.requests if r.is_messages]

    @property
    def main_requests(self) -> list[MessagesRequest]:
        """The main-conversation requests, in arrival order."""
        return [r for r in self.requests if self._is_main(r)]

    @property
    def side_requests(self) -> list[MessagesRequest]:
        """Messages requests that are not main-conversation turns."""
        return [r for r in self.requests if r.is_messages and not self._is_main(r)]

    def exchange_for(self, request: MessagesRequest) -> Exchange:
        """The exchange record of a request returned by this fake."""
        return self.exchanges[request.index]

    def clear(self) -> None:
        """Forget recorded requests and queued replies."""
        with self._cond:
            self._exchanges.clear()
            self._queue.clear()

    # -- waiting ---------------------------------------------------------------

    def wait_for(self, predicate: Callable[[list[Exchange]], bool], timeout: float = 30.0) -> None:
        """Block until ``predicate(exchanges)`` is true.

        Raises:
            TimeoutError: If it is still false after ``timeout`` seconds.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self._exchanges), timeout):
                raise TimeoutError(f"FakeAnthropic: condition not met within {timeout}s")

    def wait_for_main_request(self, n: int, timeout: float = 30.0) -> MessagesRequest:
        """Block until the ``n``-th (1-based) main-conversation request arrived; return it.

        Raises:
            TimeoutError: If fewer than ``n`` arrived within ``timeout`` seconds.
        """
        if n < 1:
            raise ValueError("n is 1-based")

        def enough(exchanges: list[Exchange]) -> bool:
            return sum(1 for e in exchanges if self._is_main(e.request)) >= n

        try:
            self.wait_for(enough, timeout)
        except TimeoutError:
            got = len(self.main_requests)
            raise TimeoutError(
                f"FakeAnthropic: waited {timeout}s for main request #{n}, got {got}"
            ) from None
        return self.main_requests[n - 1]

    def wait_for_main_finished(self, n: int, timeout: float = 30.0) -> Exchange:
        """Block until the ``n``-th main request has been fully handled; return its record."""
        request = self.wait_for_main_request(n, timeout)
        self.wait_for(lambda ex: ex[request.index].finished_at is not None, timeout)
        return self.exchange_for(request)

    async def until(
        self,
        predicate: Callable[[list[Exchange]], bool],
        timeout: float = 30.0,  # noqa: ASYNC109 - a test helper must not hang forever
    ) -> None:
        """Wait, without blocking the event loop, until ``predicate(exchanges)`` is true.

        Raises:
            TimeoutError: If it is still false after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()

        def waker() -> None:
            with contextlib.suppress(RuntimeError):  # the loop may be closed already
                loop.call_soon_threadsafe(wake.set)

        with self._cond:
            self._async_waiters.add(waker)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    with self._cond:
                        if predicate(self._exchanges):
                            return
                        # A wake-up scheduled after this point runs after clear().
                        wake.clear()
                    await wake.wait()
        except TimeoutError:
            raise TimeoutError(f"FakeAnthropic: condition not met within {timeout}s") from None
        finally:
            with self._cond:
                self._async_waiters.discard(waker)

    async def main_request(
        self,
        n: int,
        timeout: float = 30.0,  # noqa: ASYNC109 - a test helper must not hang forever
    ) -> MessagesRequest:
        """Wait for the ``n``-th (1-based) main-conversation request and return it.

        Raises:
            TimeoutError: If fewer than ``n`` arrived within ``timeout`` seconds.
        """
        if n < 1:
            raise ValueError("n is 1-based")
        try:
            await self.until(
                lambda ex: sum(1 for e in ex if self._is_main(e.request)) >= n, timeout
            )
        except TimeoutError:
            got = len(self.main_requests)
            raise TimeoutError(
                f"FakeAnthropic: waited {timeout}s for main request #{n}, got {got}"
            ) from None
        return self.main_requests[n - 1]

    async def main_finished(
        self,
        n: int,
        timeout: float = 30.0,  # noqa: ASYNC109 - a test helper must not hang forever
    ) -> Exchange:
        """Wait until the ``n``-th main request has been fully handled; return its record.

        "Handled" includes the client going away mid-answer (see
        :attr:`Exchange.client_disconnected`).

        Raises:
            TimeoutError: If that does not happen within ``timeout`` seconds.
        """
        request = await self.main_request(n, timeout)
        await self.until(lambda ex: ex[request.index].finished_at is not None, timeout)
        return self.exchange_for(request)
