"""diff_image: a diff drawn like a code review, wide enough to read on a phone."""

from __future__ import annotations

from io import BytesIO

from PIL import Image

from voice_agent.edit_preview import planned_diff
from voice_agent.telegram.diff_image import (
    _LINE,
    _TINTS,
    MAX_ROWS,
    _syntax,
    diff_png,
    parse_diff,
    render_diff,
)

OLD = "".join(f"def f{n}(x: int) -> int:\n    return x + {n}\n\n" for n in range(30))
NEW = OLD.replace("return x + 4\n", "return x * 4\n").replace("def f7(x: int)", "def f7(x: float)")


def _diff() -> str:
    diff = planned_diff("Write", {"content": NEW}, "src/maths.py", OLD)
    assert diff is not None
    return diff


def _image(data: bytes | None) -> Image.Image:
    assert data is not None
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(BytesIO(data)).convert("RGB")


def _count(image: Image.Image, colour: tuple[int, int, int]) -> int:
    histogram = image.getcolors(maxcolors=1 << 20)
    assert histogram is not None
    return sum(count for count, rgb in histogram if rgb == colour)


def test_rows_carry_the_files_line_numbers_and_the_changed_words() -> None:
    parsed = parse_diff(_diff())
    assert parsed.name == "src/maths.py"
    assert (parsed.added, parsed.removed) == (2, 2)
    removed = next(r for r in parsed.rows if r.kind == "del")
    added = next(r for r in parsed.rows if r.kind == "add")
    assert (removed.old, removed.new, added.old, added.new) == (14, None, None, 14)
    assert [removed.text[a:b] for a, b in removed.marks] == ["+"]
    assert [added.text[a:b] for a, b in added.marks] == ["*"]
    first = parsed.rows[1]
    assert (first.kind, first.old, first.new) == ("ctx", 11, 11)


def test_the_picture_is_wide_tinted_and_in_syntax_colours() -> None:
    image = _image(render_diff(_diff()))
    width, height = image.size
    assert width >= 1000
    assert height < 4 * width  # a phone shows it whole
    line, gutter, words = _TINTS["add"]
    assert _count(image, line) > 1000
    assert _count(image, gutter) > 100
    assert _count(image, words) > 50  # the changed word's stronger tint
    removed_line, _, removed_words = _TINTS["del"]
    assert _count(image, removed_line) > 1000
    assert _count(image, removed_words) > 50
    keyword = (0, 128, 0)  # Pygments' default style colours `def` green
    assert _count(image, keyword) > 20


def test_a_long_diff_is_cut_with_a_note_and_long_lines_wrap() -> None:
    many = "\n".join(["--- a/x.py", "+++ b/x.py", "@@ -1,200 +1,0 @@"] + ["-x = 1"] * 200)
    tall = _image(render_diff(many))
    assert tall.size[1] <= (MAX_ROWS + 4) * _LINE  # cut: "… 131 more lines"
    single = _image(render_diff("\n".join(["@@ -1 +1 @@", "-x = 1", "+y = 2"])))
    wide = _image(render_diff("\n".join(["@@ -1 +1 @@", "-" + "a" * 250, "+" + "b" * 250])))
    assert wide.size[0] < 1400  # wrapped at MAX_COLUMNS, not a 3,000-pixel strip
    assert wide.size[1] == single.size[1] + 4 * _LINE  # each line in three pieces


def test_approval_pictures_come_for_long_changes_only() -> None:
    def edit(old: str, new: str) -> dict[str, object]:
        return {"file_path": "/code/maths.py", "old_string": old, "new_string": new}

    block = "".join(f"def f{n}(x: int) -> int:\n    return x + {n}\n\n" for n in range(3, 9))
    long_edit = edit(block, block.replace("x + ", "x - "))
    assert diff_png("Edit", long_edit, "/code", OLD) is not None
    assert diff_png("Edit", long_edit, "/code", None) is not None  # the snippets alone
    one_line = edit("    return x + 4\n", "    return x * 4\n")
    assert diff_png("Edit", one_line, "/code", OLD) is None  # the prompt's text says it all
    assert diff_png("Write", {"file_path": "/code/maths.py", "content": OLD}, "/code", None)
    short = {"file_path": "/code/a.txt", "content": "one\n"}
    assert diff_png("Write", short, "/code", None) is None
    assert diff_png("Bash", {"command": "ls"}, "/code", None) is None


def test_an_added_line_is_coloured_in_the_context_of_the_new_file() -> None:
    # A line changed inside a docstring is string-coloured on both sides: the new side
    # is lexed with its context lines, not alone.
    old = 'def f() -> None:\n    """Start.\n\n    first line\n    """\n'
    new = old.replace("first line", "second line")
    diff = planned_diff("Write", {"content": new}, "a.py", old)
    assert diff is not None
    parsed = parse_diff(diff)
    _syntax(parsed.rows, "a.py")
    removed = next(r for r in parsed.rows if r.kind == "del")
    added = next(r for r in parsed.rows if r.kind == "add")
    assert removed.colours
    assert [rgb for _, rgb, _ in added.colours] == [rgb for _, rgb, _ in removed.colours]
