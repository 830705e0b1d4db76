"""Speech-to-text on a server: whisper.cpp, the reference project's server, or OpenAI-style.

Three protocols, all a multipart POST answered with JSON ``{"text": ...}``:

=============  ===========================  ==================  ==========================
protocol       path                         file field          audio sent
=============  ===========================  ==================  ==========================
whispercpp     ``/inference``               ``file``            16 kHz WAV (what it reads)
reference      ``/transcribe``              ``audio``           the file as received
openai         ``/v1/audio/transcriptions``  ``file`` + ``model``  the file as received
=============  ===========================  ==================  ==========================

The audio is decoded here first anyway: limits and silence are checked before any upload.
Errors name the server by its masked URL and never quote a body as received: only a
short reason, with the API key and the URL's secrets redacted (a server may echo them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from voice_agent.redaction import mask_url, redact, url_secrets
from voice_agent.speech.audio import DecodedAudio, decode, is_silent, to_wav
from voice_agent.speech.base import SpeechError, SpeechSettings, Transcript
from voice_agent.speech.registry import register
from voice_agent.speech.vocabulary import initial_prompt

PROTOCOL_PATHS = {
    "whispercpp": "/inference",
    "reference": "/transcribe",
    "openai": "/v1/audio/transcriptions",
}
"""The endpoint path of each protocol, added to a base URL."""

_EXTENSIONS = {
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mp4": "m4a",
    "audio/m4a": "m4a",
    "audio/x-m4a": "m4a",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "video/mp4": "mp4",
}
_ERROR_TEXT_LIMIT = 200

FileField = tuple[str, bytes, str]


def endpoint_for(url: str, protocol: str = "auto") -> tuple[str, str]:
    """The protocol and full endpoint URL for a configured URL.

    Args:
        url: A base URL (``http://127.0.0.1:8080``) or a full endpoint.
        protocol: ``whispercpp``, ``reference``, ``openai`` or ``auto`` (from the URL's
            path: ``/inference`` or ``/transcribe``, else openai).

    Returns:
        ``(protocol, endpoint)``.

    Raises:
        SpeechError: The protocol is unknown or the URL is not http(s).
    """
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL as error:
        raise SpeechError(f"The speech server URL {mask_url(url)!r} is not valid.") from error
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise SpeechError(
            f"The speech server URL {mask_url(url)!r} must start with http:// or https://."
        )
    path = parsed.path.rstrip("/")
    if protocol == "auto":
        protocol = next((p for p, end in PROTOCOL_PATHS.items() if path.endswith(end)), "openai")
    if protocol not in PROTOCOL_PATHS:
        known = ", ".join([*PROTOCOL_PATHS, "auto"])
        raise SpeechError(f"Unknown speech server protocol {protocol!r} (known: {known}).")
    return protocol, str(parsed.copy_with(path=_endpoint_path(path, protocol)))


def _endpoint_path(path: str, protocol: str) -> str:
    if protocol == "openai":
        if path.endswith("/audio/transcriptions"):
            return path
        if path.endswith("/v1"):
            return path + "/audio/transcriptions"
    elif path.endswith(PROTOCOL_PATHS[protocol]):
        return path
    return path + PROTOCOL_PATHS[protocol]


@dataclass
class Upload:
    """One multipart request: form fields, the file and headers."""

    files: dict[str, FileField]
    data: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


class HttpTranscriber:
    """Speech-to-text on a whisper.cpp, reference or OpenAI-compatible server.

    Attributes:
        name: ``http``.
        settings: The speech settings (``url``, ``protocol``, ``api_key``, ``http_model``).
        protocol: The protocol in use.
        endpoint: The URL posted to.
    """

    name = "http"

    def __init__(
        self,
        settings: SpeechSettings,
        client: httpx.AsyncClient | None = None,
        *,
        timeout: float = 60.0,
        timeout_per_second: float = 1.0,
    ) -> None:
        """Check the URL now; requests are made per transcription.

        Args:
            settings: The speech settings.
            client: The HTTP client to use (tests pass one with a mock transport); when
                None, each transcription opens and closes its own.
            timeout: Seconds to wait for an answer...
            timeout_per_second: ...plus this many per second of audio.

        Raises:
            SpeechError: No URL, or an invalid URL or protocol.
        """
        if not settings.url:
            raise SpeechError("The http speech backend needs a server URL (WHISPER_URL).")
        self.settings = settings
        self.protocol, self.endpoint = endpoint_for(settings.url, settings.protocol)
        self._secrets = [s for s in (settings.api_key, *url_secrets(settings.url)) if s]
        self._client = client
        self._timeout = timeout
        self._timeout_per_second = timeout_per_second

    async def transcribe(
        self, audio: bytes, mime: str, *, vocabulary: Sequence[str] = ()
    ) -> Transcript:
        """Send the audio to the server; silence is answered here without a request.

        Args:
            audio: The file's bytes.
            mime: Its MIME type.
            vocabulary: Words to send as the prompt (ignored without
                ``settings.use_vocabulary``, and by the reference protocol).

        Returns:
            The server's transcript; confidence is None (the protocols carry none).

        Raises:
            AudioError: The audio cannot be decoded, or is too long or too big.
            SpeechError: The server cannot be reached, times out, or answers an error.
        """
        settings = self.settings
        decoded = await asyncio.to_thread(
            decode, audio, mime, max_seconds=settings.max_seconds, max_bytes=settings.max_bytes
        )
        if is_silent(decoded.samples):
            return Transcript("", settings.language, decoded.duration, None)
        prompt = initial_prompt(vocabulary) if settings.use_vocabulary else ""
        upload = await asyncio.to_thread(self._upload, audio, mime, decoded, prompt)
        answer = await self._post(upload, self._wait_for(decoded.duration))
        text, language = _parse(answer, self._secrets)
        return Transcript(text.strip(), language or settings.language, decoded.duration, None)

    def _wait_for(self, seconds_of_audio: float) -> float:
        return self._timeout + self._timeout_per_second * seconds_of_audio

    def _upload(self, audio: bytes, mime: str, decoded: DecodedAudio, prompt: str) -> Upload:
        settings = self.settings
        headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        if self.protocol == "reference":
            return Upload({"audio": _as_received(audio, mime, decoded)}, headers=headers)
        data = {"response_format": "json", "temperature": "0"}
        if settings.language:
            data["language"] = settings.language
        if prompt:
            data["prompt"] = prompt
        if self.protocol == "whispercpp":
            wav = ("audio.wav", to_wav(decoded.samples), "audio/wav")
            return Upload({"file": wav}, data, headers)
        data["model"] = settings.http_model
        return Upload({"file": _as_received(audio, mime, decoded)}, data, headers)

    async def _post(self, upload: Upload, wait: float) -> httpx.Response:
        limits = httpx.Timeout(wait, connect=min(10.0, wait))
        try:
            if self._client is not None:
                return await self._send(self._client, upload, limits)
            async with httpx.AsyncClient() as client:
                return await self._send(client, upload, limits)
        except httpx.TimeoutException as error:
            raise SpeechError(
                f"The speech server at {mask_url(self.endpoint)} did not answer within "
                f"{wait:.3g} s."
            ) from error
        except httpx.HTTPError as error:
            raise SpeechError(
                f"Could not reach the speech server at {mask_url(self.endpoint)} "
                f"({type(error).__name__})."
            ) from error

    async def _send(
        self, client: httpx.AsyncClient, upload: Upload, limits: httpx.Timeout
    ) -> httpx.Response:
        response = await client.post(
            self.endpoint,
            files=upload.files,
            data=upload.data,
            headers=upload.headers,
            timeout=limits,
        )
        if response.status_code >= 400:
            raise SpeechError(
                f"The speech server answered {response.status_code}: "
                f"{_reason(response, self._secrets)}"
            )
        return response


def _as_received(audio: bytes, mime: str, decoded: DecodedAudio) -> FileField:
    """The file as received when its type is a common one, else the decoded audio as WAV."""
    kind = mime.split(";")[0].strip().lower()
    extension = _EXTENSIONS.get(kind)
    if extension is None:
        return ("audio.wav", to_wav(decoded.samples), "audio/wav")
    name = "voice" if kind in ("audio/ogg", "audio/opus") else "audio"
    return (f"{name}.{extension}", audio, kind)


def _parse(response: httpx.Response, secrets: Sequence[str]) -> tuple[str, str | None]:
    try:
        body = response.json()
    except ValueError as error:
        raise SpeechError(
            f"The speech server's answer is not JSON: {_reason(response, secrets)}"
        ) from error
    if isinstance(body, dict) and isinstance(body.get("text"), str):
        language = body.get("language")
        return body["text"], language if isinstance(language, str) else None
    if isinstance(body, dict) and "error" in body:
        raise SpeechError(f"The speech server reported an error: {_reason(response, secrets)}")
    raise SpeechError(f"The speech server's answer has no text: {_reason(response, secrets)}")


def _reason(response: httpx.Response, secrets: Sequence[str]) -> str:
    """What went wrong, short and safe to show: never the body as received.

    The message of a JSON error (``{"error": "..."}``, ``{"error": {"message": ...}}``,
    ``"message"``, ``"detail"``) when there is one, else the body's text; either way
    with ``secrets`` (the API key, the URL's password) and anything secret-looking
    redacted, on one line, cut short.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    reason = response.text
    if isinstance(body, dict):
        found = body.get("error", body.get("message", body.get("detail")))
        if isinstance(found, dict):
            found = found.get("message", found)
        if isinstance(found, str | int | float):
            reason = str(found)
    return _cut(redact(reason, secrets)) or response.reason_phrase


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _ERROR_TEXT_LIMIT else text[: _ERROR_TEXT_LIMIT - 1] + "…"


register("http", HttpTranscriber)
