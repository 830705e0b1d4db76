"""Scoring a sentence against the audio it was heard from (Whisper's forced decoding).

:class:`KeepingModel` is faster-whisper's model that keeps, per thread, the encoder's
output of the last window it encoded, so a sentence can be scored against the very
audio just transcribed without encoding it again (about 0.3 s for a window of
tiny.en on 2 cores). :class:`AudioCheck` asks the decoder, told of the terms tried
in its prompt, how probable each sentence is (CTranslate2's ``align`` gives the
probability of every token given the audio and the tokens before it): what
:func:`voice_agent.speech.correction.correct` needs to keep or drop a change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from more_itertools import batched

FOCUS_PROMPT = "Claude, please use {}."
"""The decoder's prompt when a sentence with ``term`` is scored (the bot's prompt style)."""

logger = logging.getLogger(__name__)

_FLOOR = 1e-12  # a token probability of zero would make the log -inf
_MOST_PROMPT = 120  # tokens of the prompt kept (Whisper takes 223)
_MOST_AT_ONCE = 2  # sentences decoded together: each holds the attention of the whole window


class KeepingModel(WhisperModel):  # type: ignore[misc]  # faster-whisper is untyped
    """A faster-whisper model that keeps the last encoder output of each thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept = threading.local()

    def encode(self, features: np.ndarray) -> ctranslate2.StorageView:
        """Encode as faster-whisper does, and keep the result for :meth:`take_encoded`."""
        encoded = super().encode(features)
        self._kept.value = encoded
        return encoded

    def take_encoded(self) -> Any:
        """The last encoder output of this thread (then forgotten), or None."""
        encoded = getattr(self._kept, "value", None)
        self._kept.value = None
        return encoded


class AudioCheck:
    """Scores sentences against one window of audio.

    Args:
        model: The model that encoded the window.
        encoded: Its encoder output (one window: shape ``[1, frames, width]``).
        frames: The window's mel frames that hold the note (100 a second).
        language: The transcript's language code.
    """

    def __init__(self, model: KeepingModel, encoded: Any, frames: int, language: str) -> None:
        self._model = model
        self._encoded = np.array(encoded)  # a copy: the StorageView's memory is its own
        self._frames = max(1, frames)
        self._tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
        )

    def __call__(self, sentences: Sequence[str], terms: Sequence[str]) -> list[float]:
        """How probable the audio makes each sentence, with ``terms`` named in the prompt.

        Args:
            sentences: The sentence as decoded and the same with a phrase replaced
                by a term, one per term tried.
            terms: The terms tried, named in the decoder's prompt for every sentence
                (:data:`FOCUS_PROMPT`), so that the scores compare.

        Returns:
            log P(sentence | audio, prompt) of each sentence; empty when the model
            could not score them (then nothing is changed).
        """
        if not sentences:
            return []
        tokenizer = self._tokenizer
        prompt = tokenizer.encode(" " + FOCUS_PROMPT.format(", ".join(terms)))[:_MOST_PROMPT]
        start = [tokenizer.sot_prev, *prompt, *tokenizer.sot_sequence]
        texts = [tokenizer.encode(" " + sentence.strip()) for sentence in sentences]
        scores: list[float] = []
        for part in batched(texts, _MOST_AT_ONCE):
            batch = ctranslate2.StorageView.from_array(np.repeat(self._encoded, len(part), axis=0))
            try:
                results = self._model.model.align(
                    batch, start, list(part), [self._frames] * len(part)
                )
            except (RuntimeError, ValueError) as error:  # the transcript stands as it is
                logger.warning("could not check a correction against the audio: %s", error)
                return []
            scores += (
                float(np.sum(np.log(np.maximum(np.asarray(r.text_token_probs), _FLOOR))))
                for r in results
            )
        return scores
