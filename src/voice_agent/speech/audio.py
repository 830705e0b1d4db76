"""Audio in and out: decode what Telegram sends, detect silence, encode voice notes.

Everything goes through PyAV (FFmpeg), so OGG/Opus voice notes, MP3, M4A, WAV and MP4
video notes all decode the same way: to float32 mono 16 kHz, what Whisper expects.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from fractions import Fraction

import av
import av.error
import numpy as np
import numpy.typing as npt

from voice_agent.speech.base import AudioError

SAMPLE_RATE = 16_000
"""Samples per second of decoded audio."""

VOICE_NOTE_RATE = 48_000
"""Samples per second of a Telegram voice note."""

Samples = npt.NDArray[np.float32]

_LENGTH_SLACK = 0.5  # seconds over the limit forgiven (codec padding, rounded durations)
_FRAME_SECONDS = 0.03
_MIN_SPEECH_SECONDS = 0.3
_FORMAT_HINTS = {
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/mp4": "mp4",
    "audio/m4a": "mp4",
    "audio/x-m4a": "mp4",
    "video/mp4": "mp4",
}


@dataclass(frozen=True)
class DecodedAudio:
    """Audio ready for a speech engine.

    Attributes:
        samples: Float32 mono samples in [-1, 1] at :data:`SAMPLE_RATE`.
        duration: Seconds of audio.
    """

    samples: Samples
    duration: float

    @property
    def sample_rate(self) -> int:
        """Samples per second (always :data:`SAMPLE_RATE`)."""
        return SAMPLE_RATE


def decode(audio: bytes, mime: str, *, max_seconds: float, max_bytes: int) -> DecodedAudio:
    """Decode a voice note, audio file or video note's sound to 16 kHz mono float32.

    Args:
        audio: The file's bytes.
        mime: Its MIME type; a hint when the container cannot be recognised by content.
        max_seconds: Longest audio accepted.
        max_bytes: Largest file accepted (checked before decoding).

    Returns:
        The samples and their duration.

    Raises:
        AudioError: The file is empty, too big, too long, or not audio that can be decoded.
    """
    if not audio:
        raise AudioError("The audio file is empty.")
    if len(audio) > max_bytes:
        raise AudioError(
            f"The audio file is too big ({_megabytes(len(audio))}); "
            f"the limit is {_megabytes(max_bytes)}."
        )
    try:
        with _open(audio, mime) as container:
            samples = _decode_container(container, max_seconds)
    except av.error.FFmpegError as error:
        raise AudioError(f"Could not decode the audio ({mime or 'unknown type'}).") from error
    if samples.size == 0:
        raise AudioError("The audio file holds no sound.")
    return DecodedAudio(samples=samples, duration=samples.size / SAMPLE_RATE)


def _open(audio: bytes, mime: str) -> av.container.InputContainer:
    try:
        return av.open(io.BytesIO(audio), mode="r")
    except av.error.FFmpegError:
        hint = _FORMAT_HINTS.get(mime.split(";")[0].strip().lower())
        if hint is None:
            raise
        return av.open(io.BytesIO(audio), mode="r", format=hint)


def _decode_container(container: av.container.InputContainer, max_seconds: float) -> Samples:
    if not container.streams.audio:
        raise AudioError("The file has no sound track.")
    stream = container.streams.audio[0]
    declared = _declared_seconds(container, stream)
    if declared is not None and declared > max_seconds + _LENGTH_SLACK:
        raise _too_long(declared, max_seconds)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    limit = int((max_seconds + _LENGTH_SLACK) * SAMPLE_RATE)
    chunks: list[Samples] = []
    count = 0
    for packet in container.demux(stream):
        for frame in packet.decode():
            for out in resampler.resample(frame):
                chunk = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                chunks.append(chunk)
                count += chunk.size
            if count > limit:
                raise _too_long(None, max_seconds)
    for out in resampler.resample(None):
        chunks.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    if samples.size > limit:
        raise _too_long(None, max_seconds)
    return samples


def _declared_seconds(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream
) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _too_long(seconds: float | None, max_seconds: float) -> AudioError:
    length = f" ({_clock(seconds)})" if seconds is not None else ""
    return AudioError(f"The audio is too long{length}; the limit is {_clock(max_seconds)}.")


def _clock(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}".removesuffix(".0") + " s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")


def is_silent(
    samples: Samples, threshold_dbfs: float = -45.0, *, sample_rate: int = SAMPLE_RATE
) -> bool:
    """Whether audio holds too little sound to be speech.

    Audio is cut into 30 ms frames; a frame is loud when its RMS level is above the
    threshold. Less than 0.3 s of loud frames counts as silence.

    Args:
        samples: Float32 mono samples in [-1, 1].
        threshold_dbfs: The level (dB below full scale) that separates sound from silence.
        sample_rate: Samples per second.

    Returns:
        True when there is less than 0.3 s of sound above the threshold.
    """
    frame = max(1, int(sample_rate * _FRAME_SECONDS))
    usable = samples.size - samples.size % frame
    if usable == 0:
        return True
    frames = samples[:usable].astype(np.float64).reshape(-1, frame)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    level = 10.0 ** (threshold_dbfs / 20.0)
    loud_seconds = int(np.count_nonzero(rms > level)) * frame / sample_rate
    return loud_seconds < _MIN_SPEECH_SECONDS


def encode_ogg_opus(
    samples_or_wav_bytes: Samples | bytes, sample_rate: int = SAMPLE_RATE, *, bitrate: int = 32_000
) -> bytes:
    """Encode audio as a Telegram voice note: OGG/Opus, mono, 48 kHz.

    Args:
        samples_or_wav_bytes: Float32 mono samples, or the bytes of a WAV (or any audio
            file PyAV reads).
        sample_rate: Samples per second of ``samples``; ignored for bytes.
        bitrate: Opus bits per second.

    Returns:
        The OGG/Opus file's bytes.

    Raises:
        AudioError: The bytes cannot be decoded.
    """
    if isinstance(samples_or_wav_bytes, bytes | bytearray):
        decoded = decode(
            bytes(samples_or_wav_bytes), "audio/wav", max_seconds=3600, max_bytes=1 << 30
        )
        samples, sample_rate = decoded.samples, SAMPLE_RATE
    else:
        samples = np.asarray(samples_or_wav_bytes, dtype=np.float32).reshape(-1)
    return _encode(samples, sample_rate, bitrate)


def _encode(samples: Samples, sample_rate: int, bitrate: int) -> bytes:
    shortest = max(1, sample_rate // 50)  # one 20 ms Opus frame, so there is always a page
    if samples.size < shortest:
        samples = np.concatenate([samples, np.zeros(shortest - samples.size, np.float32)])
    frame = av.AudioFrame.from_ndarray(
        np.clip(samples, -1.0, 1.0).reshape(1, -1), format="flt", layout="mono"
    )
    frame.sample_rate = sample_rate
    frame.pts = 0
    frame.time_base = Fraction(1, sample_rate)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=VOICE_NOTE_RATE)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="ogg") as output:
        stream = output.add_stream("libopus", rate=VOICE_NOTE_RATE, layout="mono")
        stream.bit_rate = bitrate
        for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(resampled):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return buffer.getvalue()


def to_wav(samples: Samples, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Encode float32 mono samples as 16-bit PCM WAV bytes (what whisper.cpp reads).

    Args:
        samples: Float32 mono samples in [-1, 1].
        sample_rate: Samples per second.

    Returns:
        The WAV file's bytes.
    """
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(pcm.tobytes())
    return buffer.getvalue()
