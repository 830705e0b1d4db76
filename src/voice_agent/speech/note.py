"""The note a spoken prompt carries to the model: it was a transcript, and what was unsure.

With it the model can read "run rough check" as ``ruff check`` in context, and knows
which words the speech engine replaced (:mod:`voice_agent.speech.correction`).
"""

from __future__ import annotations

from voice_agent.speech.base import Transcript

MAX_LISTED = 8
"""The most unsure words (and, separately, corrections) named in a note."""


def transcript_note(transcript: Transcript, *, captioned: bool = False) -> str:
    """A short bracketed note to put after a spoken prompt.

    Args:
        transcript: The transcript the prompt came from.
        captioned: Whether the prompt's last paragraph is the note's typed caption.

    Returns:
        One line, e.g. ``[Spoken; transcribed by speech recognition, so words may be
        misheard. Corrected: "pip reject.toml" → pyproject.toml. Unsure: "Smash".]``
    """
    parts = ["Spoken; transcribed by speech recognition, so words may be misheard."]
    if transcript.corrections:
        fixed = ", ".join(f'"{c.heard}" → {c.term}' for c in transcript.corrections[:MAX_LISTED])
        parts.append(f"Corrected to this project's names: {fixed}.")
    if transcript.unsure:
        distinct = list(dict.fromkeys(transcript.unsure))[:MAX_LISTED]
        words = ", ".join(f'"{w}"' for w in distinct)
        parts.append(f"Unsure: {words}.")
    if captioned:
        parts.append("The last paragraph was typed (the voice note's caption), not spoken.")
    return "[" + " ".join(parts) + "]"
