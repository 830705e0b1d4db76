"""Careful correction: only unsure words that sound like a session term are replaced."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from voice_agent.speech import correction
from voice_agent.speech.base import HeardWord
from voice_agent.speech.correction import CorrectionOptions, correct
from voice_agent.speech.phonemes import Phonemes
from voice_agent.speech.vocabulary import vocabulary_for

SESSION = vocabulary_for(["invoice_parser.py", "invoice_parser", "pyproject.toml", "billing-api"])


def heard(*pairs: tuple[str, float]) -> list[HeardWord]:
    return [HeardWord(text, probability) for text, probability in pairs]


def test_a_correct_plain_sentence_is_left_alone_even_when_unsure() -> None:
    words = heard(
        (" What", 0.13), (" time", 0.4), (" is", 0.3), (" it?", 0.2), (" Read", 0.1),
        (" me", 0.2), (" the", 0.3), (" first", 0.1), (" paragraph.", 0.3), (" Approved.", 0.1),
        (" Check", 0.04), (" the", 0.2), (" tests", 0.1), (" and", 0.2), (" rebase.", 0.01),
    )  # fmt: skip
    result = correct(words, SESSION)
    assert result.text == "What time is it? Read me the first paragraph. Approved. " + (
        "Check the tests and rebase."
    )
    assert result.corrections == ()
    assert "What" in result.unsure


def test_a_misheard_session_file_name_is_corrected() -> None:
    words = heard((" Open", 0.8), (" invoice", 0.3), (" powser", 0.05), (".py.", 0.2))
    result = correct(words, SESSION)
    assert result.text == "Open invoice_parser.py."
    (change,) = result.corrections
    assert (change.heard, change.term) == ("invoice powser.py", "invoice_parser.py")
    assert result.text[change.offset :].startswith("invoice_parser.py")
    assert result.unsure == ()


def test_a_phrase_sounding_like_a_term_is_joined() -> None:
    words = heard((" Open", 0.76), (" pip", 0.0), (" reject", 0.17), (".toml.", 0.3))
    assert correct(words, SESSION).text == "Open pyproject.toml."
    words = heard((" on", 0.97), (" git", 0.0), (" hub.", 0.87))
    assert correct(words, SESSION).text == "on GitHub."


def test_a_word_the_decoder_was_sure_of_is_never_changed() -> None:
    words = heard((" Open", 0.8), (" invoice", 0.9), (" powser", 0.95), (".py.", 0.9))
    assert correct(words, SESSION).corrections == ()


def test_a_word_that_is_a_term_already_is_not_absorbed() -> None:
    words = heard((" What", 0.2), (" does", 0.7), (" the", 0.3), (" README", 0.01), (" say?", 1.0))
    assert correct(words, SESSION).text == "What does the README say?"
    words = heard((" kubectl", 0.2), (" get", 0.3), (" pods.", 0.5))
    assert correct(words, SESSION).text == "kubectl get pods."


def test_nothing_to_match_against_changes_nothing() -> None:
    words = heard((" Open", 0.1), (" invoice", 0.1), (" powser", 0.05), (".py.", 0.2))
    assert correct(words, []).text == "Open invoice powser.py."
    assert correct([], SESSION).text == ""


def test_a_term_heard_right_never_swallows_a_plain_word() -> None:
    terms = vocabulary_for(["README.md", "CHANGELOG.md", "pyproject.toml"])
    words = heard((" README,", 0.3), (" my", 0.2), (" first", 0.9), (" paragraph.", 0.9))
    result = correct(words, terms)
    assert result.text == "README, my first paragraph."
    assert result.corrections == ()
    # while words that spell a joined term exactly are still joined
    assert correct(heard((" git", 0.1), (" hub.", 0.3)), terms).text == "GitHub."


def test_a_fairly_sure_misheard_term_is_corrected_but_a_plain_word_is_not() -> None:
    words = heard((" Restart", 0.9), (" nginx", 0.9), (" with", 0.95), (" systemed.", 0.7))
    result = correct(words, SESSION)
    assert result.text == "Restart nginx with systemd."
    assert result.unsure == ()  # 0.7 is not named as unsure in the note
    words = heard((" Restart", 0.9), (" the", 0.7), (" system.", 0.7))
    assert correct(words, SESSION).corrections == ()


class Audio:
    """A stand-in for the engine's check against the audio: a fixed gain per term.

    The sentence as heard scores 0; a sentence with a term scores the term's gain
    (-10 for a term not named).
    """

    def __init__(self, gains: dict[str, float]) -> None:
        self.gains = gains
        self.asked: list[list[str]] = []

    def __call__(self, sentences: Sequence[str], terms: Sequence[str]) -> list[float]:
        self.asked.append(list(sentences))
        scores = [0.0]
        for sentence in sentences[1:]:
            (term,) = [t for t in terms if sentence.count(t) > sentences[0].count(t)]
            scores.append(self.gains.get(term, -10.0))
        return scores

    @property
    def sentences(self) -> list[str]:
        return [sentence for asked in self.asked for sentence in asked]


def test_a_loose_match_is_taken_only_when_the_audio_confirms_it() -> None:
    words = heard((" wrap", 0.09), (" the", 0.89), (" logs", 0.79), (" for", 0.95),
                  (" errors.", 0.9))  # fmt: skip
    terms = vocabulary_for(["repo", "grep"])
    assert correct(words, terms).text == "wrap the logs for errors."  # too far by sound alone
    denied = Audio({})
    assert correct(words, terms, verify=denied).text == "wrap the logs for errors."
    assert denied.sentences >= ["wrap the logs for errors.", "grep the logs for errors."]
    confirmed = Audio({"grep": 2.5})
    result = correct(words, terms, verify=confirmed)
    assert result.text == "grep the logs for errors."
    (change,) = result.corrections
    assert (change.heard, change.term, change.offset) == ("wrap", "grep", 0)
    barely = Audio({"grep": 0.3})  # under verified_gain (0.5)
    assert correct(words, terms, verify=barely).text == "wrap the logs for errors."


def test_the_term_the_audio_prefers_wins() -> None:
    words = heard((" wrap", 0.09), (" the", 0.89), (" logs.", 0.79))
    terms = vocabulary_for(["repo", "grep"])
    assert correct(words, terms, verify=Audio({"repo": 1.0, "grep": 3.0})).text == (
        "grep the logs."
    )
    assert correct(words, terms, verify=Audio({"repo": 3.0, "grep": 1.0})).text == (
        "repo the logs."
    )


def test_only_a_few_sentences_are_scored_against_the_audio() -> None:
    words = heard(*((f" {w}", 0.1) for w in "wrap the rapper with a wrapping paper".split()))
    audio = Audio({})
    correct(words, vocabulary_for(["grep", "repo", "rapid", "paper"]), verify=audio)
    assert 0 < len(audio.sentences) <= CorrectionOptions().verify_most


def test_a_term_heard_right_stays_inside_a_change() -> None:
    # "npm" is a term: "the npm" may still be pnpm, which holds it...
    words = heard((" Use", 0.5), (" the", 0.3), (" npm,", 0.4), (" instead", 0.9),
                  (" of", 0.9), (" yarn.", 0.9))  # fmt: skip
    audio = Audio({"pnpm": 2.0})
    assert correct(words, vocabulary_for(["npm", "pnpm"]), verify=audio).text == (
        "Use pnpm, instead of yarn."
    )
    # ...but "my git" is never "migrate", which does not.
    words = heard((" Show", 0.5), (" me", 0.9), (" my", 0.45), (" git,", 0.04), (" diff.", 0.12))
    audio = Audio({"migrate": 5.0})
    result = correct(words, vocabulary_for(["git", "migrate"]), verify=audio)
    assert result.text == "Show me my git, diff."
    assert not any("migrate" in sentence for sentence in audio.sentences)


def test_a_term_far_in_spelling_but_near_in_sound_is_tried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    words = heard((" Check,", 0.04), (" everybody's", 0.42), (" config.", 0.31))
    terms = vocabulary_for(["Redis", "ledger"])
    assert correct(words, terms, verify=Audio({})).text == "Check, everybody's config."
    result = correct(words, terms, verify=Audio({"Redis": 2.0}))
    assert result.text == "Check, Redis config."  # espeak-ng: /ɛvɹɪbɑːdiz/, /ɹᵻdiz/
    # Without espeak-ng's phonemes the term is too far to be tried.
    monkeypatch.setattr(correction, "PHONEMES", Phonemes(program="/nonexistent/espeak-ng"))
    correction._sounded.cache_clear()
    audio = Audio({"Redis": 2.0})
    assert correct(words, terms, verify=audio).text == "Check, everybody's config."
    assert not any("Redis" in sentence for sentence in audio.sentences)
    correction._sounded.cache_clear()


def test_sure_words_and_words_that_are_terms_are_never_checked() -> None:
    words = heard((" What", 0.9), (" does", 0.9), (" the", 0.9), (" README", 0.01),
                  (" say?", 0.95))  # fmt: skip
    audio = Audio({"Redis": 50.0, "retries": 50.0})
    result = correct(words, vocabulary_for(["README", "Redis", "retries"]), verify=audio)
    assert result.text == "What does the README say?"
    assert audio.asked == []
