"""The HTTP backend's URLs, requests and error messages, through httpx.MockTransport."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes.audio import silence_ogg, voice_note
from voice_agent.speech.base import AudioError, SpeechError, SpeechSettings
from voice_agent.speech.http import HttpTranscriber, endpoint_for


@pytest.mark.parametrize(
    ("url", "protocol", "expected"),
    [
        (
            "http://127.0.0.1:8080/inference",
            "auto",
            ("whispercpp", "http://127.0.0.1:8080/inference"),
        ),
        (
            "http://127.0.0.1:8080/transcribe/",
            "auto",
            ("reference", "http://127.0.0.1:8080/transcribe"),
        ),
        ("http://h:1", "auto", ("openai", "http://h:1/v1/audio/transcriptions")),
        (
            "https://api.groq.com/openai/v1",
            "auto",
            ("openai", "https://api.groq.com/openai/v1/audio/transcriptions"),
        ),
        (
            "https://api.openai.com/v1/audio/transcriptions",
            "auto",
            ("openai", "https://api.openai.com/v1/audio/transcriptions"),
        ),
        ("http://h:1", "whispercpp", ("whispercpp", "http://h:1/inference")),
        ("http://h:1/stt/", "reference", ("reference", "http://h:1/stt/transcribe")),
        ("http://h:1/transcribe", "reference", ("reference", "http://h:1/transcribe")),
        ("http://h:1/", "openai", ("openai", "http://h:1/v1/audio/transcriptions")),
    ],
)
def test_endpoint_from_url_and_protocol(url: str, protocol: str, expected: tuple[str, str]) -> None:
    assert endpoint_for(url, protocol) == expected


@pytest.mark.parametrize(
    ("url", "protocol", "message"),
    [
        ("ftp://h/inference", "auto", "must start with http"),
        ("localhost:8080", "auto", "must start with http"),
        ("http://h:1", "grpc", "Unknown speech server protocol 'grpc'"),
    ],
)
def test_bad_url_or_protocol(url: str, protocol: str, message: str) -> None:
    with pytest.raises(SpeechError, match=message):
        endpoint_for(url, protocol)


def engine(transport: httpx.MockTransport, *, use_vocabulary: bool = True) -> HttpTranscriber:
    settings = SpeechSettings(
        backend="http", url="http://stt.test/inference", use_vocabulary=use_vocabulary
    )
    return HttpTranscriber(settings, httpx.AsyncClient(transport=transport))


def answering(
    status: int, body: bytes, seen: list[httpx.Request] | None = None
) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, content=body)

    return httpx.MockTransport(handle)


async def test_text_is_stripped_and_duration_comes_from_the_audio() -> None:
    result = await engine(answering(200, b'{"text": "  run the tests \\n"}')).transcribe(
        voice_note("run the tests"), "audio/ogg"
    )
    assert result.text == "run the tests"
    assert result.language == "en"
    assert result.confidence is None
    assert 1.0 < result.duration < 2.5


async def test_server_error_names_the_status_and_cuts_the_text() -> None:
    long_text = "Internal failure: " + "x" * 500
    with pytest.raises(SpeechError) as caught:
        await engine(answering(500, long_text.encode())).transcribe(voice_note("yes"), "audio/ogg")
    message = str(caught.value)
    assert message.startswith("The speech server answered 500: Internal failure: xxx")
    assert len(message) < 260


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>oops</html>", "not JSON: <html>oops</html>"),
        (b'{"error": "failed to read WAV file"}', "reported an error: failed to read WAV file"),
        (b'{"segments": []}', "has no text"),
    ],
)
async def test_answers_without_text_are_speech_errors(body: bytes, message: str) -> None:
    with pytest.raises(SpeechError, match=message):
        await engine(answering(200, body)).transcribe(voice_note("yes"), "audio/ogg")


async def test_silence_and_bad_audio_never_reach_the_server() -> None:
    seen: list[httpx.Request] = []
    stt = engine(answering(200, b'{"text": "hallucinated"}', seen))
    result = await stt.transcribe(silence_ogg(2.0), "audio/ogg")
    assert result.empty
    assert result.duration == pytest.approx(2.0, abs=0.05)
    with pytest.raises(AudioError):
        await stt.transcribe(b"garbage" * 100, "audio/ogg")
    assert seen == []


async def test_connection_errors_name_the_server() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(SpeechError, match=r"Could not reach the speech server at http://stt.test"):
        await engine(httpx.MockTransport(refuse)).transcribe(voice_note("yes"), "audio/ogg")


async def test_vocabulary_goes_in_the_prompt_unless_disabled() -> None:
    seen: list[httpx.Request] = []
    await engine(answering(200, b'{"text": "ok"}', seen)).transcribe(
        voice_note("yes"), "audio/ogg", vocabulary=["pytest", "mypy"]
    )
    await engine(answering(200, b'{"text": "ok"}', seen), use_vocabulary=False).transcribe(
        voice_note("yes"), "audio/ogg", vocabulary=["pytest", "mypy"]
    )
    with_words, without = (request.read() for request in seen)
    assert b"Claude, please use pytest, mypy." in with_words
    assert b"pytest" not in without


async def test_language_from_the_server_wins_when_given() -> None:
    body = b'{"text": "hola", "language": "es"}'
    result = await engine(answering(200, body)).transcribe(voice_note("yes"), "audio/ogg")
    assert (result.text, result.language) == ("hola", "es")


async def test_an_error_never_quotes_the_credentials_the_server_echoes() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("Authorization", "")
        body = {"error": f"bad credentials {auth} for {request.url}", "headers": auth}
        return httpx.Response(401, json=body)

    settings = SpeechSettings(
        backend="http",
        url="http://stt:url-pass-1@stt.test/v1?key=query-key-1",
        protocol="openai",
        api_key="sk-proj-http-key-1",
    )
    stt = HttpTranscriber(settings, httpx.AsyncClient(transport=httpx.MockTransport(echo)))
    with pytest.raises(SpeechError) as caught:
        await stt.transcribe(voice_note("yes"), "audio/ogg")
    message = str(caught.value)
    assert message.startswith("The speech server answered 401: bad credentials")
    for secret in ("sk-proj-http-key-1", "url-pass-1", "query-key-1"):
        assert secret not in message


async def test_connection_errors_mask_the_password_of_the_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    settings = SpeechSettings(backend="http", url="http://me:url-pass-2@stt.test/inference")
    stt = HttpTranscriber(settings, httpx.AsyncClient(transport=httpx.MockTransport(refuse)))
    with pytest.raises(SpeechError) as caught:
        await stt.transcribe(voice_note("yes"), "audio/ogg")
    assert "at http://me:***@stt.test/inference (ConnectError)" in str(caught.value)
    assert "url-pass-2" not in str(caught.value)
