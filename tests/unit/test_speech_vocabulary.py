"""The developer vocabulary, names from a working directory, and the Whisper prompt."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer

from voice_agent.speech.local import default_model_dir
from voice_agent.speech.vocabulary import (
    DEVELOPER_WORDS,
    initial_prompt,
    prompt_words,
    vocabulary_for,
)

WHISPER_PROMPT_TOKENS = 223  # Whisper keeps n_text_ctx // 2 - 1 tokens of prompt


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer.from_file(str(default_model_dir() / "tokenizer.json"))


def tokens(tokenizer: Tokenizer, text: str) -> int:
    return len(tokenizer.encode(" " + text.strip(), add_special_tokens=False).ids)


def test_developer_words_cover_the_usual_suspects() -> None:
    assert len(DEVELOPER_WORDS) >= 100
    assert len({w.casefold() for w in DEVELOPER_WORDS}) == len(DEVELOPER_WORDS)
    for word in ["pytest", "mypy", "ruff", "kubectl", "pyproject.toml", "README", "Claude"]:
        assert word in DEVELOPER_WORDS
    assert "docker compose" in DEVELOPER_WORDS
    assert all(w == w.strip() and w for w in DEVELOPER_WORDS)


def test_without_session_terms_it_is_the_built_in_words() -> None:
    assert vocabulary_for(None) == list(DEVELOPER_WORDS)
    assert vocabulary_for(None, limit=10) == list(DEVELOPER_WORDS[:10])
    assert vocabulary_for([]) == list(DEVELOPER_WORDS)


def test_a_few_session_terms_lead_the_rest_follow_the_built_in_words() -> None:
    session = ["Zanzibar", "PyTest", "pytest", " ", "README", *(f"m_{i}.py" for i in range(20))]
    words = vocabulary_for(session, first=3)
    assert words[:3] == ["Zanzibar", "PyTest", "README"]
    assert (
        words[3 : 3 + 10]
        == [w for w in DEVELOPER_WORDS if w.casefold() not in {"readme", "pytest"}][:10]
    )
    assert words[-20:] == [f"m_{i}.py" for i in range(20)]  # for the correction only
    assert "pytest" not in words
    assert len({w.casefold() for w in words}) == len(words)
    assert len(vocabulary_for(session, limit=40)) == 40


def test_the_prompt_keeps_the_leading_session_terms() -> None:
    session = [f"module_{i:03d}.py" for i in range(300)]
    prompt = initial_prompt(vocabulary_for(session))
    assert "module_011.py" in prompt
    assert "module_012.py" not in prompt  # past PROMPT_SESSION_TERMS
    assert "pytest" in prompt


def test_prompt_is_a_sentence_naming_the_words() -> None:
    prompt = initial_prompt(["pytest", "mypy", "ruff"])
    assert prompt == "Claude, please use pytest, mypy, ruff."
    assert initial_prompt([]) == ""
    assert initial_prompt(["  ", ""]) == ""


def test_prompt_fits_whisper_for_the_default_vocabulary(tokenizer: Tokenizer) -> None:
    prompt = initial_prompt(vocabulary_for(None))
    assert tokens(tokenizer, prompt) <= WHISPER_PROMPT_TOKENS
    assert "kubectl" in prompt
    assert "pyproject.toml" in prompt


@pytest.mark.parametrize(
    "words",
    [
        [f"x{i}_q{i}_z{i}.cfg" for i in range(300)],
        ["Supercalifragilisticexpialidocious" * 2] * 1 + [f"name{i}" for i in range(400)],
        ["ÄÖÜ_ßçñ-ž" + str(i) for i in range(300)],
        [f"a.b.c.d.e.f.{i}" for i in range(300)],
    ],
)
def test_prompt_fits_whisper_for_awkward_names(tokenizer: Tokenizer, words: list[str]) -> None:
    prompt = initial_prompt(words)
    assert prompt
    assert tokens(tokenizer, prompt) <= WHISPER_PROMPT_TOKENS


def test_prompt_words_are_the_words_the_prompt_names() -> None:
    words = vocabulary_for([f"module_{i:03d}.py" for i in range(300)])
    named = prompt_words(words)
    assert initial_prompt(words) == "Claude, please use " + ", ".join(named) + "."
    assert named[:12] == [f"module_{i:03d}.py" for i in range(12)]
    assert prompt_words([]) == []
