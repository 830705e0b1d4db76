"""Speech: voice notes to text, and replies to voice notes.

Typical use from a front end::

    from voice_agent import speech

    stt = speech.create(speech.SpeechSettings())          # or backend="http", url=...
    words = speech.vocabulary_for(session_terms)  # voice_agent.sessions.vocabulary
    transcript = await stt.transcribe(ogg_bytes, "audio/ogg", vocabulary=words)

Importing this package registers the built-in backends, ``local`` (embedded
faster-whisper) and ``http`` (a whisper.cpp, reference or OpenAI-compatible server).
"""

from voice_agent.speech import http as _http
from voice_agent.speech import local as _local
from voice_agent.speech.audio import DecodedAudio, decode, encode_ogg_opus, is_silent
from voice_agent.speech.base import (
    AudioError,
    SpeechError,
    SpeechSettings,
    SpeechToText,
    TextToSpeech,
    Transcript,
)
from voice_agent.speech.http import HttpTranscriber
from voice_agent.speech.local import LocalWhisper
from voice_agent.speech.registry import create, register
from voice_agent.speech.tts import EspeakTTS, speakable
from voice_agent.speech.vocabulary import DEVELOPER_WORDS, initial_prompt, vocabulary_for

__all__ = [
    "DEVELOPER_WORDS",
    "AudioError",
    "DecodedAudio",
    "EspeakTTS",
    "HttpTranscriber",
    "LocalWhisper",
    "SpeechError",
    "SpeechSettings",
    "SpeechToText",
    "TextToSpeech",
    "Transcript",
    "create",
    "decode",
    "encode_ogg_opus",
    "initial_prompt",
    "is_silent",
    "register",
    "speakable",
    "vocabulary_for",
]

del _http, _local
