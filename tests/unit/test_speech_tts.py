"""What of a Markdown reply is read aloud."""

from __future__ import annotations

import pytest

from voice_agent.speech.tts import speakable

REPLY = """\
## Test results

I ran **pytest** and *two* tests failed in `test_api.py`:

```python
def test_login():
    assert client.post("/login").status_code == 200
```

| test | result |
|------|--------|
| test_login | failed |

- The login handler returns 500.
- See https://docs.example.com/errors for details
1. Fix `app/handlers/login.py` first

> Note: the [migration guide](https://example.com/guide) explains it.

Run `python -m pytest -q -p no:cacheprovider tests/unit/test_api.py` to check.
"""


def test_a_typical_reply_reads_as_plain_sentences() -> None:
    said = speakable(REPLY)
    assert said == (
        "Test results. I ran pytest and two tests failed in test_api.py: "
        "The login handler returns 500. See for details. Fix app/handlers/login.py first. "
        "Note: the migration guide explains it. Run to check."
    )


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("Use `uv sync` now.", "Use uv sync now."),
        ("Run `" + "x" * 31 + "` now.", "Run now."),
        ("See <https://example.com/a?b=c> or www.example.com/x.", "See or."),
        ("Docs: https://example.com/a_b, then rest.", "Docs:, then rest."),
        ("![diagram](img.png) Done.", "Done."),
        ("***Very*** __bold__ and ~~gone~~ _it_", "Very bold and gone it"),
        ("snake_case_name and test_api.py stay", "snake_case_name and test_api.py stay"),
        ("2 * 3 * 4 = 24", "2 * 3 * 4 = 24"),
        ("<details>Hidden <b>bold</b></details>", "Hidden bold"),
        ("a\n\n---\n\nb", "a b"),
        ("~~~\ncode\n~~~\nAfter.", "After."),
        (
            "Run this:\n\n    rm -rf build\n\n    make all\n\nThen it works.",
            "Run this: Then it works.",
        ),
        ("    code first\n\nAfter.", "After."),
        ("- one\n\n    more on one\n- two", "one. more on one two."),  # a list item's text
        ("Text\n    continued, no blank line before", "Text continued, no blank line before"),
    ],
)
def test_markdown_is_collapsed(markdown: str, expected: str) -> None:
    assert speakable(markdown) == expected


@pytest.mark.parametrize(
    "markdown",
    ["", "   ", "```\nprint('hi')\n```", "| a | b |\n|---|---|\n| 1 | 2 |", "https://x.io", "---"],
)
def test_nothing_speakable_is_empty(markdown: str) -> None:
    assert speakable(markdown) == ""


def test_an_unclosed_code_fence_drops_the_rest() -> None:
    assert speakable("Here it is.\n```python\nwhile True:\n    pass\n") == "Here it is."


def test_long_text_is_cut_at_a_sentence_end_under_the_limit() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(100))
    said = speakable(text, limit=100)
    assert len(said) <= 100
    assert said.endswith("is here.")
    assert said.startswith("Sentence number 0")


def test_a_long_sentence_is_cut_at_a_word_with_an_ellipsis() -> None:
    said = speakable("word " * 200, limit=50)
    assert len(said) <= 50
    assert said.endswith("…")
    assert "wor…" not in said


def test_short_text_is_untouched_by_the_limit() -> None:
    assert speakable("All tests pass.", limit=600) == "All tests pass."
