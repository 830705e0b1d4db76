"""Choices under an AskUserQuestion prompt: single and multi-select questions, bad presses."""

from __future__ import annotations

from typing import Any

from voice_agent.sessions.pending import PendingPermission
from voice_agent.telegram.approval_view import DONE, Choices, answers_for, question_keyboard


def _request() -> PendingPermission:
    def question(text: str, labels: list[str], multi: bool) -> dict[str, Any]:
        options = [{"label": label, "description": ""} for label in labels]
        return {"question": text, "options": options, "multiSelect": multi}

    questions = [question("Which DB?", ["SQLite", "Postgres"], False)]
    questions.append(question("Extras?", ["Cache", "Metrics", "Tracing"], True))
    return PendingPermission("AskUserQuestion", {"questions": questions})


def test_single_and_multi_select_answers() -> None:
    request, choices = _request(), Choices()
    assert choices.press(request, 0, "1")
    assert answers_for(request, choices) is None
    assert choices.press(request, 1, "2")
    assert choices.press(request, 1, "0")
    assert answers_for(request, choices) is None  # a multi-select waits for Done
    assert choices.press(request, 1, DONE)
    assert answers_for(request, choices) == {"Which DB?": "Postgres", "Extras?": "Cache, Tracing"}
    assert choices.press(request, 1, "0")  # changing a multi-select reopens it
    assert answers_for(request, choices) is None


def test_presses_that_name_nothing_change_nothing() -> None:
    request, choices = _request(), Choices()
    assert not choices.press(request, 1, DONE)  # nothing picked yet
    assert not choices.press(request, 0, DONE)  # a single choice has no Done
    assert not choices.press(request, 0, "7")
    assert not choices.press(request, 5, "0")
    assert not choices.press(request, 0, "-1")
    assert choices == Choices()


def test_keyboard_marks_choices_and_offers_done_for_multi_select() -> None:
    request, choices = _request(), Choices()
    choices.press(request, 1, "1")
    rows = [
        [button.text for button in row]
        for row in question_keyboard(request, choices).inline_keyboard
    ]
    assert rows == [
        ["SQLite", "Postgres"],
        ["Cache", "✅ Metrics", "Tracing"],
        ["☑️ Done"],
        ["✖️ Skip"],
    ]
