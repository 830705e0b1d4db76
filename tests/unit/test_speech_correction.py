"""Careful correction: only unsure words that sound like a session term are replaced."""

from __future__ import annotations

from voice_agent.speech.base import HeardWord
from voice_agent.speech.correction import correct
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
