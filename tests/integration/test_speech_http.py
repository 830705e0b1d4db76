"""The HTTP backend against real servers on 127.0.0.1 speaking each protocol."""

from __future__ import annotations

import dataclasses
import io
import socket
import wave
from typing import Any

import httpx
import pytest

from tests.fakes.audio import MEDIA_MIME, media_file, silence_ogg, voice_note
from tests.fakes.speech_servers import Answer, FakeSpeechServer
from voice_agent.speech import HttpTranscriber, SpeechError, SpeechSettings, create

NOTE = voice_note("run the tests with pytest")


def settings(server: FakeSpeechServer, **changes: Any) -> SpeechSettings:
    base = SpeechSettings(backend="http", url=server.base_url, protocol=server.protocol)
    return dataclasses.replace(base, **changes)


async def test_whispercpp_gets_a_16k_wav_in_field_file() -> None:
    async with FakeSpeechServer("whispercpp") as server:
        server.enqueue(Answer.transcript(" run the tests with pytest\n"))
        stt = create(settings(server))
        result = await stt.transcribe(NOTE, "audio/ogg", vocabulary=["pytest", "mypy"])
    assert result.text == "run the tests with pytest"
    assert result.language == "en"
    request = server.requests[0]
    assert request.path == "/inference"
    upload = request.files["file"]
    assert upload.content_type == "audio/wav"
    with wave.open(io.BytesIO(upload.data)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16_000, 1, 2)
        assert wav.getnframes() / 16_000 == pytest.approx(result.duration, abs=0.01)
    assert request.fields["response_format"] == "json"
    assert request.fields["language"] == "en"
    assert request.fields["prompt"] == "Claude, please use pytest, mypy."


async def test_reference_gets_the_voice_note_as_received_in_field_audio() -> None:
    async with FakeSpeechServer("reference") as server:
        server.enqueue(Answer.transcript("run the tests"))
        url = server.endpoint  # the reference project's WHISPER_URL names the endpoint
        stt = create(SpeechSettings(backend="http", url=url))
        assert isinstance(stt, HttpTranscriber)
        assert stt.protocol == "reference"
        result = await stt.transcribe(NOTE, "audio/ogg", vocabulary=["pytest"])
    assert result.text == "run the tests"
    request = server.requests[0]
    assert request.path == "/transcribe"
    assert request.files["audio"].data == NOTE
    assert request.files["audio"].filename == "voice.ogg"
    assert request.files["audio"].content_type == "audio/ogg"


async def test_openai_gets_model_key_and_prompt() -> None:
    async with FakeSpeechServer("openai", api_key="sk-test") as server:
        server.enqueue(Answer.transcript("run the tests with pytest"))
        stt = create(settings(server, api_key="sk-test", http_model="whisper-large-v3"))
        result = await stt.transcribe(NOTE, "audio/ogg", vocabulary=["pytest"])
    assert result.text == "run the tests with pytest"
    request = server.requests[0]
    assert request.path == "/v1/audio/transcriptions"
    assert request.headers["Authorization"] == "Bearer sk-test"
    assert request.fields["model"] == "whisper-large-v3"
    assert request.fields["prompt"] == "Claude, please use pytest."
    assert request.files["file"].data == NOTE


@pytest.mark.parametrize("kind", ["mp3", "m4a", "mp4"])
async def test_openai_gets_other_files_as_received(kind: str) -> None:
    data = media_file("yes go ahead", kind)
    async with FakeSpeechServer("openai") as server:
        await create(settings(server)).transcribe(data, MEDIA_MIME[kind])
    upload = server.requests[0].files["file"]
    assert upload.data == data
    assert upload.filename is not None
    assert upload.filename.endswith({"mp3": ".mp3", "m4a": ".m4a", "mp4": ".mp4"}[kind])


async def test_openai_wrong_key_is_a_speech_error_with_the_status() -> None:
    async with FakeSpeechServer("openai", api_key="sk-right") as server:
        stt = create(settings(server, api_key="sk-wrong"))
        with pytest.raises(SpeechError, match=r"answered 401: .*Incorrect API key"):
            await stt.transcribe(NOTE, "audio/ogg")


@pytest.mark.parametrize("protocol", ["whispercpp", "reference", "openai"])
async def test_error_status_is_a_speech_error_with_the_server_text(protocol: str) -> None:
    async with FakeSpeechServer(protocol) as server:
        server.enqueue(Answer.error(503, "model is loading, " + "please wait " * 40))
        stt = create(settings(server))
        with pytest.raises(SpeechError) as caught:
            await stt.transcribe(NOTE, "audio/ogg")
    message = str(caught.value)
    assert message.startswith("The speech server answered 503: model is loading, please wait")
    assert len(message) <= len("The speech server answered 503: ") + 200


@pytest.mark.parametrize("protocol", ["whispercpp", "reference", "openai"])
async def test_every_protocol_defaults_to_its_endpoint(protocol: str) -> None:
    async with FakeSpeechServer(protocol, default_text="fine") as server:
        result = await create(settings(server)).transcribe(NOTE, "audio/ogg")
    assert result.text == "fine"
    assert len(server.requests) == 1


async def test_a_wrong_path_is_a_404_speech_error() -> None:
    async with FakeSpeechServer("whispercpp") as server:
        stt = create(SpeechSettings(backend="http", url=server.base_url + "/transcribe"))
        with pytest.raises(SpeechError, match="answered 404"):
            await stt.transcribe(NOTE, "audio/ogg")


async def test_a_slow_server_times_out() -> None:
    async with FakeSpeechServer("whispercpp") as server:
        server.enqueue(Answer.slow(5.0))
        stt = HttpTranscriber(settings(server), timeout=0.3, timeout_per_second=0.0)
        with pytest.raises(SpeechError, match=r"did not answer within 0.3 s"):
            await stt.transcribe(NOTE, "audio/ogg")


async def test_an_unreachable_server_is_a_speech_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    stt = create(SpeechSettings(backend="http", url=f"http://127.0.0.1:{port}/inference"))
    with pytest.raises(
        SpeechError, match=f"Could not reach the speech server at http://127.0.0.1:{port}"
    ):
        await stt.transcribe(NOTE, "audio/ogg")


async def test_silence_is_not_uploaded() -> None:
    async with FakeSpeechServer("openai") as server:
        result = await create(settings(server)).transcribe(silence_ogg(2.0), "audio/ogg")
    assert result.empty
    assert server.requests == []


async def test_an_injected_client_is_used_and_left_open() -> None:
    async with FakeSpeechServer("whispercpp") as server, httpx.AsyncClient() as client:
        stt = HttpTranscriber(settings(server), client)
        for _ in range(2):
            assert (await stt.transcribe(NOTE, "audio/ogg")).text == server.default_text
        assert not client.is_closed
    assert len(server.requests) == 2
