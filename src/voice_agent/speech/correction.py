"""Careful correction of a transcript towards the session's own words.

A small model hears ``pytest`` as "pydice" and ``pyproject.toml`` as "pip reject.toml".
:func:`correct` replaces a word, or a phrase of up to three words, by a session term
only when both hold:

* **the decoder was unsure**: the phrase's least probable word is below
  ``unsure_below`` and its mean below ``mean_below`` (faster-whisper's per-word
  probabilities, :class:`voice_agent.speech.base.HeardWord`);
* **it sounds like the term**: the Metaphone codes (jellyfish) of the phrase and the
  term, and their letters, are close by RapidFuzz's normalised Indel similarity;
* **it is not plain English**: a phrase made only of ordinary English words
  (wordfreq's Zipf frequency ≥ :data:`COMMON_ZIPF`) is kept, but for words that spell
  a compound term exactly when joined ("git hub" → ``GitHub``).

A phrase that already is the term (in any case), or differs from it only by an
ending ("approved" / ``approve``, "tests" / ``test``), is left alone, and a word
that is a term never takes an everyday word beside it (:data:`EVERYDAY_ZIPF`:
"README, my" is not ``README.md``), so these rules never change a plain sentence the model heard
right. Every change is reported
(:class:`voice_agent.speech.base.Correction`) so the echo can mark it and the model
can be told.

**Checked against the audio.** A small model also writes a developer word as a
plain one ("grep" → "wrap", ``vitest`` → "by this time"): too far for the rules above,
which would then rewrite plain speech too. Given a :data:`Verify` (the engine's
forced decoding, :mod:`voice_agent.speech.forced`), :func:`correct` also tries, for
the words the decoder was least sure of, the few terms closest in sound: by their
phonemes (espeak-ng, :mod:`voice_agent.speech.phonemes`) and, looser than above, by
Metaphone and letters, ordinary words included. The audio then judges the
sentences: as heard, and with each of these terms in place, all scored with the
same prompt naming the terms. The most probable wins, if it is a term's and beats
the sentence as heard by at least ``verified_gain`` (natural log).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jellyfish
from rapidfuzz import fuzz
from wordfreq import zipf_frequency

from voice_agent.speech.base import Correction, HeardWord
from voice_agent.speech.phonemes import PHONEMES

_EDGE = "\"'“”‘’¿¡([{)]}.,!?;:…-"
_SPOKEN_SYMBOLS = frozenset({"dot", "underscore", "dash", "hyphen", "slash"})
_NOT_LETTERS = re.compile(r"[^a-z0-9]+")
COMMON_ZIPF = 3.0
"""A word at least this frequent in English (wordfreq's Zipf scale: once per million
words) is an ordinary word: a phrase made only of such words is never replaced."""
_STRONG = (95.0, 80.0)  # sound, spelling: a match that may absorb a word that is a term
EVERYDAY_ZIPF = 5.0
"""Words at least this frequent ("my", "the", "it": ten per million words and more) are
never absorbed into a term by a word beside them that is a term already."""
_EXACT = 200.0  # the score of words that spell a joined term exactly ("git hub")
_ENDINGS = ("", "s", "es", "ed", "d", "ing", "er", "ers", "'s")

_TERMS_PER_PHRASE = 3  # "wrap" sounds most like ``repo``, then ``grep``
_PHRASES_PER_TERM = 2  # "the npm" and "use the npm" as pnpm, not also "npm instead"
_SOUNDS_LIKE = 55.0  # least similarity (0-100) of the phonemes of a phrase and a term

Verify = Callable[[Sequence[str], Sequence[str]], Sequence[float]]
"""``verify(sentences, terms)``: the log-probability of each sentence given the audio,
with ``terms`` named in the decoder's prompt (empty when the audio cannot be scored)."""


@dataclass(frozen=True)
class CorrectionOptions:
    """When a phrase may be replaced by a term (the defaults are tuned by ``bench.voice``).

    Attributes:
        unsure_below: The phrase's least probable word must be below this (0.8: on
            the bench's tuning commands "systemed" at 0.5-0.8 was still a misheard
            ``systemd``, and no plain word was changed).
        mean_below: The phrase's mean word probability must be below this.
        listed_below: Words left as heard that are less probable than this are
            named as unsure in the transcript's note.
        sounds_like: Least similarity (0-100) of the Metaphone codes.
        spelled_like: Least similarity (0-100) of the letters.
        max_words: The longest phrase considered.
        min_letters: Terms and phrases shorter than this (in letters) are never matched.
        short_word: A phrase of at most this many letters must sound exactly like the
            term (same Metaphone code).
        verify_below: With a :data:`Verify`, phrases whose least probable word is
            below this are also tried against the audio.
        verify_like: The least Metaphone + letters similarity (0-200) of a phrase
            and a term tried against the audio (each at least 50 and 40); a term
            whose phonemes are close enough is tried too.
        verify_most: How many sentences of a note are scored against the audio at
            most (each about 20 ms for tiny.en on 2 cores).
        verified_gain: How much more probable (natural log) the audio must make the
            sentence with the term than the sentence as heard.
    """

    unsure_below: float = 0.8
    mean_below: float = 0.85
    listed_below: float = 0.5
    sounds_like: float = 80.0
    spelled_like: float = 60.0
    max_words: int = 3
    min_letters: int = 4
    short_word: int = 5
    verify_below: float = 0.5
    verify_like: float = 120.0
    verify_most: int = 10
    verified_gain: float = 0.5


@dataclass(frozen=True)
class Corrected:
    """A transcript after :func:`correct`.

    Attributes:
        text: The words joined, with the corrections made.
        corrections: What was replaced, in order.
        unsure: The words the decoder was unsure of that were left as heard.
    """

    text: str
    corrections: tuple[Correction, ...]
    unsure: tuple[str, ...]


@dataclass(frozen=True)
class _Term:
    written: str
    letters: str
    code: str
    sound: str = ""  # phonemes, when espeak-ng gave them


def correct(
    words: Sequence[HeardWord],
    terms: Sequence[str],
    options: CorrectionOptions | None = None,
    verify: Verify | None = None,
) -> Corrected:
    """Replace unsure phrases that sound like a session term by the term.

    Args:
        words: The decoded words with their probabilities, in order.
        terms: The session's terms (file names, tools…), most specific first.
        options: The thresholds.
        verify: Scores a change against the audio; with it, the phrases the decoder
            was least sure of may also become a term the audio confirms.

    Returns:
        The corrected text, the corrections and the unsure words left alone.
    """
    chosen = options or CorrectionOptions()
    index = _index(tuple(terms), chosen.min_letters)
    known = frozenset(term.letters for term in index)
    cores = [_split(w.text) for w in words]
    letters = [_letters(_spaced(core)) for _, core, _ in cores]
    candidates: list[tuple[float, int, int, _Term]] = []
    for start in range(len(words)):
        for end in range(start + 1, min(len(words), start + chosen.max_words) + 1):
            probabilities = [w.probability for w in words[start:end]]
            if min(probabilities) >= chosen.unsure_below:
                continue
            if sum(probabilities) / len(probabilities) >= chosen.mean_below:
                continue
            if cores[start][1].lower() in _SPOKEN_SYMBOLS or cores[end - 1][1].lower() in (
                _SPOKEN_SYMBOLS
            ):
                continue
            phrase = " ".join(c[1] for c in cores[start:end])
            # A word that already is a term was heard right: it stays, or becomes the
            # same end of a longer term ("pip reject .toml" -> pyproject.toml).
            window = letters[start:end]
            if end - start == 1 and window[0] in known:
                continue
            inside = frozenset(w for w in window if w in known)
            match = _best(phrase, index, chosen, inside=inside)
            if match is not None and inside and match[0] < _EXACT:
                others = [c[1] for c, w in zip(cores[start:end], window, strict=True)]
                others = [o for o, w in zip(others, window, strict=True) if w not in known]
                if others and all(_everyday(o) for o in _spaced(" ".join(others)).split()):
                    continue  # a term heard right never swallows "my": "README, my"
            if match is not None and end - start > 1:
                inner = (
                    " ".join(c[1] for c in cores[start + 1 : end]),
                    " ".join(c[1] for c in cores[start : end - 1]),
                )
                if max(_score(p, match[1]) for p in inner) >= match[0]:
                    continue  # an edge word is not part of the term ("the stack trace")
            heard = _strip("".join(w.text for w in words[start:end]).strip())
            if match is not None and heard != match[1].written:  # already written so
                candidates.append((match[0] + (end - start) * 0.01, start, end, match[1]))
    taken: dict[int, tuple[int, _Term]] = {}
    used: set[int] = set()
    for _, start, end, term in sorted(candidates, key=lambda c: -c[0]):
        if used.isdisjoint(range(start, end)):
            taken[start] = (end, term)
            used.update(range(start, end))
    if verify is not None and chosen.verify_most > 1:
        every = frozenset(_letters(_spaced(t)) for t in terms)  # short ones too: "npm"
        _confirm(words, cores, letters, _sounded(index), every, taken, used, chosen, verify)
    return _assemble(words, cores, taken, chosen.listed_below)


def _confirm(
    words: Sequence[HeardWord],
    cores: list[tuple[str, str, str]],
    letters: list[str],
    index: tuple[_Term, ...],
    known: frozenset[str],
    taken: dict[int, tuple[int, _Term]],
    used: set[int],
    options: CorrectionOptions,
    verify: Verify,
) -> None:
    """Add to ``taken`` the terms the audio prefers to what was heard.

    The phrases tried overlap ("the npm", "use the npm"): each group of overlapping
    phrases is judged at once, the least sure first, while the budget of sentences
    (``verify_most``) lasts.
    """
    loose: list[tuple[float, int, int, _Term]] = []
    for start in range(len(words)):
        for end in range(start + 1, min(len(words), start + options.max_words) + 1):
            if not used.isdisjoint(range(start, end)):
                continue
            if min(w.probability for w in words[start:end]) >= options.verify_below:
                continue
            edges = (cores[start][1].lower(), cores[end - 1][1].lower())
            if not all(edges) or not _SPOKEN_SYMBOLS.isdisjoint(edges):
                continue
            inside = [w for w in letters[start:end] if w in known]
            if end - start == 1 and inside:
                continue  # a word that is a term was heard right
            phrase = " ".join(c[1] for c in cores[start:end])
            # A term heard right stays inside the change: "the npm" may be pnpm, "my git"
            # is never "migrate".
            near = [
                m for m in _near(phrase, index, options) if all(w in m[1].letters for w in inside)
            ]
            for score, term in near[:_TERMS_PER_PHRASE]:
                loose.append((score, start, end, term))
    budget = options.verify_most
    for group in sorted(_overlapping(loose), key=lambda g: _least_sure(words, g)):
        if budget < 2:
            break
        tried = _closest(group, budget - 1)
        sentences = [_assemble(words, cores, taken, 0.0).text]
        sentences += [
            _assemble(words, cores, {**taken, s: (e, t)}, 0.0).text for _, s, e, t in tried
        ]
        scores = verify(sentences, list(dict.fromkeys(t.written for *_, t in tried)))
        budget -= len(sentences)
        if len(scores) != len(sentences):
            return  # the audio could not be scored: the transcript stands as it is
        best = max(range(1, len(sentences)), key=lambda i: scores[i])
        if scores[best] - scores[0] >= options.verified_gain:
            _, start, end, term = tried[best - 1]
            taken[start] = (end, term)
            used.update(range(start, end))


def _closest(
    group: list[tuple[float, int, int, _Term]], most: int
) -> list[tuple[float, int, int, _Term]]:
    """The ``most`` closest candidates, each term in at most two of its phrases."""
    chosen: list[tuple[float, int, int, _Term]] = []
    phrases: Counter[str] = Counter()
    for candidate in sorted(group, key=lambda c: -c[0]):
        term = candidate[3].written
        if phrases[term] < _PHRASES_PER_TERM:
            phrases[term] += 1
            chosen.append(candidate)
    return chosen[:most]


def _overlapping(
    candidates: list[tuple[float, int, int, _Term]],
) -> list[list[tuple[float, int, int, _Term]]]:
    """The candidates in groups whose phrases overlap, in the order of the words."""
    groups: list[list[tuple[float, int, int, _Term]]] = []
    reach = -1
    for candidate in sorted(candidates, key=lambda c: (c[1], c[2])):
        if groups and candidate[1] < reach:
            groups[-1].append(candidate)
            reach = max(reach, candidate[2])
        else:
            groups.append([candidate])
            reach = candidate[2]
    return groups


def _least_sure(words: Sequence[HeardWord], group: list[tuple[float, int, int, _Term]]) -> float:
    return min(w.probability for _, start, end, _ in group for w in words[start:end])


def _near(
    phrase: str, index: tuple[_Term, ...], options: CorrectionOptions
) -> list[tuple[float, _Term]]:
    """The terms ``phrase`` is loosely like (for a check against the audio), closest first.

    Unlike :func:`_best`, ordinary words may match; a term spelled inside the phrase
    (or the phrase inside the term) never does: "the Dockerfile" is not ``Dockerfile``.
    A term is like the phrase by Metaphone and letters (score 120-200), or by its
    phonemes (:data:`_SOUNDS_LIKE` or more: score 120 + their similarity).
    """
    letters = _letters(_spaced(phrase))
    if len(letters) < options.min_letters:
        return []
    code = _code(letters)
    sound = _sound(phrase)
    found: dict[str, tuple[float, _Term]] = {}
    for term in index:
        if term.letters in letters or letters in term.letters:
            continue
        if sound and term.sound and 0.5 <= len(sound) / len(term.sound) <= 2.0:
            alike = fuzz.ratio(sound, term.sound)
            if alike >= _SOUNDS_LIKE:
                found[term.written] = (120.0 + alike, term)
        if not 0.6 <= len(letters) / len(term.letters) <= 1.7:
            continue
        by_code = fuzz.ratio(code, term.code)
        spelling = fuzz.ratio(letters, term.letters)
        score = by_code + spelling
        close = by_code >= 50 and spelling >= 40 and score >= options.verify_like
        if close and score > found.get(term.written, (0.0, term))[0]:
            found[term.written] = (score, term)
    return sorted(found.values(), key=lambda match: -match[0])


def _sound(phrase: str) -> str:
    """The phonemes of a phrase's words (spoken symbols left out), or ``""``."""
    said = " ".join(w for w in _spaced(phrase).split() if w.lower() not in _SPOKEN_SYMBOLS)
    return PHONEMES.of([said]).get(said, "")


@functools.lru_cache(maxsize=16)
def _sounded(index: tuple[_Term, ...]) -> tuple[_Term, ...]:
    """The terms with their phonemes (none without espeak-ng)."""
    said = {t.written: " ".join(w for w in _spaced(t.written).split()) for t in index}
    sounds = PHONEMES.of(list(said.values()))
    return tuple(
        _Term(t.written, t.letters, t.code, sounds.get(said[t.written], "")) for t in index
    )


def _assemble(
    words: Sequence[HeardWord],
    cores: list[tuple[str, str, str]],
    taken: dict[int, tuple[int, _Term]],
    listed_below: float,
) -> Corrected:
    """The words as decoded (their own spacing), with the taken phrases replaced."""
    text = ""
    corrections: list[Correction] = []
    unsure: list[str] = []
    i = 0
    while i < len(words):
        raw = words[i].text
        space = raw[: len(raw) - len(raw.lstrip())] if text else ""
        if i in taken:
            end, term = taken[i]
            lead, trail = cores[i][0], cores[end - 1][2]
            heard = "".join(w.text for w in words[i:end]).strip()
            corrections.append(Correction(_strip(heard), term.written, len(text + space + lead)))
            text += f"{space}{lead}{term.written}{trail}"
            i = end
            continue
        if words[i].probability < listed_below and cores[i][1]:
            unsure.append(cores[i][1])
        text += space + raw.strip()
        i += 1
    return Corrected(text, tuple(corrections), tuple(unsure))


def _split(word: str) -> tuple[str, str, str]:
    """(leading punctuation, the word, trailing punctuation)."""
    stripped = word.strip()
    core = stripped.strip(_EDGE)
    if not core:
        return stripped, "", ""
    start = stripped.index(core)
    return stripped[:start], core, stripped[start + len(core) :]


def _strip(text: str) -> str:
    return text.strip(_EDGE)


def _letters(text: str) -> str:
    spoken = [w for w in text.lower().split() if w not in _SPOKEN_SYMBOLS]
    return _NOT_LETTERS.sub("", "".join(spoken))


def _code(letters: str) -> str:
    return str(jellyfish.metaphone(letters)) if letters else ""


@functools.lru_cache(maxsize=16)
def _index(terms: tuple[str, ...], min_letters: int) -> tuple[_Term, ...]:
    index: list[_Term] = []
    seen: set[str] = set()
    for term in terms:
        letters = _letters(_spaced(term))
        if len(letters) < min_letters or letters in seen:
            continue
        seen.add(letters)
        index.append(_Term(term, letters, _code(letters)))
    return tuple(index)


def _spaced(text: str) -> str:
    return text.replace(".", " ").replace("_", " ").replace("-", " ")


def _best(
    phrase: str,
    index: tuple[_Term, ...],
    options: CorrectionOptions,
    *,
    inside: frozenset[str] = frozenset(),
) -> tuple[float, _Term] | None:
    """The term ``phrase`` sounds most like, with its score, or None.

    A phrase of several words spelled with the very letters of a term is that term
    (joining them is the change). ``inside`` are the letters of the phrase's words
    that are terms already: the match is never one of them, and it must be strong
    (:data:`_STRONG`) unless it contains each of them.
    """
    letters = _letters(_spaced(phrase))
    if len(letters) < options.min_letters:
        return None
    if " " in phrase.strip():
        same = [t for t in index if t.letters == letters and _joined(t.written)]
        if same:
            return _EXACT, same[0]
    if any(t.letters == letters for t in index):
        return None  # it is a term already, however it was spaced
    if all(_common(w) for w in _spaced(phrase).split()):
        return None  # ordinary English words: "returns" never becomes "retries"
    code = _code(letters)
    # A short word is matched only when it sounds exactly like the term.
    least_sound = 100.0 if len(letters) <= options.short_word else options.sounds_like
    best: tuple[float, _Term] | None = None
    for term in index:
        if not 0.75 <= len(letters) / len(term.letters) <= 1.34:
            continue
        if _same_word(letters, term.letters):
            continue
        if term.letters in inside:
            continue
        sound = fuzz.ratio(code, term.code)
        if sound < least_sound:
            continue
        spelling = fuzz.ratio(letters, term.letters)
        if spelling < options.spelled_like:
            continue
        weak = sound < _STRONG[0] or spelling < _STRONG[1]
        if inside and weak and not all(w in term.letters for w in inside):
            continue
        score = sound + spelling
        if best is None or score > best[0]:
            best = (score, term)
    return best


def _joined(written: str) -> bool:
    """Whether a term said as separate words is written as one word.

    ``GitHub``, ``pyproject.toml``, ``test_api.py`` are; ``README`` ("read me") and
    ``setup`` ("set up") are ordinary words run together, so they are not.
    """
    if " " in written:
        return False
    mixed_case = not written.islower() and not written.isupper()
    return mixed_case or any(not c.isalnum() for c in written)


def prepare() -> None:
    """Load the word frequencies now (about 0.1 s), not on the first note."""
    _common("the")


@functools.lru_cache(maxsize=4096)
def _common(word: str) -> bool:
    """Whether ``word`` is an ordinary English word (:data:`COMMON_ZIPF`)."""
    return zipf_frequency(word, "en") >= COMMON_ZIPF


@functools.lru_cache(maxsize=4096)
def _everyday(word: str) -> bool:
    """Whether ``word`` is one of the most frequent English words (:data:`EVERYDAY_ZIPF`)."""
    return zipf_frequency(word, "en") >= EVERYDAY_ZIPF


def _score(phrase: str, term: _Term) -> float:
    """How alike a phrase and a term are, 0-200 (Metaphone and letters)."""
    letters = _letters(_spaced(phrase))
    return float(fuzz.ratio(_code(letters), term.code) + fuzz.ratio(letters, term.letters))


def _same_word(heard: str, term: str) -> bool:
    """Whether the two are one word but for an ending (then the heard one is kept)."""
    short, long = sorted((heard, term), key=len)
    return long.startswith(short) and long[len(short) :] in _ENDINGS
