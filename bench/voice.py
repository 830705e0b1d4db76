"""Voice benchmark: accuracy and latency of the embedded speech engine on real speech.

Run: ``python -m bench.voice`` (``--runs N`` latency repetitions, ``--quick`` to skip the
tuning table).

All audio is espeak-ng speech encoded as Telegram voice notes (OGG/Opus, mono, 48 kHz),
transcribed by the default engine (faster-whisper, bundled ``tiny.en``, int8, 2 threads):

* model load time (cold, in a worker thread, as the bot does on first use);
* word error rate over developer commands (``tests.fakes.audio.COMMANDS``), with and
  without the vocabulary prompt, and over a second set of commands never used for tuning;
* seconds from the voice note's bytes to the transcript (the prompt is sent right after)
  for 3, 5, 10 and 30 s notes: median of ``--runs`` runs, and the real-time factor;
* the decoding choices tried (beam size, VAD, prompt or hotwords, conditioning on the
  previous window, temperature fallback, threads), including on one long note;
* the process's peak resident memory after all that.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

from tests.fakes.audio import (
    COMMANDS,
    padded_note,
    spoken_sequence,
    voice_note,
    word_error_rate,
)
from voice_agent.speech import SpeechSettings, vocabulary_for
from voice_agent.speech.local import LocalWhisper, WhisperOptions

HELD_OUT: tuple[str, ...] = (
    "restart nginx with systemd",
    "check the Redis config",
    "show me the stack trace",
    "run eslint and prettier on the frontend",
    "build the image from the Dockerfile",
    "open the tsconfig file",
    "use pnpm instead of yarn",
    "grep the logs for errors",
    "write a GraphQL endpoint",
    "open a pull request on GitHub",
    "stash my changes",
    "no",
)
"""Commands never used to tune the engine or the vocabulary (its words are in it)."""

LONG_SPEECH = "run the tests with pytest and then check the types with mypy"
LONG_NOTE = COMMANDS + HELD_OUT  # about 70 s: three of Whisper's 30 s windows
LENGTHS = (3.0, 5.0, 10.0, 30.0)
TARGET_5S = 1.0
TARGET_WER = 0.15


@dataclass(frozen=True)
class Score:
    """WER and mean seconds per note of one configuration over one corpus."""

    wer: float
    seconds: float
    misheard: list[tuple[str, str]]


async def score(engine: LocalWhisper, corpus: Sequence[str], words: Sequence[str]) -> Score:
    heard: list[str] = []
    started = time.perf_counter()
    for text in corpus:
        heard.append(
            (await engine.transcribe(voice_note(text), "audio/ogg", vocabulary=words)).text
        )
    seconds = (time.perf_counter() - started) / len(corpus)
    misheard = [(r, h) for r, h in zip(corpus, heard, strict=True) if word_error_rate([r], [h])]
    return Score(word_error_rate(corpus, heard), seconds, misheard)


async def latency(engine: LocalWhisper, seconds: float, runs: int, words: Sequence[str]) -> float:
    note = padded_note(LONG_SPEECH, seconds)
    await engine.transcribe(note, "audio/ogg", vocabulary=words)  # warm caches
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await engine.transcribe(note, "audio/ogg", vocabulary=words)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def accuracy(engine: LocalWhisper) -> Score:
    words = vocabulary_for(None)
    print("\nWord error rate (default engine; 'a.b' and 'a dot b' count as the same)")
    results = {}
    for name, corpus in (("commands", COMMANDS), ("held-out", HELD_OUT)):
        with_words = await score(engine, corpus, words)
        without = await score(engine, corpus, ())
        results[name] = with_words
        print(
            f"  {name:<9} ({len(corpus):2d} notes)  with vocabulary {with_words.wer:6.1%}   "
            f"without {without.wer:6.1%}   ({with_words.seconds:.2f} s per note)"
        )
    print(f"  target with vocabulary on commands: <= {TARGET_WER:.0%}")
    for reference, heard in results["commands"].misheard + results["held-out"].misheard:
        print(f"    said {reference!r:<58} heard {heard!r}")
    return results["commands"]


async def latencies(engine: LocalWhisper, runs: int) -> dict[float, float]:
    words = vocabulary_for(None)
    print(f"\nVoice note bytes -> transcript ready (median of {runs}, vocabulary on)")
    figures = {}
    for seconds in LENGTHS:
        figures[seconds] = await latency(engine, seconds, runs, words)
        print(
            f"  {seconds:4.0f} s note: {figures[seconds]:.2f} s   "
            f"(real-time factor {figures[seconds] / seconds:.3f})"
        )
    print(f"  target for a 5 s note: <= {TARGET_5S:.1f} s on 2 cores")
    return figures


async def long_note_wer(engine: LocalWhisper, words: Sequence[str]) -> float:
    heard = await engine.transcribe(spoken_sequence(LONG_NOTE), "audio/ogg", vocabulary=words)
    return word_error_rate([" ".join(LONG_NOTE)], [heard.text])


async def tuning(runs: int) -> None:
    words = vocabulary_for(None)
    print(
        "\nDecoding choices (vocabulary on; WER of the commands, the held-out set and one "
        f"{len(LONG_NOTE)}-command note;\n  mean seconds per command note; 5 s note median)"
    )
    choices = {
        "default: beam 5, hotwords": WhisperOptions(),
        "beam 1": WhisperOptions(beam_size=1),
        "VAD on": WhisperOptions(vad_filter=True),
        "initial prompt": WhisperOptions(vocabulary_as="prompt"),
        "prompt + previous text": WhisperOptions(
            vocabulary_as="prompt", condition_on_previous_text=True
        ),
        "temperature fallback": WhisperOptions(temperatures=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0)),
    }
    for label, options in choices.items():
        engine = LocalWhisper(SpeechSettings(), options)
        await engine.load()
        result = await score(engine, COMMANDS, words)
        held = await score(engine, HELD_OUT, words)
        long = await long_note_wer(engine, words)
        five = await latency(engine, 5.0, runs, words)
        print(
            f"  {label:<26} WER {result.wer:6.1%} {held.wer:6.1%} {long:6.1%}   "
            f"per note {result.seconds:.2f} s   5 s: {five:.2f} s"
        )
    for threads in (1, 2, 4):
        engine = LocalWhisper(SpeechSettings(threads=threads))
        await engine.load()
        five = await latency(engine, 5.0, runs, words)
        print(f"  threads={threads:<18} 5 s note: {five:.2f} s")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def main(runs: int, quick: bool) -> None:
    print(f"Voice benchmark: {os.cpu_count()} CPUs, espeak-ng speech, Telegram-style voice notes")
    engine = LocalWhisper(SpeechSettings())
    before = psutil.Process().memory_info().rss / 2**20
    started = time.perf_counter()
    load = await engine.load()
    print(f"\nModel load: {load:.2f} s ({time.perf_counter() - started:.2f} s with the import)")
    print(f"  model: {engine.model_dir}")
    commands = await accuracy(engine)
    figures = await latencies(engine, runs)
    rss = peak_rss_mb()
    print(
        f"\nPeak resident memory after transcribing: {rss:.0f} MB "
        f"({before:.0f} MB before the model was loaded)"
    )
    if not quick:
        await tuning(max(3, runs // 2))
    verdict = "met" if figures[5.0] <= TARGET_5S and commands.wer <= TARGET_WER else "NOT met"
    print(
        f"\nTargets {verdict}: 5 s note {figures[5.0]:.2f} s (<= {TARGET_5S:.1f}), "
        f"commands WER {commands.wer:.1%} (<= {TARGET_WER:.0%})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="latency runs per note length")
    parser.add_argument("--quick", action="store_true", help="skip the tuning table")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.quick))
