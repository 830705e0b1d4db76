"""Spoken replies: Markdown made speakable, and espeak-ng speaking it as a voice note."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import tempfile
from pathlib import Path

from voice_agent.speech.audio import encode_ogg_opus
from voice_agent.speech.base import SpeechError

_FENCE = re.compile(r"^ {0,3}(```|~~~).*?(?:^ {0,3}\1[^\n]*$|\Z)", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`\n]*)`")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"<?\b(?:(?:https?|ftp)://|www\.)[^\s>)]*[^\s>).,;:!?'\"]>?")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>\n]*>")
_TABLE_ROW = re.compile(r"^\s*\|.*$|^\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)+\|?\s*$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
_QUOTE = re.compile(r"^\s*>+\s?")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~)(?=\S)(.+?)(?<=\S)\1(?!\w)")
_SENTENCE_END = re.compile(r"[.!?…](?=\s|$)")
_MAX_INLINE_CODE = 30


def speakable(markdown: str, limit: int = 600) -> str:
    """The part of a Markdown reply worth reading aloud.

    Code blocks (fenced or indented), tables, images, URLs and inline code longer
    than 30 characters are dropped; links keep their text; headings and list items
    become sentences; the rest of the Markdown is removed. The result is cut at the
    last sentence end within ``limit``.

    Args:
        markdown: The reply as Claude wrote it.
        limit: The most characters returned.

    Returns:
        Plain sentences, or ``""`` when nothing is worth saying.
    """
    text = _without_indented_code(_FENCE.sub("\n", markdown.replace("\r\n", "\n")))
    text = _INLINE_CODE.sub(_inline_code, text)
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub("", text)
    text = _HTML_TAG.sub("", text)
    sentences = [_line(line) for line in text.split("\n")]
    joined = " ".join(s for s in sentences if s)
    joined = re.sub(r"\s+", " ", joined).strip()
    joined = re.sub(r" (?=[.,;:!?](?:\s|$))", "", joined)
    if not any(char.isalnum() for char in joined):
        return ""
    return _cut(joined, limit)


def _without_indented_code(text: str) -> str:
    """``text`` without Markdown's indented code blocks.

    Such a block is indented by 4 spaces or a tab, after a blank line, and not
    inside a list item (where the indent continues the item).
    """
    kept: list[str] = []
    in_code = in_list = False
    after_blank = True
    for line in text.split("\n"):
        blank = not line.strip()
        indented = line.startswith(("    ", "\t"))
        if in_code and (blank or indented):
            continue
        in_code = indented and after_blank and not in_list
        if in_code:
            continue
        if not blank:
            in_list = bool(_BULLET.match(line)) or (in_list and line[:1].isspace())
        kept.append(line)
        after_blank = blank
    return "\n".join(kept)


def _inline_code(match: re.Match[str]) -> str:
    code = match.group(1).strip()
    return code if len(code) <= _MAX_INLINE_CODE else ""


def _line(line: str) -> str:
    if _TABLE_ROW.match(line) or _RULE.match(line):
        return ""
    ends_sentence = bool(_HEADING.match(line) or _BULLET.match(line))
    line = _QUOTE.sub("", _HEADING.sub("", line))
    line = _BULLET.sub("", line)
    for _ in range(2):  # nested emphasis: ***both***
        line = _EMPHASIS.sub(r"\2", line)
    line = line.strip()
    if ends_sentence and line and line[-1].isalnum():
        line += "."
    return line


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    window = text[:limit]
    ends = [match.end() for match in _SENTENCE_END.finditer(window)]
    if ends:
        return window[: ends[-1]].strip()
    words = window[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return words + "…" if words else ""


class EspeakTTS:
    """Text-to-speech with espeak-ng: robotic but instant, offline and tiny.

    Attributes:
        name: ``espeak-ng``.
        binary: The program run.
        timeout: Seconds allowed for one synthesis.
        words_per_minute: Speaking rate.
    """

    name = "espeak-ng"

    def __init__(
        self, binary: str = "espeak-ng", timeout: float = 20.0, words_per_minute: int = 170
    ) -> None:
        self.binary = binary
        self.timeout = timeout
        self.words_per_minute = words_per_minute

    def available(self) -> bool:
        """Whether espeak-ng is on PATH."""
        return shutil.which(self.binary) is not None

    async def synthesize(self, text: str, language: str = "en") -> bytes:
        """Speak plain text into an OGG/Opus voice note.

        Args:
            text: What to say (see :func:`speakable`).
            language: An espeak-ng voice or language code (``en``, ``en-us``, ``de``...).

        Returns:
            OGG/Opus bytes, mono 48 kHz.

        Raises:
            SpeechError: Nothing to say, espeak-ng is missing, fails or takes too long.
        """
        if not text.strip():
            raise SpeechError("There is nothing to say.")
        with tempfile.TemporaryDirectory(prefix="voice-agent-tts-") as folder:
            wav = Path(folder) / "speech.wav"
            await self._run(
                ["-v", language, "-s", str(self.words_per_minute), "-w", str(wav)], text
            )
            data = wav.read_bytes() if wav.is_file() else b""
        if not data:
            raise SpeechError("espeak-ng produced no audio.")
        return await asyncio.to_thread(encode_ogg_opus, data)

    async def _run(self, arguments: list[str], text: str) -> None:
        try:
            process = await asyncio.create_subprocess_exec(
                self.binary,
                *arguments,
                "--stdin",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group, killed whole on timeout
            )
        except OSError as error:
            raise SpeechError(f"Text-to-speech is not available: {error.strerror}.") from error
        try:
            async with asyncio.timeout(self.timeout):
                _, stderr = await process.communicate(text.encode("utf-8"))
        except TimeoutError as error:
            raise SpeechError(f"Text-to-speech took longer than {self.timeout:g} s.") from error
        finally:
            if process.returncode is None:  # timed out or cancelled: stop it and its children
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        if process.returncode != 0:
            detail = stderr.decode("utf-8", "replace").strip()[:200]
            raise SpeechError(f"espeak-ng failed ({process.returncode}): {detail}")
