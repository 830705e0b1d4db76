"""Reading Claude Code's transcripts (``/resume all``): bounded, head only, the real directory."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from voice_agent.sessions import transcripts
from voice_agent.sessions.transcripts import (
    Transcript,
    project_folder,
    projects_dir,
    read_transcript,
    recent_transcripts,
    resumable_here,
)
from voice_agent.telegram.callbacks import Kind
from voice_agent.telegram.offers import OfferTable
from voice_agent.telegram.resume_all import Choice, Pick, ShowPage, age, page_view, shown


def _write(root: Path, cwd: str, records: list[dict[str, Any]], mtime: float) -> Path:
    folder = root / project_folder(cwd)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4()}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    os.utime(path, (mtime, mtime))
    return path


def _conversation(cwd: str, prompt: str) -> list[dict[str, Any]]:
    """Records shaped like the bundled CLI's (2.1.33x): queue operations, then the prompt."""
    return [
        {"type": "queue-operation", "operation": "enqueue", "content": prompt},
        {"type": "queue-operation", "operation": "dequeue"},
        {
            "parentUuid": None,
            "isSidechain": False,
            "type": "user",
            "message": {"role": "user", "content": prompt},
            "cwd": cwd,
        },
        {"type": "attachment", "cwd": cwd, "attachment": {"type": "environment"}},
        {"type": "last-prompt", "lastPrompt": prompt},
    ]


def test_the_directory_is_read_from_the_records_not_the_lossy_folder_name(tmp_path: Path) -> None:
    spaced, nested = tmp_path / "side project", tmp_path / "side" / "project"
    assert project_folder(str(spaced)) == project_folder(str(nested))  # the folder can't tell
    first = _write(tmp_path / "projects", str(spaced), _conversation(str(spaced), "one"), 1000)
    found = read_transcript(first)
    assert found == Transcript(first.stem, str(spaced), "one", 1000, first)


def test_newest_first_one_per_id_and_skips_what_is_no_conversation(tmp_path: Path) -> None:
    root = tmp_path / "projects"
    old = _write(root, "/code/api", _conversation("/code/api", "old  one\nspread"), 1000)
    new = _write(root, "/code/web", _conversation("/code/web", "new one"), 3000)
    _write(root, "/code/web", [{"type": "queue-operation"}], 4000)  # no prompt
    side = _conversation("/code/web", "a sub-agent's")
    side[0]["isSidechain"] = True
    _write(root, "/code/web", side, 5000)
    meta = _conversation("/code/x", "<command-name>/clear</command-name>")
    _write(root, "/code/x", meta, 6000)
    (root / "-code-web" / "not-a-uuid.jsonl").write_text("{}\n")
    listed = recent_transcripts(root)
    assert [(t.path, t.first_prompt) for t in listed] == [(new, "new one"), (old, "old one spread")]
    assert recent_transcripts(root, limit=1) == listed[:1]
    assert recent_transcripts(tmp_path / "nowhere") == []


def test_the_prompt_skips_tool_results_meta_and_command_echoes(tmp_path: Path) -> None:
    cwd = "/code/api"
    records: list[dict[str, Any]] = [
        {"type": "user", "isMeta": True, "message": {"content": "caveat"}, "cwd": cwd},
        {"type": "user", "message": {"content": "<local-command-stdout>x</local-command-stdout>"}},
        {"type": "user", "message": {"content": [{"type": "tool_result", "content": "t"}]}},
        {"type": "user", "message": {"content": [{"type": "text", "text": "fix   the bug"}]}},
    ]
    path = _write(tmp_path, cwd, records, 1)
    found = read_transcript(path)
    assert found is not None
    assert found.first_prompt == "fix the bug"


def test_only_the_head_is_read_and_only_the_newest_files_are_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "projects"
    late = _conversation("/code/api", "too late")
    big = [{"type": "attachment", "padding": "x" * transcripts.HEAD_BYTES}, *late]
    long_first = _write(root, "/code/api", big, 10)
    found = read_transcript(long_first)  # a record longer than the head is skipped past
    assert found is not None
    assert found.first_prompt == "too late"
    with monkeypatch.context() as patch:
        patch.setattr(transcripts, "SCAN_BYTES", transcripts.HEAD_BYTES + 100)
        assert read_transcript(long_first) is None  # the prompt lies past the bytes read
    for n in range(5):
        _write(root, "/code/api", _conversation("/code/api", f"prompt {n}"), 100 + n)
    opened: list[Path] = []
    real = transcripts.read_transcript

    def counting(path: Path) -> Transcript | None:
        opened.append(path)
        return real(path)

    monkeypatch.setattr(transcripts, "read_transcript", counting)
    listed = recent_transcripts(root, scan=3)
    assert [t.first_prompt for t in listed] == ["prompt 4", "prompt 3", "prompt 2"]
    assert len(opened) == 3
    monkeypatch.setattr(transcripts, "MAX_FILES", 2)
    assert len(recent_transcripts(root)) <= 2


def test_resumable_only_from_the_folder_of_its_own_directory(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    here = _write(tmp_path / "projects", str(work), _conversation(str(work), "hi"), 1)
    found = read_transcript(here)
    assert found is not None
    assert resumable_here(found)
    moved = tmp_path / "projects" / "-elsewhere" / here.name
    moved.parent.mkdir()
    here.rename(moved)
    elsewhere = read_transcript(moved)
    assert elsewhere is not None
    assert not resumable_here(elsewhere)


def test_projects_dir_follows_the_cli_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    assert projects_dir({"CLAUDE_CONFIG_DIR": "/c"}) == Path("/c/projects")
    assert projects_dir({"HOME": "/h"}) == Path("/h/.claude/projects")
    assert projects_dir() == Path.home() / ".claude" / "projects"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path))
    assert projects_dir({"HOME": "/h"}) == tmp_path / "projects"


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (-3, "just now"),
        (2, "just now"),
        (40, "40 s ago"),
        (300, "5 min ago"),
        (7300, "2 h ago"),
        (86400, "1 day ago"),
        (3 * 86400 + 5, "3 days ago"),
    ],
)
def test_age(seconds: float, said: str) -> None:
    assert age(seconds) == said


def test_shown_prompts_hide_secrets_and_hidden_characters() -> None:
    text = "use sk-ant-api03-abcdefghijkl and token=hunter2 \u202eevil"
    assert shown(text, 200) == "use [redacted] and token=[redacted] \\u202eevil"
    assert shown("a" * 50, 10) == "a" * 9 + "…"


def test_the_listing_pages_five_at_a_time_and_marks_fresh_and_own_conversations() -> None:
    listing = tuple(
        Transcript(str(uuid.uuid4()), f"/code/p{n}", f"<prompt {n}>", 10_000 - 100 * n, Path("x"))
        for n in range(7)
    )
    table: OfferTable[Choice] = OfferTable(Kind.RESUME_ALL)
    text, markup = page_view(table, 1, listing, 0, 10_010, listing[1].session_id)
    rows = [[(b.text, b.callback_data) for b in row] for row in markup.inline_keyboard]
    assert [row[0][0] for row in rows[:5]] == [f"{n + 1}. <prompt {n}>" for n in range(5)]
    assert "(1–5 of 7)" in text
    assert "1. <b>&lt;prompt 0&gt;</b>\n    📁 /code/p0 · 10 s ago · 🟢 open in a terminal?" in text
    assert "2. <b>&lt;prompt 1&gt;</b> ◀ this session\n    📁 /code/p1 · 1 min ago\n" in text
    assert [label for label, _ in rows[5]] == ["Older ▶"]
    assert table.lookup(1, str(rows[0][0][1])) == Pick(listing[0])
    older = table.lookup(1, str(rows[5][0][1]))
    assert older == ShowPage(listing, 1)
    text, markup = page_view(table, 1, listing, 1, 10_010, None)
    assert "(6–7 of 7)" in text
    labels = [b.text for row in markup.inline_keyboard for b in row]
    assert labels == ["6. <prompt 5>", "7. <prompt 6>", "◀ Newer", "Cancel"]


def test_a_user_record_longer_than_the_head_gives_the_start_of_its_prompt(tmp_path: Path) -> None:
    pasted = 'paste: "quoted" \\ é 🎉\n' * transcripts.HEAD_BYTES
    for content in (pasted, [{"type": "text", "text": pasted}]):
        records = _conversation("/code/api", "unused")
        records[2] = {**records[2], "message": {"role": "user", "content": content}}
        found = read_transcript(_write(tmp_path / str(len(content)), "/code/api", records, 1))
        assert found is not None
        assert found.first_prompt.startswith('paste: "quoted" \\ é 🎉 paste:')
        assert found.cwd == "/code/api"
