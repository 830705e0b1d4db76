"""The voice desk: the speech engine (made on first use) and unsure transcripts.

The handlers that hear voice notes are in :mod:`voice_agent.telegram.voice`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from telegram import Message

from voice_agent.sessions.vocabulary import RecentTerms, session_terms
from voice_agent.speech import registry
from voice_agent.speech.base import SpeechSettings, SpeechToText, Transcript


@dataclass
class VoiceDesk:
    """The speech engine (made on first use) and transcripts waiting for Send / Cancel.

    Attributes:
        settings: How to transcribe.
        low_confidence: Below this engine confidence, ask before sending.
        drafts: Unsure transcripts by token: (the chat's or topic's queue key, text,
            the question's message, the transcript note for the model, the name of
            the session it was spoken to).
        recent: The names in each session's recent tool calls, by session key.
    """

    settings: SpeechSettings
    low_confidence: float = 0.4
    drafts: dict[str, tuple[Hashable, str, Message | None, str, str]] = field(default_factory=dict)
    recent: dict[int, RecentTerms] = field(default_factory=dict)
    _engine: SpeechToText | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def engine(self) -> SpeechToText:
        """The speech-to-text backend (created once)."""
        if self._engine is None:
            self._engine = registry.create(self.settings)
        return self._engine

    async def transcribe(self, audio: bytes, mime: str, vocabulary: list[str]) -> Transcript:
        """Transcribe one note at a time (the local model uses every core it is given)."""
        async with self._lock:
            return await self.engine().transcribe(audio, mime, vocabulary=vocabulary)

    def saw_tool(self, session_key: int, tool: str, tool_input: Mapping[str, Any]) -> None:
        """Remember the program and file names of a session's tool call."""
        self.recent.setdefault(session_key, RecentTerms()).add(tool, tool_input)

    async def terms(self, session_key: int, cwd: str | None, names: Sequence[str]) -> list[str]:
        """The session's own words (:func:`session_terms`), read in a worker thread.

        ``cwd`` is None for a session whose directory is not on this machine: then
        only ``names`` and its recent tool calls are used.
        """
        recent = self.recent[session_key].terms() if session_key in self.recent else []
        return await asyncio.to_thread(session_terms, cwd, names, recent)

    def drop_drafts(self, key: Hashable) -> list[Message]:
        """Forget a chat's (or topic's) unsure transcripts; returns their question messages."""
        tokens = [t for t, (place, *_) in self.drafts.items() if place == key]
        messages = [self.drafts.pop(t)[2] for t in tokens]
        return [m for m in messages if m is not None]
