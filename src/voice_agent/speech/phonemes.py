"""How words sound: their phonemes (IPA), from the espeak-ng program.

Spelling hides sound: "by this time" and ``vitest`` share few letters, but espeak-ng
says them /baɪðɪstaɪm/ and /vaɪɾɪst/. :func:`voice_agent.speech.correction.correct`
compares these to find the session term a misheard phrase may have been, before it
asks the audio (:mod:`voice_agent.speech.forced`).

espeak-ng is run as a program (the one that speaks replies, :mod:`voice_agent.speech.tts`),
once for every batch of words not seen before, the words on its standard input, one
per line (never as arguments or options, and never as markup). Without it, or when
it fails, :meth:`Phonemes.of` returns nothing and the correction goes by spelling
alone.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
from collections.abc import Sequence

logger = logging.getLogger(__name__)

_NOT_SPOKEN = re.compile(r"[^a-z0-9' ]+")
_MARKS = re.compile(r"[ˈˌːˑ\s]")  # stress, length and spaces: not what is compared
_VOICES = {"en": "en-us"}
_VOICE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{1,8})*")
_MOST_LETTERS = 64  # a longer "word" is not a name anybody says
_MOST_KEPT = 20_000


def spoken(text: str) -> str:
    """``text`` as words espeak-ng may read: lower case, symbols as spaces."""
    return " ".join(_NOT_SPOKEN.sub(" ", text.lower().replace("_", " ")).split())


def _sayable(words: str) -> bool:
    return len(words) <= _MOST_LETTERS and any(c.isalnum() for c in words)


class Phonemes:
    """The phonemes of words, by espeak-ng, remembered once computed.

    Args:
        program: espeak-ng's path (default: found on ``PATH``).
        timeout: Seconds one run may take.
    """

    def __init__(self, program: str | None = None, timeout: float = 5.0) -> None:
        self._program = program if program is not None else shutil.which("espeak-ng")
        self._timeout = timeout
        self._known: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self._failed = False

    @property
    def available(self) -> bool:
        """Whether espeak-ng is there (and has not failed)."""
        return self._program is not None and not self._failed

    def of(self, texts: Sequence[str], language: str = "en") -> dict[str, str]:
        """The phonemes of each text that espeak-ng could say.

        Args:
            texts: Words or short phrases (``"invoice_renderer.py"``, ``"by this time"``).
            language: Their language (ISO 639-1, or an espeak-ng voice).

        Returns:
            For each text that has phonemes, the IPA without stress, length marks and
            spaces; empty without espeak-ng.
        """
        voice = _VOICES.get(language, language)
        if not _VOICE.fullmatch(voice):
            return {}
        wanted = {text: spoken(text) for text in texts}
        with self._lock:
            missing = sorted(
                {
                    words
                    for words in wanted.values()
                    if any(c.isalnum() for c in words)
                    and len(words) <= _MOST_LETTERS
                    and (voice, words) not in self._known
                }
            )
            if missing and self.available:
                self._learn(missing, voice)
            found = {t: self._known.get((voice, w), "") for t, w in wanted.items()}
        return {text: sound for text, sound in found.items() if sound}

    def _learn(self, words: list[str], voice: str) -> None:
        assert self._program is not None
        if len(self._known) + len(words) > _MOST_KEPT:
            self._known.clear()
        for word in words:  # asked once: a batch that failed is not asked again
            self._known[(voice, word)] = ""
        try:
            done = subprocess.run(
                [self._program, "-q", "--ipa", "-v", voice],
                input="\n".join(words) + "\n",
                capture_output=True,
                encoding="utf-8",  # IPA, whatever the locale
                errors="replace",
                timeout=self._timeout,
                check=False,
            )
        except OSError as error:  # not there, or not a program
            self._failed = True
            logger.warning("espeak-ng could not give phonemes: %s", error)
            return
        except subprocess.TimeoutExpired:
            logger.warning("espeak-ng took over %.0f s for %d words", self._timeout, len(words))
            return
        lines = done.stdout.splitlines()
        if done.returncode != 0 or len(lines) != len(words):
            logger.warning(
                "espeak-ng gave no phonemes for %d words (exit %d)", len(words), done.returncode
            )
            return
        for word, line in zip(words, lines, strict=True):
            self._known[(voice, word)] = _MARKS.sub("", line)


PHONEMES = Phonemes()
"""The phonemes the embedded engine's correction uses."""
