"""Real speech for tests: espeak-ng WAVs encoded the way Telegram sends voice notes.

* :func:`speak` — espeak-ng's WAV of a text;
* :func:`voice_note` — the same as OGG/Opus, mono, 48 kHz (a Telegram voice note);
* :func:`silence_ogg`, :func:`noise_ogg` — voice notes with nothing said;
* :func:`padded_note` — speech repeated and padded with silence to an exact length;
* :func:`spoken_sequence` — several sentences in one long note;
* :data:`COMMANDS` and :func:`word_error_rate` — a developer-command corpus and the
  metric the tests and ``bench.voice`` score transcripts with.

Every function is cached: synthesising is the slow part of a test.
"""

from __future__ import annotations

import functools
import io
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from voice_agent.speech.audio import SAMPLE_RATE, Samples, decode, encode_ogg_opus

ESPEAK = "espeak-ng"

COMMANDS: tuple[str, ...] = (
    "run the tests with pytest",
    "check the types with mypy",
    "show me the git diff",
    "open pyproject dot toml",
    "kubectl get pods",
    "install the dependencies with npm",
    "fix the failing test in test underscore api dot py",
    "commit the changes and push the branch",
    "what does the README say",
    "run ruff and fix the lint errors",
    "approve",
    "yes go ahead",
    "rebase the branch on main",
    "start the docker compose stack",
    "add a FastAPI endpoint that returns JSON",
    "reject",
)
"""Commands a developer says to Claude Code, full of names small models get wrong."""


def espeak_available() -> bool:
    """Whether espeak-ng is on PATH."""
    return shutil.which(ESPEAK) is not None


@functools.cache
def speak(text: str, wpm: int = 160, voice: str = "en-us") -> bytes:
    """espeak-ng's WAV (22,050 Hz mono) of ``text``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "speech.wav"
        subprocess.run(
            [ESPEAK, "-v", voice, "-s", str(wpm), "-w", str(path), text],
            check=True,
            capture_output=True,
            timeout=30,
        )
        return path.read_bytes()


def speech_samples(text: str, wpm: int = 160, voice: str = "en-us") -> Samples:
    """The spoken text as float32 mono 16 kHz samples."""
    wav = speak(text, wpm, voice)
    return decode(wav, "audio/wav", max_seconds=600, max_bytes=1 << 30).samples


@functools.cache
def voice_note(text: str, wpm: int = 160, voice: str = "en-us") -> bytes:
    """The spoken text as a Telegram voice note (OGG/Opus, mono, 48 kHz)."""
    return encode_ogg_opus(speak(text, wpm, voice))


@functools.cache
def silence_ogg(seconds: float) -> bytes:
    """A voice note of digital silence."""
    return encode_ogg_opus(np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32))


@functools.cache
def noise_ogg(seconds: float, level_dbfs: float = -20.0) -> bytes:
    """A voice note of white noise (seeded, so every run gets the same)."""
    rng = np.random.default_rng(7)
    amplitude = 10.0 ** (level_dbfs / 20.0)
    noise = rng.normal(0.0, amplitude, int(seconds * SAMPLE_RATE)).astype(np.float32)
    return encode_ogg_opus(noise)


@functools.cache
def padded_note(text: str, seconds: float, gap: float = 0.4) -> bytes:
    """A voice note exactly ``seconds`` long: the speech repeated, then silence.

    The speech is repeated (with ``gap`` seconds between) while a whole repetition
    still fits, so a long note is mostly speech, the hardest case for latency.
    """
    return encode_ogg_opus(padded_samples(text, seconds, gap))


def padded_samples(text: str, seconds: float, gap: float = 0.4) -> Samples:
    """The samples of :func:`padded_note`."""
    speech = speech_samples(text)
    pause = np.zeros(int(gap * SAMPLE_RATE), dtype=np.float32)
    total = int(seconds * SAMPLE_RATE)
    parts: list[Samples] = [speech]
    length = speech.size
    while length + pause.size + speech.size <= total:
        parts += [pause, speech]
        length += pause.size + speech.size
    joined = np.concatenate(parts)[:total]
    tail = np.zeros(total - joined.size, dtype=np.float32)
    return np.concatenate([joined, tail])


@functools.cache
def spoken_sequence(texts: tuple[str, ...], gap: float = 0.5) -> bytes:
    """One voice note saying each text in turn, with ``gap`` seconds of silence between."""
    pause = np.zeros(int(gap * SAMPLE_RATE), dtype=np.float32)
    parts: list[Samples] = []
    for text in texts:
        parts += [speech_samples(text), pause]
    return encode_ogg_opus(np.concatenate(parts))


_SYMBOLS = (
    (re.compile(r"(?<=\w)\.(?=\w)"), " dot "),
    (re.compile(r"_"), " underscore "),
    (re.compile(r"[^\w' ]+"), " "),
)


def normalize(text: str) -> list[str]:
    """Words to score: lower case, ``a.b`` read as "a dot b", ``_`` as "underscore".

    So ``pyproject.toml`` and "pyproject dot toml" both count as right.
    """
    text = text.lower()
    for pattern, replacement in _SYMBOLS:
        text = pattern.sub(replacement, text)
    return text.split()


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance between two word sequences."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            substitute = previous[j - 1] + (ref_word != hyp_word)
            current.append(min(previous[j] + 1, current[j - 1] + 1, substitute))
        previous = current
    return previous[-1]


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus WER: word edits over reference words, after :func:`normalize`."""
    assert len(references) == len(hypotheses)
    edits = sum(
        edit_distance(normalize(ref), normalize(hyp))
        for ref, hyp in zip(references, hypotheses, strict=True)
    )
    words = sum(len(normalize(ref)) for ref in references)
    return edits / max(1, words)


MEDIA_MIME = {
    "ogg": "audio/ogg",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "wav": "audio/wav",
    "mp4": "video/mp4",
}
"""The MIME type Telegram gives each kind of file :func:`media_file` makes."""


@functools.cache
def media_file(text: str, kind: str) -> bytes:
    """The spoken text as an audio file (``ogg``, ``mp3``, ``m4a``, ``wav``) or a round
    video note (``mp4``: a 240×240 H.264 track beside the AAC sound)."""
    if kind == "ogg":
        return voice_note(text)
    if kind == "wav":
        return speak(text)
    samples = speech_samples(text)
    if kind == "mp3":
        return _encode_with(samples, "mp3", "libmp3lame", video=False)
    if kind == "m4a":
        return _encode_with(samples, "ipod", "aac", video=False)
    if kind == "mp4":
        return _encode_with(samples, "mp4", "aac", video=True)
    raise ValueError(f"unknown kind {kind!r}")


def _encode_with(samples: Samples, container: str, codec: str, *, video: bool) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as output:
        pictures = output.add_stream("libx264", rate=25) if video else None
        if pictures is not None:
            pictures.width = pictures.height = 240
            pictures.pix_fmt = "yuv420p"
        sound = output.add_stream(codec, rate=44_100, layout="mono")
        assert isinstance(sound, av.audio.stream.AudioStream)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = 0
        frame.time_base = Fraction(1, SAMPLE_RATE)
        resampler = av.AudioResampler(format=sound.format.name, layout="mono", rate=44_100)
        for chunk in [*resampler.resample(frame), *resampler.resample(None)]:
            output.mux(sound.encode(chunk))
        output.mux(sound.encode(None))
        if pictures is not None:
            _add_pictures(output, pictures, samples.size / SAMPLE_RATE)
    return buffer.getvalue()


def _add_pictures(
    output: av.container.OutputContainer, stream: av.video.stream.VideoStream, seconds: float
) -> None:
    grey = np.full((240, 240, 3), 128, dtype=np.uint8)
    for _ in range(max(1, int(seconds * 25))):
        picture = av.VideoFrame.from_ndarray(grey, format="rgb24")
        output.mux(stream.encode(picture))
    output.mux(stream.encode(None))
