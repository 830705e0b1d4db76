"""edit_preview: an Edit's diff where it is in the file (real line numbers), read safely."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from voice_agent.edit_preview import MAX_FILE_BYTES, planned_diff, read_target, snippet_diff
from voice_agent.terminal.approval_text import describe_request

FILE = "".join(f"line {n}\n" for n in range(1, 21))


def _edit(old: str, new: str, **extra: object) -> dict[str, object]:
    return {"file_path": "/code/x.txt", "old_string": old, "new_string": new, **extra}


def test_an_edit_of_lines_3_to_10_says_so_with_three_lines_of_context() -> None:
    old = "".join(f"line {n}\n" for n in range(3, 11))
    new = old.replace("line 5\n", "line five\n").replace("line 9\n", "line nine\n")
    diff = planned_diff("Edit", _edit(old, new), "x.txt", FILE)
    assert diff is not None
    assert diff.splitlines() == [
        "--- a/x.txt",
        "+++ b/x.txt",
        "@@ -2,11 +2,11 @@",
        " line 2",
        " line 3",
        " line 4",
        "-line 5",
        "+line five",
        " line 6",
        " line 7",
        " line 8",
        "-line 9",
        "+line nine",
        " line 10",
        " line 11",
        " line 12",
    ]


def test_far_apart_changes_make_two_hunks_with_their_own_numbers() -> None:
    edits = [
        {"old_string": "line 2\n", "new_string": "line two\n"},
        {"old_string": "line 18\n", "new_string": "line eighteen\nand more\n"},
    ]
    diff = planned_diff("MultiEdit", {"edits": edits}, "x.txt", FILE)
    assert diff is not None
    headers = [line for line in diff.splitlines() if line.startswith("@@")]
    assert headers == ["@@ -1,5 +1,5 @@", "@@ -15,6 +15,7 @@"]


def test_later_edits_apply_to_what_earlier_ones_left() -> None:
    edits = [
        {"old_string": "line 4\n", "new_string": "line 4b\n"},
        {"old_string": "line 4b\n", "new_string": "line 4c\n"},
    ]
    diff = planned_diff("MultiEdit", {"edits": edits}, "x.txt", FILE)
    assert diff is not None
    assert "+line 4c" in diff.splitlines()
    assert "+line 4b" not in diff.splitlines()


def test_replace_all_changes_every_occurrence() -> None:
    text = "a = 1\nb = 2\na = 3\n"
    diff = planned_diff("Edit", _edit("a =", "z =", replace_all=True), "x.py", text)
    assert diff is not None
    assert [line for line in diff.splitlines() if line.startswith("+")][1:] == [
        "+z = 1",
        "+z = 3",
    ]


@pytest.mark.parametrize(
    ("old", "text"),
    [("not in the file", FILE), ("line 3", None), ("", FILE)],
)
def test_no_placed_diff_when_it_cannot_be_placed(old: str, text: str | None) -> None:
    assert planned_diff("Edit", _edit(old, "x"), "x.txt", text) is None


def test_the_snippet_diff_is_the_fallback() -> None:
    assert snippet_diff("x.txt", "a\nb\n", "a\nc\n").splitlines()[2] == "@@ -1,2 +1,2 @@"


def test_a_write_is_diffed_against_the_old_file_or_all_added() -> None:
    write = {"file_path": "/code/x.txt", "content": FILE.replace("line 7\n", "seven\n")}
    over = planned_diff("Write", write, "x.txt", FILE)
    assert over is not None
    assert "@@ -4,7 +4,7 @@" in over.splitlines()
    new = planned_diff("Write", {"content": "a\nb\n"}, "x.txt", None)
    assert new is not None
    assert new.splitlines()[2:] == ["@@ -0,0 +1,2 @@", "+a", "+b"]


def test_a_large_file_is_cheap_to_place_an_edit_in() -> None:
    big = "".join(f"row {n}\n" for n in range(200_000))
    diff = planned_diff("Edit", _edit("row 150000\n", "changed\n"), "big.txt", big)
    assert diff is not None
    assert "@@ -149998,7 +149998,7 @@" in diff.splitlines()


def test_read_target_reads_inside_the_working_directory_only(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "app.py").write_text(FILE)
    (work / ".env").write_text("TOKEN=1\n")
    (work / "big.txt").write_bytes(b"x" * (MAX_FILE_BYTES + 1))
    (work / "bin.dat").write_bytes(b"\0\1\2")
    outside = tmp_path / "outside.txt"
    outside.write_text("private\n")
    os.symlink(outside, work / "link.txt")
    cwd = str(work)

    def read(path: str) -> str | None:
        return read_target("Edit", {"file_path": path}, cwd)

    assert read(str(work / "app.py")) == FILE
    assert read("app.py") == FILE  # relative to the working directory
    for refused in (".env", "big.txt", "bin.dat", "link.txt", str(outside), "missing.py"):
        assert read(refused) is None, refused
    assert read_target("Bash", {"file_path": "app.py"}, cwd) is None
    assert read_target("Edit", {"file_path": "app.py"}, None) is None


def test_the_terminal_shows_the_same_placed_diff() -> None:
    old = "line 3\nline 4\n"
    text = describe_request("Edit", _edit(old, "line III\nline 4\n"), "/code", FILE)
    assert "  @@ -1,6 +1,6 @@" in text.splitlines()
    assert "   line 6" in text.splitlines()
    fallback = describe_request("Edit", _edit(old, "line III\nline 4\n"), "/code", None)
    assert "  @@ -1,2 +1,2 @@" in fallback.splitlines()


def test_a_placed_preview_is_made_where_the_file_is_and_bounded(tmp_path: Path) -> None:
    from voice_agent.edit_preview import MAX_PLACED_BYTES, placed_preview

    target = tmp_path / "app.py"
    target.write_text("".join(f"line {n}\n" for n in range(1, 11)))
    edit = {"file_path": str(target), "old_string": "line 6\n", "new_string": "line six\n"}
    placed = placed_preview("Edit", edit, str(tmp_path))
    assert placed is not None
    assert placed.startswith("--- a/app.py\n+++ b/app.py\n@@ -3,7 +3,7 @@\n line 3\n")
    assert placed_preview("Edit", edit, str(tmp_path / "elsewhere")) is None  # outside cwd
    assert placed_preview("Bash", {"command": "ls"}, str(tmp_path)) is None
    missing = {**edit, "old_string": "no such line\n"}
    assert placed_preview("Edit", missing, str(tmp_path)) is None
    huge = {"file_path": str(target), "content": "x\n" * (MAX_PLACED_BYTES // 2)}
    assert placed_preview("Write", huge, str(tmp_path)) is None  # too long to send
