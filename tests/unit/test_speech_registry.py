"""Backends register like plugins; the built-in ones register on import."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from voice_agent import speech
from voice_agent.speech import registry
from voice_agent.speech.base import SpeechError, SpeechSettings, SpeechToText, Transcript


class Parrot:
    """A third-party backend: answers with a fixed text."""

    name = "parrot"

    def __init__(self, settings: SpeechSettings) -> None:
        self.settings = settings

    async def transcribe(
        self, audio: bytes, mime: str, *, vocabulary: Sequence[str] = ()
    ) -> Transcript:
        return Transcript(f"{len(audio)} bytes of {mime}", "en", 1.0, None)


def test_built_in_backends_are_registered_on_import() -> None:
    assert {"local", "http"} <= set(registry.names())
    local = registry.create(SpeechSettings())
    assert isinstance(local, speech.LocalWhisper)
    assert local.name == "local"
    assert not local.loaded  # loading waits for the first use
    remote = registry.create(SpeechSettings(backend="http", url="http://127.0.0.1:9/inference"))
    assert isinstance(remote, speech.HttpTranscriber)
    assert remote.name == "http"


async def test_a_third_party_backend_registers_the_same_way() -> None:
    speech.register("parrot-test", Parrot)
    engine: SpeechToText = registry.create(SpeechSettings(backend="parrot-test"))
    assert isinstance(engine, Parrot)
    assert (await engine.transcribe(b"abc", "audio/ogg")).text == "3 bytes of audio/ogg"
    assert "parrot-test" in registry.names()


def test_unknown_backend_is_a_speech_error_naming_the_known_ones() -> None:
    with pytest.raises(SpeechError, match=r"Unknown speech backend 'whisperx'.*http.*local"):
        speech.create(SpeechSettings(backend="whisperx"))


def test_http_backend_without_url_is_a_speech_error() -> None:
    with pytest.raises(SpeechError, match="needs a server URL"):
        speech.create(SpeechSettings(backend="http"))


def test_transcript_empty_means_no_words() -> None:
    assert Transcript("", None, 0.0, None).empty
    assert Transcript(" ... ", None, 1.0, 0.5).empty
    assert not Transcript("yes", "en", 1.0, 0.9).empty


def test_settings_defaults_match_telegram_limits() -> None:
    settings = SpeechSettings()
    assert settings.backend == "local"
    assert settings.max_bytes == 20 * 1024 * 1024
    assert settings.max_seconds == 300.0
    assert settings.language == "en"
