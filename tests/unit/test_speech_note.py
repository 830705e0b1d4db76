"""The note a spoken prompt carries: it was a transcript, and what was unsure or corrected."""

from __future__ import annotations

from voice_agent.speech.base import Correction, Transcript
from voice_agent.speech.note import transcript_note


def test_a_plain_transcript_only_says_it_was_spoken() -> None:
    note = transcript_note(Transcript("run the tests", "en", 1.0, 0.9))
    assert note == "[Spoken; transcribed by speech recognition, so words may be misheard.]"


def test_corrections_and_unsure_words_are_named() -> None:
    transcript = Transcript(
        "Open pyproject.toml with rough",
        "en",
        2.0,
        0.5,
        corrections=(Correction("pip reject.toml", "pyproject.toml", 5),),
        unsure=("rough", "rough", *(f"w{i}" for i in range(20))),
    )
    note = transcript_note(transcript)
    assert '"pip reject.toml" → pyproject.toml' in note
    assert note.count('"rough"') == 1
    assert '"w6"' in note
    assert '"w7"' not in note  # at most eight listed
