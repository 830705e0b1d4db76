"""How ``bench.voice`` scores a transcript: words alike in form count as right, others not."""

from __future__ import annotations

import pytest

from bench.voice import errors, misses, strict_errors


@pytest.mark.parametrize(
    ("said", "heard"),
    [
        ("run eslint on the frontend", "Run eslint on the front end."),
        ("open the front end", "Open the frontend."),
        ("open a pull request on GitHub", "Open a pull request on git hub."),
        ("please summarise the last answer", "Please summarize the last answer."),
        ("open pyproject dot toml", "Open pyproject.toml."),
        ("go forward ten meters", "Go forward 10 meters."),
    ],
)
def test_a_word_written_another_way_is_right(said: str, heard: str) -> None:
    assert errors(said, heard) == 0
    assert errors(heard, said) == 0  # the same both ways


def test_the_strict_figure_still_counts_spacing() -> None:
    assert strict_errors("run eslint on the frontend", "Run eslint on the front end.") == 2
    assert strict_errors("open pyproject dot toml", "Open pyproject.toml.") == 0


@pytest.mark.parametrize(
    ("said", "heard", "count"),
    [
        ("approve", "Approved.", 1),  # another word, not another spelling
        ("grep the logs for errors", "Ramp the logs for errors.", 1),
        ("show me the changelog", "Show me the chains on.", 2),
        ("read me the first paragraph", "README.md first paragraph.", 2),  # "dot md"
    ],
)
def test_a_different_word_is_an_error(said: str, heard: str, count: int) -> None:
    assert errors(said, heard) == count


def test_misses_are_aligned_spans() -> None:
    assert misses("run eslint and prettier", "run as lint, and pridir.") == [
        (["eslint"], ["as", "lint"]),
        (["prettier"], ["pridir"]),
    ]
    assert misses("approve", "approve.") == []
