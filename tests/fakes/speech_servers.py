"""Speech-to-text servers on 127.0.0.1 speaking the three protocols ``HttpTranscriber`` knows.

=============  ===============================  ===========================================
protocol       endpoint                         checks, like the real server
=============  ===============================  ===========================================
whispercpp     ``POST /inference``              multipart field ``file`` (400 without)
reference      ``POST /transcribe``             multipart field ``audio`` (400 without)
openai         ``POST /v1/audio/transcriptions``  ``file`` and ``model`` (400), Bearer key (401)
=============  ===============================  ===========================================

Every request is recorded (:attr:`FakeSpeechServer.requests`). Answers come from the
queue (:meth:`FakeSpeechServer.enqueue`), else ``{"text": default_text}``. Use it in the
test's event loop::

    async with FakeSpeechServer("openai", api_key="sk-test") as server:
        server.enqueue(Answer.transcript("run the tests"), Answer.error(500, "boom"))
        ...  # SpeechSettings(backend="http", url=server.base_url, api_key="sk-test")
        assert server.requests[0].fields["model"] == "whisper-1"
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import BodyPartReader, web

PROTOCOLS: dict[str, tuple[str, str]] = {
    "whispercpp": ("/inference", "file"),
    "reference": ("/transcribe", "audio"),
    "openai": ("/v1/audio/transcriptions", "file"),
}
"""Protocol → (endpoint path, file field)."""


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str
    data: bytes


@dataclass(frozen=True)
class SpeechRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    fields: dict[str, str]
    files: dict[str, UploadedFile]


@dataclass(frozen=True)
class Answer:
    """A scripted answer: a status, a JSON or text body, and an optional delay."""

    status: int = 200
    body: Any = None
    text: str | None = None
    delay: float = 0.0

    @classmethod
    def transcript(cls, text: str, **extra: Any) -> Answer:
        """A successful ``{"text": ...}`` answer."""
        return cls(body={"text": text, **extra})

    @classmethod
    def error(cls, status: int, text: str) -> Answer:
        """An error status with a plain-text body."""
        return cls(status=status, text=text)

    @classmethod
    def slow(cls, seconds: float, text: str = "too late") -> Answer:
        """A transcript sent after ``seconds``."""
        return cls(body={"text": text}, delay=seconds)


@dataclass
class FakeSpeechServer:
    """An aiohttp server for one protocol, on a free port of 127.0.0.1."""

    protocol: str
    api_key: str | None = None
    default_text: str = "hello from the fake server"
    requests: list[SpeechRequest] = field(default_factory=list)
    _answers: deque[Answer] = field(default_factory=deque)
    _runner: web.AppRunner | None = None
    _port: int = 0

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no path)."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def endpoint(self) -> str:
        """The protocol's full endpoint URL."""
        return self.base_url + PROTOCOLS[self.protocol][0]

    def enqueue(self, *answers: Answer) -> None:
        """Answer the next requests with these, in order."""
        self._answers.extend(answers)

    async def start(self) -> None:
        """Listen on a free port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSpeechServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _handle(self, request: web.Request) -> web.Response:
        recorded = await _record(request)
        self.requests.append(recorded)
        path, file_field = PROTOCOLS[self.protocol]
        if request.method != "POST" or request.path.rstrip("/") != path:
            return web.json_response({"error": f"no route {request.path}"}, status=404)
        refusal = self._refusal(recorded, file_field)
        if refusal is not None:
            return refusal
        answer = self._answers.popleft() if self._answers else Answer.transcript(self.default_text)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if answer.text is not None:
            return web.Response(status=answer.status, text=answer.text)
        return web.Response(
            status=answer.status, text=json.dumps(answer.body), content_type="application/json"
        )

    def _refusal(self, recorded: SpeechRequest, file_field: str) -> web.Response | None:
        authorised = recorded.headers.get("Authorization") == f"Bearer {self.api_key}"
        if self.protocol == "openai" and self.api_key is not None and not authorised:
            body = {"error": {"message": "Incorrect API key provided", "type": "auth"}}
            return web.json_response(body, status=401)
        if file_field not in recorded.files:
            return web.json_response({"error": f"no '{file_field}' field"}, status=400)
        if self.protocol == "openai" and "model" not in recorded.fields:
            return web.json_response({"error": {"message": "model is required"}}, status=400)
        return None


async def _record(request: web.Request) -> SpeechRequest:
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            data = bytes(await part.read())
            if part.filename is None:
                fields[part.name] = data.decode("utf-8")
            else:
                kind = part.headers.get("Content-Type", "application/octet-stream")
                files[part.name] = UploadedFile(part.filename, kind, data)
    return SpeechRequest(request.method, request.path, dict(request.headers), fields, files)
