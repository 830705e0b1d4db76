"""The embedded engine on real speech: espeak-ng voice notes through faster-whisper tiny.en.

The model is loaded once for the module; the corpus is transcribed once with the developer
vocabulary and once without, and each sentence set is held to its own error bound.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.fakes.audio import (
    COMMANDS,
    MEDIA_MIME,
    media_file,
    noise_ogg,
    normalize,
    padded_note,
    silence_ogg,
    spoken_sequence,
    voice_note,
    word_error_rate,
)
from voice_agent.sessions.vocabulary import session_terms
from voice_agent.speech import (
    AudioError,
    EspeakTTS,
    LocalWhisper,
    SpeechError,
    SpeechSettings,
    Transcript,
    correction,
    create,
    speakable,
    vocabulary_for,
)
from voice_agent.speech.audio import encode_ogg_opus
from voice_agent.speech.base import HeardWord
from voice_agent.speech.correction import CorrectionOptions, correct
from voice_agent.speech.forced import AudioCheck
from voice_agent.speech.local import WhisperOptions
from voice_agent.speech.phonemes import Phonemes

TOOLS = (
    "run the tests with pytest",
    "check the types with mypy",
    "kubectl get pods",
    "install the dependencies with npm",
    "run ruff and fix the lint errors",
    "start the docker compose stack",
    "add a FastAPI endpoint that returns JSON",
)
GIT_AND_FILES = (
    "show me the git diff",
    "open pyproject dot toml",
    "fix the failing test in test underscore api dot py",
    "commit the changes and push the branch",
    "what does the README say",
    "rebase the branch on main",
)
DECISIONS = ("approve", "yes go ahead", "reject")


@pytest.fixture(scope="module")
def engine() -> LocalWhisper:
    stt = create(SpeechSettings())
    assert isinstance(stt, LocalWhisper)
    asyncio.run(stt.load())
    return stt


async def _all(engine: LocalWhisper, vocabulary: Sequence[str]) -> dict[str, Transcript]:
    return {
        text: await engine.transcribe(voice_note(text), "audio/ogg", vocabulary=vocabulary)
        for text in COMMANDS
    }


@pytest.fixture(scope="module")
def heard(engine: LocalWhisper) -> dict[str, Transcript]:
    return asyncio.run(_all(engine, vocabulary_for(None)))


@pytest.fixture(scope="module")
def heard_plain(engine: LocalWhisper) -> dict[str, Transcript]:
    return asyncio.run(_all(engine, ()))


def wer_of(heard: dict[str, Transcript], sentences: Sequence[str]) -> float:
    return word_error_rate(sentences, [heard[s].text for s in sentences])


def test_sentence_sets_cover_the_corpus() -> None:
    assert sorted(TOOLS + GIT_AND_FILES + DECISIONS) == sorted(COMMANDS)


@pytest.mark.parametrize(
    ("sentences", "bound"), [(COMMANDS, 0.20), (TOOLS, 0.30), (GIT_AND_FILES, 0.25)]
)
def test_word_error_rate_with_the_vocabulary(
    heard: dict[str, Transcript], sentences: tuple[str, ...], bound: float
) -> None:
    wer = wer_of(heard, sentences)
    detail = {s: heard[s].text for s in sentences}
    assert wer <= bound, detail


def test_decisions_are_recognisable(heard: dict[str, Transcript]) -> None:
    assert "approv" in " ".join(normalize(heard["approve"].text))
    assert normalize(heard["reject"].text) == ["reject"]
    assert normalize(heard["yes go ahead"].text) == ["yes", "go", "ahead"]


def test_the_vocabulary_prompt_cuts_the_error_rate(
    heard: dict[str, Transcript], heard_plain: dict[str, Transcript]
) -> None:
    with_words, without = wer_of(heard, COMMANDS), wer_of(heard_plain, COMMANDS)
    assert with_words < 0.6 * without, (with_words, without)


def test_transcripts_carry_duration_language_and_confidence(
    heard: dict[str, Transcript],
) -> None:
    for transcript in heard.values():
        assert transcript.language == "en"
        assert 0.3 < transcript.duration < 5.0
        assert transcript.confidence is not None
        assert 0.0 < transcript.confidence <= 1.0
        assert transcript.text == transcript.text.strip()
        assert not transcript.empty


async def test_silence_is_empty_without_loading_the_model() -> None:
    fresh = LocalWhisper(SpeechSettings())
    result = await fresh.transcribe(silence_ogg(3.0), "audio/ogg", vocabulary=["pytest"])
    assert result.empty
    assert result.text == ""
    assert result.duration == pytest.approx(3.0, abs=0.05)
    assert result.confidence is None
    assert not fresh.loaded


async def test_a_long_note_spanning_several_windows_does_not_loop(engine: LocalWhisper) -> None:
    said = COMMANDS + COMMANDS[::-1]  # about 60 s: three of Whisper's 30 s windows
    note = spoken_sequence(said)
    heard = await engine.transcribe(note, "audio/ogg", vocabulary=vocabulary_for(None))
    assert heard.duration > 50
    assert word_error_rate([" ".join(said)], [heard.text]) <= 0.3, heard.text


@pytest.mark.parametrize("seconds", [1.0, 3.0])
async def test_noise_gives_no_words(engine: LocalWhisper, seconds: float) -> None:
    for vocabulary in (vocabulary_for(None), ()):
        result = await engine.transcribe(noise_ogg(seconds), "audio/ogg", vocabulary=vocabulary)
        assert result.empty, result.text


def _buzz() -> bytes:
    """Three seconds of a clipped square wave: a buzz, no speech."""
    return encode_ogg_opus(np.sign(np.sin(np.arange(48_000) / 5.0)).astype(np.float32))


async def test_a_buzz_the_vocabulary_turns_into_a_loop_is_decoded_again_without_it(
    engine: LocalWhisper,
) -> None:
    # Primed with a long run of one letter, tiny.en wrote this buzz as "Aaaa…", 893
    # letters at a confidence of 0.85: a prompt the bot would have sent to Claude.
    vocabulary = ["a" * 300, *vocabulary_for(None)]
    heard = await engine.transcribe(_buzz(), "audio/ogg", vocabulary=vocabulary)
    assert len(heard.text) < 40, heard.text
    said = await engine.transcribe(
        voice_note("commit the changes and push the branch"), "audio/ogg", vocabulary=vocabulary
    )
    assert word_error_rate(["commit the changes and push the branch"], [said.text]) <= 0.2


async def test_a_segment_that_still_repeats_itself_is_dropped() -> None:
    # Every segment counts as a loop at these bounds: the note is decoded again without
    # the vocabulary, and what still "repeats itself" is never sent.
    strict = LocalWhisper(SpeechSettings(), WhisperOptions(loop_above=0.1, fastest_speech=0.1))
    note = voice_note("commit the changes and push the branch")
    result = await strict.transcribe(note, "audio/ogg", vocabulary=vocabulary_for(None))
    assert result.empty, result.text
    assert result.heard == ""


async def test_garbage_and_limits_are_audio_errors(engine: LocalWhisper) -> None:
    with pytest.raises(AudioError, match="Could not decode"):
        await engine.transcribe(b"\x1aE\xdf\xa3garbage" * 50, "audio/ogg")
    tight = LocalWhisper(SpeechSettings(max_seconds=2.0))
    with pytest.raises(AudioError, match=r"too long \(3 s\); the limit is 2 s"):
        await tight.transcribe(silence_ogg(3.0), "audio/ogg")
    small = LocalWhisper(SpeechSettings(max_bytes=1000))
    with pytest.raises(AudioError, match="too big"):
        await small.transcribe(voice_note("commit the changes and push the branch"), "audio/ogg")


@pytest.mark.parametrize("kind", ["mp3", "m4a", "mp4", "wav"])
async def test_audio_files_and_video_notes(engine: LocalWhisper, kind: str) -> None:
    result = await engine.transcribe(
        media_file("commit the changes and push the branch", kind),
        MEDIA_MIME[kind],
        vocabulary=vocabulary_for(None),
    )
    assert word_error_rate(["commit the changes and push the branch"], [result.text]) <= 0.15


async def test_the_event_loop_keeps_running_while_transcribing(engine: LocalWhisper) -> None:
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    note = padded_note("run the tests with pytest and check the types with mypy", 5.0)
    await engine.transcribe(note, "audio/ogg", vocabulary=vocabulary_for(None))
    done.set()
    await ticking
    assert len(gaps) > 10
    assert max(gaps) < 0.2, max(gaps)


async def test_a_five_second_note_is_ready_within_a_second_or_so(engine: LocalWhisper) -> None:
    note = padded_note("run the tests with pytest and check the types with mypy", 5.0)
    words = vocabulary_for(None)
    await engine.transcribe(note, "audio/ogg", vocabulary=words)  # warm
    started = time.perf_counter()
    result = await engine.transcribe(note, "audio/ogg", vocabulary=words)
    elapsed = time.perf_counter() - started
    assert "pytest" in result.text.lower()
    assert elapsed < 2.0  # target 1.0 s on 2 cores (bench.voice); slack for a busy CI


async def test_concurrent_notes_are_all_answered(engine: LocalWhisper) -> None:
    notes = ["yes go ahead", "reject", "kubectl get pods"]
    results = await asyncio.gather(
        *(
            engine.transcribe(voice_note(n), "audio/ogg", vocabulary=vocabulary_for(None))
            for n in notes
        )
    )
    assert [r.empty for r in results] == [False, False, False]


async def test_the_loaded_model_is_loaded_once(engine: LocalWhisper) -> None:
    first = await engine.load()
    assert engine.loaded
    assert await engine.load() == first


async def test_a_missing_model_directory_is_a_speech_error_not_a_download() -> None:
    stt = LocalWhisper(SpeechSettings(model_dir="/nonexistent/whisper-model"))
    with pytest.raises(SpeechError, match="No Whisper model in /nonexistent/whisper-model"):
        await stt.load()
    with pytest.raises(SpeechError, match="No Whisper model"):
        await stt.transcribe(voice_note("yes go ahead"), "audio/ogg")
    assert not stt.loaded


async def test_vocabulary_is_ignored_when_disabled(engine: LocalWhisper) -> None:
    plain = LocalWhisper(SpeechSettings(use_vocabulary=False))
    note = voice_note("check the types with mypy")
    ignored = await plain.transcribe(note, "audio/ogg", vocabulary=vocabulary_for(None))
    none = await engine.transcribe(note, "audio/ogg")
    assert ignored.text == none.text


async def test_a_spoken_reply_is_understood(engine: LocalWhisper) -> None:
    said = speakable("## Done\n\nThe build is **green**. Shall I push the branch?\n```\nok\n```")
    assert said == "Done. The build is green. Shall I push the branch?"
    note = await EspeakTTS().synthesize(said)
    heard = await engine.transcribe(note, "audio/ogg")
    assert word_error_rate([said], [heard.text]) <= 0.2, heard.text


async def test_the_session_names_fix_a_misheard_file_name(
    engine: LocalWhisper, tmp_path: Path
) -> None:
    (tmp_path / "zephyr_client.py").write_text("")
    (tmp_path / "quorum_sync.py").write_text("")
    note = voice_note("open zephyr client dot py")
    without = await engine.transcribe(note, "audio/ogg", vocabulary=vocabulary_for(None))
    assert "zephyr_client" not in without.text  # tiny.en alone does not know the name
    terms = session_terms(str(tmp_path))
    heard = await engine.transcribe(note, "audio/ogg", vocabulary=vocabulary_for(terms))
    assert "zephyr_client.py" in heard.text
    for change in heard.corrections:
        assert heard.text[change.offset :].startswith(change.term)


async def test_a_correct_plain_sentence_is_not_corrected(engine: LocalWhisper) -> None:
    words = vocabulary_for(["README", "setup.py", "main.py"])
    for sentence in ("tell me what changed today", "can you explain that again"):
        heard = await engine.transcribe(voice_note(sentence), "audio/ogg", vocabulary=words)
        assert heard.corrections == ()
        assert heard.text == heard.heard


@pytest.mark.parametrize("seconds", [29.9, 30.0, 31.0])
async def test_notes_around_one_window_are_transcribed(
    engine: LocalWhisper, seconds: float
) -> None:
    note = padded_note("run the tests with pytest", seconds)
    heard = await engine.transcribe(note, "audio/ogg", vocabulary=vocabulary_for(["pytest"]))
    assert "test" in heard.text.lower()


async def test_a_developer_word_heard_as_plain_words_is_fixed_when_the_audio_agrees(
    engine: LocalWhisper,
) -> None:
    words = vocabulary_for(None)  # pnpm is one of the built-in words
    note = voice_note("use pnpm instead of yarn")
    unchecked = LocalWhisper(
        SpeechSettings(), WhisperOptions(correction=CorrectionOptions(verify_most=0))
    )
    by_sound = await unchecked.transcribe(note, "audio/ogg", vocabulary=words)
    assert "pnpm" not in by_sound.text  # "the npm": too far by sound and spelling alone
    checked = await engine.transcribe(note, "audio/ogg", vocabulary=words)
    assert by_sound.heard == checked.heard
    assert "pnpm" in checked.text, checked.text
    assert " npm" not in checked.text, checked.text
    (change,) = checked.corrections
    assert change.term == "pnpm"
    assert checked.text[change.offset :].startswith("pnpm")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng gives the phonemes")
async def test_a_term_near_only_in_phonemes_is_put_to_the_audio(
    engine: LocalWhisper, monkeypatch: pytest.MonkeyPatch
) -> None:
    scored: list[str] = []
    real_check = AudioCheck.__call__

    def spying(self: AudioCheck, sentences: Sequence[str], terms: Sequence[str]) -> list[float]:
        scored.extend(sentences)
        return real_check(self, sentences, terms)

    monkeypatch.setattr(AudioCheck, "__call__", spying)
    words = vocabulary_for(None)  # Redis is one of the built-in words
    note = voice_note("check the Redis config")
    heard = await engine.transcribe(note, "audio/ogg", vocabulary=words)
    assert "everybody's" in heard.heard  # tiny.en: "Cack, everybody's config."
    assert any("Redis config" in sentence for sentence in scored), scored
    # Without espeak-ng's phonemes "everybody's" is too far from Redis to be tried.
    scored.clear()
    monkeypatch.setattr(correction, "PHONEMES", Phonemes(program="/nonexistent/espeak-ng"))
    correction._sounded.cache_clear()
    await engine.transcribe(note, "audio/ogg", vocabulary=words)
    assert not any("Redis" in sentence for sentence in scored), scored
    correction._sounded.cache_clear()


async def test_a_check_the_model_cannot_score_changes_nothing(engine: LocalWhisper) -> None:
    await engine.load()

    class Failing:
        is_multilingual = False

        def align(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("out of memory")

    real = engine._model  # the loaded faster-whisper model: its tokenizer is real
    model = SimpleNamespace(hf_tokenizer=real.hf_tokenizer, model=Failing())
    check = AudioCheck(model, np.zeros((1, 1500, 384), dtype=np.float32), 500, "en")  # type: ignore[arg-type]
    assert check(["Use the npm.", "Use pnpm."], ["pnpm"]) == []
    words = [HeardWord(" Use", 0.9), HeardWord(" the", 0.3), HeardWord(" npm.", 0.2)]
    assert correct(words, ["pnpm"], verify=check).text == "Use the npm."
