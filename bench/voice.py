"""Voice benchmark: accuracy and latency of the embedded speech engine, before and after
biasing from the session and careful correction.

Run: ``python -m bench.voice`` (``--runs N`` latency repetitions, ``--quick`` to skip the
tuning table, ``--base`` to also score ``STT_MODEL=base`` with biasing and correction).
Needs espeak-ng; for the second voice and the real recordings also Debian's
``festival``, ``festvox-us-slt-hts`` and ``pocketsphinx-testdata``
(``apt-get install -y festival festvox-us-slt-hts pocketsphinx-testdata``); a set whose
package is missing is skipped and says so.

Every note is a Telegram voice note (OGG/Opus, mono, 48 kHz) transcribed by the default
engine (faster-whisper, bundled ``tiny.en``, int8, 2 threads), in two configurations:

* **before** — what the bot did before session biasing: the built-in developer
  vocabulary as hotwords, no word probabilities, no correction;
* **after** — the session's own terms first (:func:`session_terms` of
  :data:`PROJECT`, a made-up but ordinary project: its files, manifests, git branches
  and a few recent tool calls), then the developer vocabulary, and careful correction
  (by sound and spelling, and checked against the audio).

Sets: developer commands in two voices (espeak-ng ``en-us`` and Festival's
``cmu_us_slt_arctic_hts``), split in a tuning half (:data:`TUNING`, used to choose the
correction's thresholds) and a held-out half (:data:`HELD_OUT`, never used for tuning);
plain everyday requests (:data:`PLAIN`); real human speech with transcripts
(LibriVox and others from ``pocketsphinx-testdata``). For the plain and real sets it
also counts corrections that made a right word wrong (the goal is none). Words are
scored alike in form (:func:`scored_words`) and strictly; the tuning half's misses are
sorted by cause (:func:`why`).

Latency: what items 1-2 add per note (gathering the session's terms, cold and cached;
decoding word probabilities and correcting; checking corrections against the audio on
a note with unsure words), and voice note → prompt text (terms,
transcription, correction, the transcript note) for 3, 5, 10 and 30 s notes.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import functools
import os
import re
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
from wordfreq import zipf_frequency

from tests.fakes.audio import (
    COMMANDS,
    edit_distance,
    normalize,
    padded_note,
    spoken_sequence,
    voice_note,
)
from voice_agent.sessions.vocabulary import RecentTerms, directory_terms, session_terms
from voice_agent.speech import SpeechSettings, vocabulary_for
from voice_agent.speech.audio import encode_ogg_opus
from voice_agent.speech.base import SpeechError, Transcript
from voice_agent.speech.correction import EVERYDAY_ZIPF, CorrectionOptions
from voice_agent.speech.local import LocalWhisper, WhisperOptions
from voice_agent.speech.note import transcript_note
from voice_agent.speech.vocabulary import prompt_words

TUNING: tuple[str, ...] = (
    *COMMANDS,
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
    "open the ledger file",
    "run make deploy",
    "fix the refund worker",
    "check invoice renderer dot py",
    "add alembic to the dependencies",
    "show me the changelog",
)
"""Developer commands the correction's thresholds and the prompt were chosen on."""

HELD_OUT: tuple[str, ...] = (
    "run the migrations with alembic",
    "open invoice renderer dot py",
    "add a celery task to the refund worker",
    "check the webhooks file for the signature bug",
    "run vitest on the frontend",
    "start uvicorn with reload",
    "make migrate and then make seed",
    "show me the structlog setup in settings dot py",
    "rebase refund retries on main",
    "lint the frontend with eslint",
    "format everything with prettier",
    "add a zod schema for the invoice",
    "open the docker compose file",
    "what changed in the ledger",
    "write a fixture in conftest dot py",
    "bump sqlalchemy in the pyproject",
    "use httpx instead of requests",
    "run the storybook script",
    "check the nginx config",
    "approve",
)
"""Developer commands never used for tuning (written for :data:`PROJECT` before any run)."""

PLAIN: tuple[str, ...] = (
    "what time is it",
    "please summarise the last answer",
    "make it shorter and send it again",
    "tell me what changed today",
    "can you explain that again",
    "where did we leave off yesterday",
    "read me the first paragraph",
    "that looks good to me",
    "stop what you are doing",
    "how long will this take",
    "thank you that is all for now",
    "write a short note to the team about the release",
)
"""Everyday requests without developer words: biasing must not hurt them."""

PROJECT: dict[str, str] = {
    "pyproject.toml": """[project]
name = "payments-service"
dependencies = ["fastapi", "pydantic", "sqlalchemy", "alembic", "celery", "redis",
    "httpx", "structlog", "uvicorn"]
[project.optional-dependencies]
test = ["pytest", "pytest-asyncio", "ruff", "mypy"]
""",
    "package.json": """{"name": "@payments/dashboard",
 "scripts": {"dev": "vite", "build": "vite build", "lint": "eslint .", "storybook": "sb"},
 "devDependencies": {"vite": "5", "vitest": "2", "eslint": "9", "prettier": "3",
   "tailwindcss": "3", "zod": "3"}}""",
    "Makefile": "test:\n\tpytest\nlint:\n\truff check\nmigrate:\n\talembic upgrade head\n"
    "seed:\n\tpython seed.py\ndeploy:\n\t./deploy.sh\n",
    "Dockerfile": "FROM python:3.12\n",
    "docker-compose.yml": "services: {}\n",
    "alembic.ini": "",
    "conftest.py": "",
    "settings.py": "",
    "webhooks.py": "",
    "invoice_renderer.py": "",
    "ledger.py": "",
    "refund_worker.py": "",
    "README.md": "",
    "CHANGELOG.md": "",
    "tsconfig.json": "{}",
    "nginx.conf": "",
    ".env": "STRIPE_KEY=sk_live_never_a_hint\n",
    "secrets.yaml": "token: never\n",
}
"""The benchmark's session directory (plus git branches, see :func:`make_project`)."""

RECENT_CALLS: tuple[tuple[str, dict[str, str]], ...] = (
    ("Bash", {"command": "uv run pytest -q tests/test_ledger.py"}),
    ("Bash", {"command": "ruff check src"}),
    ("Read", {"file_path": "/srv/payments/invoice_renderer.py"}),
    ("Bash", {"command": "git stash && git checkout main"}),
)
"""Tool calls the benchmark's session has made."""

LONG_SPEECH = "run the tests with pytest and then check the types with mypy"
UNSURE_SPEECH = "use pnpm instead of yarn"  # tiny.en: "the npm", fixed by the audio check
UNCHECKED = CorrectionOptions(verify_most=0)
LONG_NOTE = TUNING  # about 120 s: several of Whisper's 30 s windows
LENGTHS = (3.0, 5.0, 10.0, 30.0)
TARGET_5S = 0.8
TARGET_WER = 0.15
REAL_SPEECH = Path("/usr/share/pocketsphinx/test/data")
FESTIVAL_VOICE = "voice_cmu_us_slt_arctic_hts"
BEFORE = WhisperOptions(vocabulary_as="hotwords", word_probabilities=False)


def make_project(root: Path) -> Path:
    """Write :data:`PROJECT` and its git refs under ``root``; returns the directory."""
    project = root / "payments"
    project.mkdir()
    for name, text in PROJECT.items():
        (project / name).write_text(text)
    git = project / ".git"
    (git / "refs" / "heads" / "feature").mkdir(parents=True)
    (git / "refs" / "remotes" / "origin").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/feature/refund-retries\n")
    for branch in ("main", "feature/refund-retries", "fix-webhook-signature"):
        (git / "refs" / "heads" / branch).write_text("0" * 40 + "\n")
    return project


# --- voices and recordings -------------------------------------------------------


@functools.cache
def festival_note(text: str) -> bytes:
    """Festival's US female HTS voice saying ``text``, as a voice note."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "speech.wav"
        subprocess.run(
            ["text2wave", "-eval", f"({FESTIVAL_VOICE})", "-o", str(path)],
            input=text.encode(),
            check=True,
            capture_output=True,
            timeout=60,
        )
        return encode_ogg_opus(path.read_bytes())


def festival_available() -> bool:
    """Whether text2wave and the slt voice are installed."""
    voices = Path("/usr/share/festival/voices/us/cmu_us_slt_arctic_hts")
    return shutil.which("text2wave") is not None and voices.is_dir()


def _transcripts(path: Path) -> dict[str, str]:
    """``<s> words </s> (id)`` lines of a Sphinx transcription file, by id."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"\s*(?:<s>)?\s*(.*?)\s*(?:</s>)?\s*\((\S+)\)\s*$", line)
        if match:
            found[match.group(2)] = match.group(1)
    return found


def real_recordings() -> list[tuple[str, bytes]]:
    """(transcript, voice note) of the human recordings in pocketsphinx-testdata."""
    if not REAL_SPEECH.is_dir():
        return []
    notes = []
    for folder in ("librivox", "cards"):
        names = {"librivox": "transcription", "cards": "cards.transcription"}
        for key, text in sorted(_transcripts(REAL_SPEECH / folder / names[folder]).items()):
            wav = REAL_SPEECH / folder / f"{key}.wav"
            if wav.is_file():
                notes.append((text, encode_ogg_opus(wav.read_bytes())))
    raw = REAL_SPEECH / "goforward.raw"
    if raw.is_file():
        samples = np.frombuffer(raw.read_bytes(), dtype="<i2").astype(np.float32) / 32768.0
        notes.append(("go forward ten meters", encode_ogg_opus(samples)))
    return notes


_SPOKEN_FORMS = {"mr": "mister", "mrs": "missus", "10": "ten", "4": "four", "5": "five"}
_NUMBERS = "zero one two three four five six seven eight nine ten".split()
_BRITISH = re.compile(r"(?<=\w\w)is(e|es|ed|ing|ation)$")


def _words(text: str) -> list[str]:
    """:func:`normalize`, with digits and titles spelled out as the readers said them."""
    words = []
    for word in normalize(re.sub(r"[-_]", " ", text)):
        if word == "underscore":
            continue
        if word.isdigit() and int(word) <= 10:
            words.append(_NUMBERS[int(word)])
        else:
            words.append(_SPOKEN_FORMS.get(word, word))
    return words


def _joined_like(words: list[str], other: Sequence[str]) -> list[str]:
    """``words`` with runs of 2-3 words merged where ``other`` has them as one word."""
    targets = set(other)
    merged: list[str] = []
    i = 0
    while i < len(words):
        for n in (3, 2):
            joined = "".join(words[i : i + n])
            if i + n <= len(words) and joined in targets:
                merged.append(joined)
                i += n
                break
        else:
            merged.append(words[i])
            i += 1
    return merged


def scored_words(reference: str, heard: str) -> tuple[list[str], list[str]]:
    """Both texts as compared (:func:`errors`): the strict words, then made alike in form.

    The same for every configuration: a word split or joined differently ("front end" /
    ``frontend``, "git hub" / ``GitHub``, "read me" / ``README``) is one word, and
    British ``-ise`` spellings count as ``-ize`` ("summarise" / "summarize"). Case,
    punctuation, ``a.b`` / "a dot b", ``a_b`` / "a b" and numbers up to ten ("4" /
    "four") were already alike in the strict words.
    """
    said = [_BRITISH.sub(r"iz\1", w) for w in _words(reference)]
    got = [_BRITISH.sub(r"iz\1", w) for w in _words(heard)]
    got = _joined_like(got, said)
    return _joined_like(said, got), got


def errors(reference: str, heard: str) -> int:
    """Word edits from the reference to what was heard, alike in form (:func:`scored_words`)."""
    return edit_distance(*scored_words(reference, heard))


def strict_errors(reference: str, heard: str) -> int:
    """Word edits without :func:`scored_words`' spacing and spelling allowances."""
    return edit_distance(_words(reference), _words(heard))


# --- scoring -------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """One configuration over one set of notes."""

    wer: float
    seconds: float
    heard: list[Transcript]
    references: list[str]
    strict_wer: float

    def misheard(self) -> list[tuple[str, str]]:
        """(said, heard) of every note with an error."""
        pairs = zip(self.references, self.heard, strict=True)
        return [(r, h.text) for r, h in pairs if errors(r, h.text)]


async def score(
    engine: LocalWhisper, notes: Sequence[tuple[str, bytes]], words: Sequence[str]
) -> Score:
    heard = []
    started = time.perf_counter()
    for _, note in notes:
        heard.append(await engine.transcribe(note, "audio/ogg", vocabulary=words))
    seconds = (time.perf_counter() - started) / max(1, len(notes))
    references = [r for r, _ in notes]
    pairs = list(zip(references, heard, strict=True))
    total = max(1, sum(len(_words(r)) for r in references))
    edits = sum(errors(r, h.text) for r, h in pairs)
    strict = sum(strict_errors(r, h.text) for r, h in pairs)
    return Score(edits / total, seconds, heard, references, strict / total)


def harmful(result: Score) -> list[tuple[str, str, str]]:
    """Corrections that made a note worse, strictly or in form: (said, decoded, corrected)."""
    worse = []
    for reference, transcript in zip(result.references, result.heard, strict=True):
        text, decoded = transcript.text, transcript.heard
        if transcript.corrections and (
            errors(reference, text) > errors(reference, decoded)
            or strict_errors(reference, text) > strict_errors(reference, decoded)
        ):
            worse.append((reference, transcript.heard, transcript.text))
    return worse


@dataclass(frozen=True)
class Engines:
    before: LocalWhisper
    after: LocalWhisper
    today_words: list[str]
    session_words: list[str]
    base: LocalWhisper | None = None


@dataclass(frozen=True)
class Compared:
    """Before and after on one set, and the base model with biasing when installed."""

    before: Score
    after: Score
    base: Score | None


async def compare(
    engines: Engines, label: str, notes: Sequence[tuple[str, bytes]], *, show: bool = True
) -> Compared:
    before = await score(engines.before, notes, engines.today_words)
    after = await score(engines.after, notes, engines.session_words)
    base = None
    if engines.base is not None:
        base = await score(engines.base, notes, engines.session_words)
    fixes = sum(len(t.corrections) for t in after.heard)
    extra = f"   base {base.wer:6.1%} ({base.seconds:.2f} s)" if base else ""
    print(
        f"  {label:<30} ({len(notes):2d} notes)  before {before.wer:6.1%}   after "
        f"{after.wer:6.1%}   (strict {before.strict_wer:6.1%} -> {after.strict_wer:6.1%}; "
        f"{fixes} corrections; {after.seconds:.2f} s per note){extra}"
    )
    if show:
        for said, heard in after.misheard():
            print(f"      said {said!r:<52} heard {heard!r}")
    return Compared(before, after, base)


def misses(reference: str, heard: str) -> list[tuple[list[str], list[str]]]:
    """The word spans that differ, aligned: (said, heard) after :func:`scored_words`."""
    said, got = scored_words(reference, heard)
    matcher = difflib.SequenceMatcher(a=said, b=got, autojunk=False)
    return [(said[a:b], got[c:d]) for op, a, b, c, d in matcher.get_opcodes() if op != "equal"]


def _term_words(terms: Sequence[str]) -> set[str]:
    """The distinctive words of ``terms`` as :func:`_words` spells them (not "dot", "the")."""
    found: set[str] = set()
    for term in terms:
        pieces = [w for w in _words(term) if w != "dot"]
        found.update(w for w in [*pieces, "".join(pieces)] if not _everyday(w))
    return found


def _everyday(word: str) -> bool:
    return zipf_frequency(word, "en") >= EVERYDAY_ZIPF


def why(result: Score, prompt_words: Sequence[str], all_terms: Sequence[str]) -> Counter[str]:
    """Sorts each miss of ``result`` by cause and prints it; returns the counts.

    A miss is *a hinted term not produced* when a word said is in the decoder's
    prompt, *a term only the correction knew* when it is in the vocabulary (the
    session's terms and the built-in words) but not in the prompt, *a term written
    where it was not said* when only the heard words are terms, else *an ordinary
    word*.
    """
    hinted = _term_words(prompt_words)
    known = _term_words(all_terms)
    causes: Counter[str] = Counter()
    for reference, transcript in zip(result.references, result.heard, strict=True):
        for said, got in misses(reference, transcript.text):
            if hinted.intersection(said):
                cause = "a hinted term the decoder did not produce"
            elif known.intersection(said):
                cause = "a term only the correction knew (not in the prompt)"
            elif known.intersection(got):
                cause = "a term written where it was not said"
            else:
                cause = "an ordinary word"
            causes[cause] += max(len(said), len(got))
            print(f"      {' '.join(said) or '-':<24} -> {' '.join(got) or '-':<28} {cause}")
    return causes


async def accuracy(engines: Engines) -> dict[str, Compared]:
    print(
        "\nWord error rate, before -> after session biasing and correction (alike in form,"
        " see scored_words;\n  strict: every spacing and spelling difference an error)"
        + ("; base: STT_MODEL=base with biasing and correction" if engines.base else "")
    )
    results: dict[str, Compared] = {}
    voices: list[tuple[str, object]] = [("espeak-ng", voice_note)]
    if festival_available():
        voices.append(("festival slt", festival_note))
    else:
        print("  (Festival's slt voice is not installed: one voice only)")
    for voice, speak in voices:
        for name, corpus in (("tuning", TUNING), ("held-out", HELD_OUT)):
            notes = [(text, speak(text)) for text in corpus]  # type: ignore[operator]
            results[f"{name}, {voice}"] = await compare(
                engines, f"dev {name}, {voice}", notes, show=name == "held-out"
            )
    results["plain"] = await compare(
        engines, "plain, espeak-ng", [(t, voice_note(t)) for t in PLAIN]
    )
    real = real_recordings()
    if real:
        results["real"] = await compare(engines, "real speech (pocketsphinx)", real)
    else:
        print("  (pocketsphinx-testdata is not installed: no real speech)")
    for key in ("plain", "real"):
        if key in results:
            worse = harmful(results[key].after)
            print(f"  corrections that made a right word wrong in {key}: {len(worse)}")
            for said, decoded, corrected in worse:
                print(f"      said {said!r}: decoded {decoded!r}, corrected {corrected!r}")
    prompt = prompt_words(engines.session_words)
    for voice, _ in voices:
        print(f"\n  Why the tuning half ({voice}) is misheard after biasing (word by word):")
        causes = why(results[f"tuning, {voice}"].after, prompt, engines.session_words)
        print("    " + "; ".join(f"{n} words: {c}" for c, n in causes.most_common()))
    return results


async def prompt_latency(engine: LocalWhisper, project: Path, seconds: float, runs: int) -> float:
    """Median seconds from a note's bytes to the prompt text, as the bot does it."""
    note = padded_note(LONG_SPEECH, seconds)
    recent = _recent()

    async def once() -> str:
        terms = await asyncio.to_thread(session_terms, str(project), ["payments"], recent)
        transcript = await engine.transcribe(note, "audio/ogg", vocabulary=vocabulary_for(terms))
        return f"{transcript.text}\n\n{transcript_note(transcript)}"

    await once()  # warm caches
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await once()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def transcribe_median(
    engine: LocalWhisper, note: bytes, words: Sequence[str], runs: int
) -> float:
    await engine.transcribe(note, "audio/ogg", vocabulary=words)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await engine.transcribe(note, "audio/ogg", vocabulary=words)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def latencies(engines: Engines, project: Path, runs: int) -> dict[float, float]:
    print(f"\nAdded latency of items 1-2 per note (median of {runs})")
    started = time.perf_counter()
    directory_terms(str(project) + "/")  # another key: a cold read of the directory
    cold = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(100):
        session_terms(str(project), ["payments"], _recent())
    cached = (time.perf_counter() - started) / 100
    print(f"  session terms: {cold * 1000:.1f} ms cold, {cached * 1000:.2f} ms cached")
    note = padded_note(LONG_SPEECH, 5.0)
    plain = await transcribe_median(engines.before, note, engines.today_words, runs)
    biased = await transcribe_median(engines.after, note, engines.session_words, runs)
    print(
        f"  5 s note transcription: {plain:.2f} s before, {biased:.2f} s with word "
        f"probabilities and correction ({(biased - plain) * 1000:+.0f} ms)"
    )
    unsure = padded_note(UNSURE_SPEECH, 5.0)
    unchecked = LocalWhisper(SpeechSettings(), WhisperOptions(correction=UNCHECKED))
    await unchecked.load()
    by_sound = await transcribe_median(unchecked, unsure, engines.session_words, runs)
    checked = await transcribe_median(engines.after, unsure, engines.session_words, runs)
    fixed = await engines.after.transcribe(unsure, "audio/ogg", vocabulary=engines.session_words)
    print(
        f"  5 s note with unsure words ({UNSURE_SPEECH!r} repeated): {by_sound:.2f} s "
        f"corrected by sound only, {checked:.2f} s with the check against the audio "
        f"({(checked - by_sound) * 1000:+.0f} ms; {len(fixed.corrections)} corrections)"
    )
    print(f"\nVoice note bytes -> prompt text (median of {runs}; terms, transcript, note)")
    figures = {}
    for seconds in LENGTHS:
        figures[seconds] = await prompt_latency(engines.after, project, seconds, runs)
        print(
            f"  {seconds:4.0f} s note: {figures[seconds]:.2f} s   "
            f"(real-time factor {figures[seconds] / seconds:.3f})"
        )
    print(f"  target for a 5 s note: <= {TARGET_5S:.1f} s on 2 cores")
    return figures


def _recent() -> list[str]:
    recent = RecentTerms()
    for tool, tool_input in RECENT_CALLS:
        recent.add(tool, tool_input)
    return recent.terms()


async def tuning(runs: int, words: Sequence[str]) -> None:
    print(
        "\nDecoding choices (session vocabulary and correction on; WER of the tuning and "
        "held-out commands (espeak-ng),\n  one long note; mean seconds per note; 5 s note "
        "median)"
    )
    choices = {
        "default: beam 5, auto": WhisperOptions(),
        "hotwords always": WhisperOptions(vocabulary_as="hotwords"),
        "beam 1": WhisperOptions(beam_size=1),
        "VAD on": WhisperOptions(vad_filter=True),
        "initial prompt always": WhisperOptions(vocabulary_as="prompt"),
        "temperature fallback": WhisperOptions(temperatures=(0.0, 0.2, 0.4, 0.6)),
        "no word probabilities": WhisperOptions(word_probabilities=False),
    }
    tuning_notes = [(t, voice_note(t)) for t in TUNING]
    held_notes = [(t, voice_note(t)) for t in HELD_OUT]
    for label, options in choices.items():
        engine = LocalWhisper(SpeechSettings(), options)
        await engine.load()
        result = await score(engine, tuning_notes, words)
        held = await score(engine, held_notes, words)
        long = await engine.transcribe(spoken_sequence(LONG_NOTE), "audio/ogg", vocabulary=words)
        long_wer = errors(" ".join(LONG_NOTE), long.text) / len(_words(" ".join(LONG_NOTE)))
        five = await transcribe_median(engine, padded_note(LONG_SPEECH, 5.0), words, runs)
        print(
            f"  {label:<26} WER {result.wer:6.1%} {held.wer:6.1%} {long_wer:6.1%}   "
            f"per note {result.seconds:.2f} s   5 s: {five:.2f} s"
        )
    for threads in (1, 2, 4):
        engine = LocalWhisper(SpeechSettings(threads=threads))
        await engine.load()
        five = await transcribe_median(engine, padded_note(LONG_SPEECH, 5.0), words, runs)
        print(f"  threads={threads:<18} 5 s note: {five:.2f} s")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def base_engine() -> LocalWhisper | None:
    """``STT_MODEL=base`` with biasing and correction, or None when it is not installed."""
    engine = LocalWhisper(SpeechSettings(model="base"))
    try:
        engine.model_dir  # noqa: B018 - joins the parts once, or says it is missing
    except SpeechError as error:
        print(f"  (no base model: {error})")
        return None
    return engine


async def main(runs: int, quick: bool, base: bool) -> None:
    load_average = os.getloadavg()[0]
    print(
        f"Voice benchmark: {os.cpu_count()} CPUs (load average {load_average:.1f} at the "
        "start), Telegram-style voice notes"
    )
    with tempfile.TemporaryDirectory() as folder:
        project = make_project(Path(folder))
        terms = session_terms(str(project), ["payments"], _recent())
        engines = Engines(
            before=LocalWhisper(SpeechSettings(correct=False), BEFORE),
            after=LocalWhisper(SpeechSettings()),
            today_words=vocabulary_for(None),
            session_words=vocabulary_for(terms),
            base=base_engine() if base else None,
        )
        before_rss = psutil.Process().memory_info().rss / 2**20
        started = time.perf_counter()
        load = await engines.before.load()
        await engines.after.load()
        if engines.base is not None:
            await engines.base.load()
        print(f"\nModel load: {load:.2f} s ({time.perf_counter() - started:.2f} s for both)")
        print(f"  model: {engines.after.model_dir}")
        print(f"  session terms ({len(terms)}), first 12: {', '.join(terms[:12])}")
        results = await accuracy(engines)
        figures = await latencies(engines, project, runs)
        rss = peak_rss_mb()
        print(f"\nPeak resident memory: {rss:.0f} MB ({before_rss:.0f} MB before the models)")
        if not quick:
            await tuning(max(3, runs // 2), engines.session_words)
    held = {k: v.after.wer for k, v in results.items() if k.startswith("held-out")}
    no_worse = all(
        v.after.wer <= v.before.wer and not harmful(v.after)
        for k, v in results.items()
        if k in ("plain", "real")
    )
    met = figures[5.0] <= TARGET_5S and all(w <= TARGET_WER for w in held.values()) and no_worse
    print(
        f"\nTargets {'met' if met else 'NOT met'}: 5 s note -> prompt {figures[5.0]:.2f} s "
        f"(<= {TARGET_5S:.1f}); held-out WER "
        + ", ".join(f"{k.split(', ')[1]} {w:.1%}" for k, w in held.items())
        + f" (<= {TARGET_WER:.0%}); plain and real no worse: {'yes' if no_worse else 'no'}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="latency runs per note length")
    parser.add_argument("--quick", action="store_true", help="skip the tuning table")
    parser.add_argument(
        "--base", action="store_true", help="also score STT_MODEL=base with biasing"
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.quick, arguments.base))
