"""Decoding, limits, silence detection and voice-note encoding (PyAV, no model)."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from tests.fakes.audio import (
    MEDIA_MIME,
    media_file,
    noise_ogg,
    silence_ogg,
    speech_samples,
    voice_note,
)
from voice_agent.speech.audio import (
    SAMPLE_RATE,
    decode,
    encode_ogg_opus,
    is_silent,
    to_wav,
)
from voice_agent.speech.base import AudioError, SpeechError

MAX_BYTES = 20 * 1024 * 1024


def tone(seconds: float, level: float = 0.3, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.mark.parametrize("kind", sorted(MEDIA_MIME))
def test_every_telegram_kind_decodes_to_16k_mono_float(kind: str) -> None:
    decoded = decode(
        media_file("show me the git diff", kind),
        MEDIA_MIME[kind],
        max_seconds=300,
        max_bytes=MAX_BYTES,
    )
    assert decoded.samples.dtype == np.float32
    assert decoded.samples.ndim == 1
    assert decoded.sample_rate == SAMPLE_RATE
    assert 1.0 < decoded.duration < 3.0
    assert decoded.duration == pytest.approx(decoded.samples.size / SAMPLE_RATE)
    assert float(np.max(np.abs(decoded.samples))) <= 1.0
    assert not is_silent(decoded.samples)


def test_a_wrong_mime_does_not_matter_when_the_content_is_recognised() -> None:
    assert (
        decode(
            voice_note("approve"), "application/octet-stream", max_seconds=300, max_bytes=MAX_BYTES
        ).duration
        > 0.3
    )


@pytest.mark.parametrize(
    "garbage", [b"\x00" * 1000, b"not audio at all, just text", bytes(range(256)) * 40]
)
def test_garbage_is_an_audio_error(garbage: bytes) -> None:
    with pytest.raises(AudioError, match="Could not decode the audio"):
        decode(garbage, "audio/ogg", max_seconds=300, max_bytes=MAX_BYTES)


def test_truncated_voice_note_is_an_audio_error_or_shorter() -> None:
    note = voice_note("commit the changes and push the branch")
    try:
        decoded = decode(note[:200], "audio/ogg", max_seconds=300, max_bytes=MAX_BYTES)
    except AudioError:
        return
    assert decoded.duration < 1.0


def test_empty_is_an_audio_error() -> None:
    with pytest.raises(AudioError, match="empty"):
        decode(b"", "audio/ogg", max_seconds=300, max_bytes=MAX_BYTES)


def test_audio_errors_are_speech_errors() -> None:
    assert issubclass(AudioError, SpeechError)


def test_too_big_is_refused_before_decoding_and_names_the_limit() -> None:
    with pytest.raises(AudioError, match=r"too big \(2 MB\); the limit is 1 MB"):
        decode(b"\x00" * (2 * 1024 * 1024), "audio/ogg", max_seconds=300, max_bytes=1024 * 1024)


def test_too_long_by_its_metadata_names_both_lengths() -> None:
    note = encode_ogg_opus(tone(3.0))
    with pytest.raises(AudioError, match=r"too long \(3 s\); the limit is 2 s"):
        decode(note, "audio/ogg", max_seconds=2, max_bytes=1 << 20)


def test_a_note_right_at_the_limit_is_accepted() -> None:
    note = encode_ogg_opus(tone(2.0))
    assert decode(note, "audio/ogg", max_seconds=2, max_bytes=1 << 20).duration == pytest.approx(
        2.0, abs=0.03
    )


def test_too_long_found_while_decoding_when_the_metadata_understates() -> None:
    part = encode_ogg_opus(tone(3.0))
    chained = part + part + part  # a chained OGG declares 3 s but plays 9 s
    with pytest.raises(AudioError, match=r"too long; the limit is 5 s"):
        decode(chained, "audio/ogg", max_seconds=5, max_bytes=1 << 20)


def test_limit_in_minutes_reads_naturally() -> None:
    with pytest.raises(AudioError, match=r"too long \(1 min 30 s\); the limit is 1 min"):
        decode(to_wav(tone(90.0)), "audio/wav", max_seconds=60, max_bytes=1 << 24)


def test_a_file_without_sound_is_refused() -> None:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=25)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for _ in range(5):
            frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    with pytest.raises(AudioError, match="no sound track"):
        decode(buffer.getvalue(), "video/mp4", max_seconds=300, max_bytes=MAX_BYTES)


def test_silence_and_faint_hiss_are_silent() -> None:
    assert is_silent(np.zeros(SAMPLE_RATE * 3, np.float32))
    assert is_silent(np.zeros(0, np.float32))
    faint = np.random.default_rng(1).normal(0, 10 ** (-60 / 20), SAMPLE_RATE * 3)
    assert is_silent(faint.astype(np.float32))
    assert is_silent(
        decode(silence_ogg(2.0), "audio/ogg", max_seconds=300, max_bytes=MAX_BYTES).samples
    )


def test_speech_and_noise_are_not_silent() -> None:
    assert not is_silent(speech_samples("yes"))
    assert not is_silent(
        decode(noise_ogg(2.0), "audio/ogg", max_seconds=300, max_bytes=MAX_BYTES).samples
    )


def test_less_than_a_third_of_a_second_of_sound_is_silent() -> None:
    quiet = np.zeros(SAMPLE_RATE * 2, np.float32)
    click = np.concatenate([tone(0.2), quiet])
    word = np.concatenate([tone(0.5), quiet])
    assert is_silent(click)
    assert not is_silent(word)


def test_threshold_is_in_dbfs() -> None:
    minus_30 = tone(1.0, level=10 ** (-30 / 20) * np.sqrt(2))  # RMS of a sine is peak/√2
    assert not is_silent(minus_30, threshold_dbfs=-35)
    assert is_silent(minus_30, threshold_dbfs=-25)


def _probe(data: bytes) -> tuple[str, str, int, int]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        return container.format.name, stream.codec_context.name, stream.rate, stream.channels


def test_encoded_voice_notes_are_ogg_opus_mono_48k_like_telegram() -> None:
    from_samples = encode_ogg_opus(speech_samples("yes go ahead"), SAMPLE_RATE)
    from_wav = encode_ogg_opus(to_wav(speech_samples("yes go ahead")))
    for data in (from_samples, from_wav):
        assert _probe(data) == ("ogg", "opus", 48_000, 1)
        assert decode(
            data, "audio/ogg", max_seconds=300, max_bytes=MAX_BYTES
        ).duration == pytest.approx(speech_samples("yes go ahead").size / SAMPLE_RATE, abs=0.05)


def test_encoding_accepts_any_rate_and_clips() -> None:
    loud = (np.ones(22_050, np.float32) * 3.0).astype(np.float32)
    decoded = decode(
        encode_ogg_opus(loud, 22_050), "audio/ogg", max_seconds=300, max_bytes=MAX_BYTES
    )
    assert decoded.duration == pytest.approx(1.0, abs=0.05)


def test_to_wav_round_trips() -> None:
    samples = tone(0.5)
    decoded = decode(to_wav(samples), "audio/wav", max_seconds=300, max_bytes=MAX_BYTES)
    assert np.allclose(decoded.samples, samples, atol=1e-3)
