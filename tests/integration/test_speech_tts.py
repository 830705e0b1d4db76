"""espeak-ng speaks replies as Telegram voice notes."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import av
import pytest

from voice_agent.speech import EspeakTTS, SpeechError, TextToSpeech, decode, is_silent


def _probe(data: bytes) -> tuple[str, str, int, int]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        return container.format.name, stream.codec_context.name, stream.rate, stream.channels


async def test_synthesize_gives_an_ogg_opus_voice_note() -> None:
    tts: TextToSpeech = EspeakTTS()
    assert tts.available()
    assert tts.name == "espeak-ng"
    note = await tts.synthesize("All twelve tests pass. Shall I commit?")
    assert _probe(note) == ("ogg", "opus", 48_000, 1)
    decoded = decode(note, "audio/ogg", max_seconds=60, max_bytes=1 << 22)
    assert 1.5 < decoded.duration < 6.0
    assert not is_silent(decoded.samples)


async def test_other_languages_and_leading_dashes() -> None:
    note = await EspeakTTS().synthesize("--version ist die Option.", language="de")
    assert decode(note, "audio/ogg", max_seconds=60, max_bytes=1 << 22).duration > 0.5


async def test_nothing_to_say_is_a_speech_error() -> None:
    with pytest.raises(SpeechError, match="nothing to say"):
        await EspeakTTS().synthesize("   ")


async def test_unknown_voice_is_a_speech_error() -> None:
    with pytest.raises(SpeechError, match="espeak-ng"):
        await EspeakTTS().synthesize("hello", language="xx-nonexistent")


async def test_missing_program_is_unavailable_and_a_speech_error() -> None:
    tts = EspeakTTS(binary="/nonexistent/espeak-ng")
    assert not tts.available()
    with pytest.raises(SpeechError, match="not available"):
        await tts.synthesize("hello")


async def test_a_hanging_program_is_stopped_at_the_timeout(tmp_path: Path) -> None:
    script = tmp_path / "slow-espeak"
    script.write_text("#!/bin/sh\nsleep 30\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    tts = EspeakTTS(binary=str(script), timeout=0.3)
    with pytest.raises(SpeechError, match=r"longer than 0\.3 s"):
        await tts.synthesize("hello")
