"""The developer vocabulary, names from a working directory, and the Whisper prompt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from voice_agent.speech.local import default_model_dir
from voice_agent.speech.vocabulary import DEVELOPER_WORDS, initial_prompt, vocabulary_for

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


def test_without_a_directory_it_is_the_built_in_words() -> None:
    assert vocabulary_for(None) == list(DEVELOPER_WORDS[:120])
    assert vocabulary_for(None, limit=10) == list(DEVELOPER_WORDS[:10])
    assert vocabulary_for("/no/such/directory") == list(DEVELOPER_WORDS[:120])


def make_project(root: Path) -> None:
    (root / "pyproject.toml").write_text('[project]\nname = "billing-api"\n')
    (root / "package.json").write_text(json.dumps({"name": "@acme/web-console"}))
    (root / "src").mkdir()
    (root / "test_invoices.py").write_text("SECRET_TOKEN = 'never-in-the-vocabulary'\n")
    (root / "__pycache__").mkdir()
    (root / ".hidden_thing").write_text("")
    git = root / ".git"
    (git / "refs" / "heads" / "feature").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/invoice-export\n")
    (git / "refs" / "heads" / "main").write_text("0" * 40)
    (git / "refs" / "heads" / "feature" / "pdf-render").write_text("0" * 40)


def test_names_from_the_working_directory_come_first(tmp_path: Path) -> None:
    make_project(tmp_path)
    words = vocabulary_for(str(tmp_path), extra=["Zanzibar"])
    assert words[0] == "Zanzibar"
    for name in [
        "billing-api",
        "web-console",
        "invoice-export",
        "feature/pdf-render",
        "pdf-render",
        "src",
        "test_invoices.py",
        "test_invoices",
        "pyproject.toml",
    ]:
        assert name in words, name
    assert words.index("billing-api") < words.index("pytest")
    assert "__pycache__" not in words
    assert ".hidden_thing" not in words
    assert not any("SECRET" in w or "never" in w for w in words)


def test_deduplicated_case_insensitively_and_bounded(tmp_path: Path) -> None:
    make_project(tmp_path)
    words = vocabulary_for(str(tmp_path), extra=["PyTest", "pytest", "README"], limit=40)
    assert len(words) == 40
    assert len({w.casefold() for w in words}) == 40
    assert "PyTest" in words
    assert "pytest" not in words


def test_directory_names_take_at_most_half(tmp_path: Path) -> None:
    for i in range(300):
        (tmp_path / f"module_{i:03d}.py").write_text("")
    words = vocabulary_for(str(tmp_path), limit=100)
    assert len(words) == 100
    assert sum(w.startswith("module_") for w in words) == 50
    assert words[50:] == list(DEVELOPER_WORDS[:50])


def test_broken_metadata_never_fails(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\nname = ")
    (tmp_path / "package.json").write_text("{not json")
    (tmp_path / ".git").write_text("gitdir: /nowhere/at/all\n")
    (tmp_path / "app.py").write_text("")
    words = vocabulary_for(str(tmp_path))
    assert "app.py" in words
    assert "pytest" in words


def test_large_metadata_files_are_not_read(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "huge"\n' + "#" * 300_000)
    assert "huge" not in vocabulary_for(str(tmp_path))


def test_a_worktree_git_file_is_followed(tmp_path: Path) -> None:
    real = tmp_path / "real-git"
    (real / "refs" / "heads").mkdir(parents=True)
    (real / "HEAD").write_text("ref: refs/heads/hotfix-login\n")
    work = tmp_path / "work"
    work.mkdir()
    (work / ".git").write_text(f"gitdir: {real}\n")
    assert "hotfix-login" in vocabulary_for(str(work))


def test_a_file_as_cwd_gives_the_built_in_words(tmp_path: Path) -> None:
    path = tmp_path / "file.txt"
    path.write_text("x")
    assert vocabulary_for(str(path)) == list(DEVELOPER_WORDS[:120])


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
