"""Phonemes from the real espeak-ng program: batched, remembered, never options."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from voice_agent.speech.phonemes import Phonemes, spoken

ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed")


def counting(tmp_path: Path) -> tuple[str, Path]:
    """A program that logs each run, then is espeak-ng."""
    log = tmp_path / "runs"
    program = tmp_path / "espeak-ng"
    program.write_text(f'#!/bin/sh\necho run >> "{log}"\nexec "{ESPEAK}" "$@"\n')
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return str(program), log


def test_spoken_words_are_lower_case_with_symbols_as_spaces() -> None:
    assert spoken("invoice_renderer.py") == "invoice renderer py"
    assert spoken("  Next.js -- @types/node ") == "next js types node"


@needs_espeak
def test_words_far_in_spelling_are_near_in_phonemes(tmp_path: Path) -> None:
    phonemes = Phonemes()
    found = phonemes.of(["vitest", "by this time", "Redis", "..."])
    assert set(found) == {"vitest", "by this time", "Redis"}  # "..." says nothing
    assert found["Redis"].startswith("ɹ")
    assert "ˈ" not in found["Redis"]  # no stress marks
    assert " " not in found["by this time"]


@needs_espeak
def test_each_word_is_asked_once_and_many_in_one_run(tmp_path: Path) -> None:
    program, log = counting(tmp_path)
    phonemes = Phonemes(program)
    first = phonemes.of(["pytest", "mypy", "uvicorn"])
    assert len(first) == 3
    assert phonemes.of(["mypy", "pytest"]) == {"mypy": first["mypy"], "pytest": first["pytest"]}
    assert log.read_text().count("run") == 1


@needs_espeak
def test_a_name_that_looks_like_an_option_is_read_as_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program, log = counting(tmp_path)
    phonemes = Phonemes(program)
    monkeypatch.chdir(tmp_path)
    written = tmp_path / "out.wav"
    option = "-w out.wav"
    found = phonemes.of(["--help", option, "<speak>hi</speak>", "x" * 200])
    assert set(found) == {"--help", option, "<speak>hi</speak>"}  # the last: far too long
    assert not written.exists()
    assert log.read_text().count("run") == 1
    assert phonemes.available


def test_without_espeak_there_are_no_phonemes(caplog: pytest.LogCaptureFixture) -> None:
    phonemes = Phonemes("/nonexistent/espeak-ng")
    assert phonemes.of(["pytest"]) == {}
    assert not phonemes.available
    assert "espeak-ng could not give phonemes" in caplog.text
    assert Phonemes().of(["pytest"], language="--voices") == {}  # not a language


def test_a_failing_program_gives_nothing_and_is_not_asked_again(tmp_path: Path) -> None:
    log = tmp_path / "runs"
    program = tmp_path / "espeak-ng"
    program.write_text(f'#!/bin/sh\necho run >> "{log}"\necho one line only\n')
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    phonemes = Phonemes(str(program))
    assert phonemes.of(["pytest", "mypy"]) == {}  # two words, one line: not trusted
    assert phonemes.of(["mypy", "pytest"]) == {}
    assert log.read_text().count("run") == 1
    assert phonemes.available  # other words are still asked
    assert phonemes.of(["ruff"]) == {"ruff": "onelineonly"}
