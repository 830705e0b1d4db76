"""Markdown → Telegram text + entities, split into messages (``voice_agent.telegram.render``)."""

from __future__ import annotations

import random

import pytest
import telegramify_markdown
from telegram import MessageEntity

from voice_agent.telegram.render import (
    TELEGRAM_LIMIT,
    Chunk,
    render,
    render_plain,
    split_for_streaming,
    utf16_len,
)

# -- helpers ------------------------------------------------------------------------------


def _squash(text: str) -> str:
    """The text without whitespace: chunking may only trim whitespace at the cuts."""
    return "".join(text.split())


def _code_point_offsets(text: str) -> set[int]:
    """UTF-16 offsets that fall between two code points (where an entity may start or end)."""
    offsets = {0}
    total = 0
    for char in text:
        total += 2 if ord(char) > 0xFFFF else 1
        offsets.add(total)
    return offsets


def _assert_valid(chunks: list[Chunk], limit: int) -> None:
    for chunk in chunks:
        size = utf16_len(chunk.text)
        assert 0 < size <= limit
        assert chunk.text.strip(), "blank chunk"
        assert chunk.plain() == chunk.text
        chunk.text.encode("utf-16-le")  # strict: no lone surrogate, no split pair
        boundaries = _code_point_offsets(chunk.text)
        for entity in chunk.entities:
            assert isinstance(entity, MessageEntity)
            assert entity.length > 0
            assert entity.offset >= 0
            assert entity.offset + entity.length <= size, (chunk.text, entity)
            assert entity.offset in boundaries
            assert entity.offset + entity.length in boundaries


def _types(chunks: list[Chunk]) -> set[str]:
    return {str(entity.type) for chunk in chunks for entity in chunk.entities}


_WORDS = "the quick brown fox jumps over lazy dogs while Claude edits src files".split()
_DECOR = ["😀", "🚀", "日本語", "naïve", "𝔘𝔫𝔦", "👩‍💻"]


def _paragraph(rng: random.Random, words: int) -> str:
    out: list[str] = []
    for _ in range(words):
        word = rng.choice(_WORDS)
        roll = rng.random()
        if roll < 0.06:
            word = f"**{word}**"
        elif roll < 0.12:
            word = f"*{word}*"
        elif roll < 0.18:
            word = f"`{word}()`"
        elif roll < 0.22:
            word = f"[{word}](https://example.com/{word})"
        elif roll < 0.30:
            word = rng.choice(_DECOR)
        out.append(word)
    return " ".join(out) + "."


def _code(rng: random.Random, lines: int, language: str = "python") -> str:
    body = "\n".join(
        f"{'    ' * rng.randint(0, 2)}value_{i} = compute({i}, '{rng.choice(_DECOR)}')"
        for i in range(lines)
    )
    return f"```{language}\n{body}\n```"


def _table(rng: random.Random, rows: int) -> str:
    lines = ["| Name | Size | Note |", "|---|---:|---|"]
    lines += [
        f"| {rng.choice(_WORDS)}_{i} | {rng.randint(1, 10 ** rng.randint(1, 6))} | "
        f"{' '.join(rng.choices(_WORDS, k=rng.randint(1, 6)))} |"
        for i in range(rows)
    ]
    return "\n".join(lines)


def _block(rng: random.Random) -> str:
    kind = rng.choice(["para", "para", "heading", "list", "code", "table", "quote", "numbered"])
    if kind == "para":
        return _paragraph(rng, rng.randint(5, 120))
    if kind == "heading":
        return f"{'#' * rng.randint(1, 3)} {_paragraph(rng, 4)}"
    if kind == "list":
        return "\n".join(
            f"- {_paragraph(rng, rng.randint(2, 15))}" for _ in range(rng.randint(2, 8))
        )
    if kind == "numbered":
        return "\n".join(
            f"{i}. {_paragraph(rng, rng.randint(2, 12))}" for i in range(1, rng.randint(3, 7))
        )
    if kind == "code":
        return _code(rng, rng.randint(1, 30), rng.choice(["python", "bash", "rust", ""]))
    if kind == "table":
        return _table(rng, rng.randint(1, 8))
    return "\n".join(f"> {_paragraph(rng, rng.randint(3, 20))}" for _ in range(rng.randint(1, 3)))


def _blocks(rng: random.Random, count: int) -> list[str]:
    """Random blocks; a list is always followed by a paragraph (two lists in a row would be
    one list for CommonMark, numbered on, while separate messages number each)."""
    out: list[str] = []
    while len(out) < count:
        out.append(_block(rng))
        if out[-1][:2] in {"- ", "1."}:
            out.append(_paragraph(rng, 8))
    return out


def _document(seed: int, blocks: int) -> str:
    return "\n\n".join(_blocks(random.Random(seed), blocks))


def _long_answer(target: int = 20_000) -> str:
    rng = random.Random(2024)
    parts: list[str] = ["# Answer"]
    while sum(map(len, parts)) < target:
        parts += _blocks(rng, 1)
    return "\n\n".join(parts)


# -- formatting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markdown", "entity_type", "covered", "extra"),
    [
        ("some **bold** text", "bold", "bold", {}),
        ("some *italic* text", "italic", "italic", {}),
        ("some _italic_ text", "italic", "italic", {}),
        ("call `foo()` now", "code", "foo()", {}),
        ("~~gone~~ here", "strikethrough", "gone", {}),
        ("see [the docs](https://example.com/a?b=1)", "text_link", "the docs", {}),
        ("```python\nprint('hi')\n```", "pre", "print('hi')", {"language": "python"}),
        ("~~~rust\nfn main() {}\n~~~", "pre", "fn main() {}", {"language": "rust"}),
        ("```\nplain code\n```", "pre", "plain code", {"language": None}),
        ("> quoted words", "blockquote", "quoted words", {}),
        ("# A heading", "bold", "A heading", {}),
        ("**bold 😀 emoji** after", "bold", "bold 😀 emoji", {}),
    ],
)
def test_formatting_becomes_entities(
    markdown: str, entity_type: str, covered: str, extra: dict[str, object]
) -> None:
    chunks = render(markdown)
    assert len(chunks) == 1
    (chunk,) = chunks
    matches = [e for e in chunk.entities if e.type == entity_type]
    assert matches, chunk
    entity = matches[0]
    units = chunk.text.encode("utf-16-le")
    start, end = entity.offset * 2, (entity.offset + entity.length) * 2
    assert units[start:end].decode("utf-16-le") == covered
    if entity_type == "text_link":
        assert entity.url == "https://example.com/a?b=1"
    for name, value in extra.items():
        assert getattr(entity, name) == value
    assert "*" not in chunk.text  # no markup left behind
    assert "`" not in chunk.text


def test_a_full_answer_keeps_every_kind_of_formatting() -> None:
    markdown = (
        "## Plan\n\nI will **edit** `app.py` and *test* it ([docs](https://docs.python.org)).\n\n"
        "- first\n- second\n\n1. one\n2. two\n\n```bash\npytest -q\n```\n\n> note\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    chunks = render(markdown)
    _assert_valid(chunks, TELEGRAM_LIMIT)
    assert _types(chunks) >= {"bold", "italic", "code", "text_link", "pre", "blockquote"}
    pres = [e for c in chunks for e in c.entities if e.type == "pre"]
    assert [p.language for p in pres] == ["bash", None]  # the code block, then the table


def test_tables_become_a_monospace_block() -> None:
    (chunk,) = render("| Name | Size |\n|---|---|\n| a.py | 10 |\n| long_name.py | 2000 |")
    assert chunk.text.splitlines() == [
        "Name         | Size",
        "-------------+-----",
        "a.py         | 10  ",
        "long_name.py | 2000",
    ]
    assert [(e.type, e.offset, e.length) for e in chunk.entities] == [
        ("pre", 0, utf16_len(chunk.text))
    ]


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://example.com/x", True),
        ("http://localhost:8080/", True),
        ("tg://user?id=42", True),
        ("src/voice_agent/app.py", False),
        ("#section", False),
        ("javascript:alert(1)", False),
        ("https://", False),
    ],
)
def test_links_telegram_would_refuse_keep_only_their_text(url: str, kept: bool) -> None:
    (chunk,) = render(f"open [the file]({url}) now")
    assert chunk.text == "open the file now"
    links = [e for e in chunk.entities if e.type == "text_link"]
    assert bool(links) is kept
    if kept:
        assert links[0].url == url


def test_chunk_equality_sees_urls_and_languages() -> None:
    a = Chunk("x", (MessageEntity("text_link", 0, 1, url="https://a.example"),))
    b = Chunk("x", (MessageEntity("text_link", 0, 1, url="https://b.example"),))
    assert a != b
    assert a == Chunk("x", (MessageEntity("text_link", 0, 1, url="https://a.example"),))
    assert hash(a) == hash(b)  # equal keys are a subset; hashing may collide
    assert Chunk("y") == Chunk("y", ())


# -- sizes and splitting --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "units"),
    [("", 0), ("abc", 3), ("é", 1), ("日本", 2), ("😀", 2), ("a😀b", 4), ("👩‍💻", 5)],
)
def test_utf16_len(text: str, units: int) -> None:
    assert utf16_len(text) == units


def test_a_20000_character_answer_splits_into_full_ordered_chunks() -> None:
    markdown = _long_answer(20_000)
    assert len(markdown) >= 20_000
    chunks = render(markdown)
    _assert_valid(chunks, TELEGRAM_LIMIT)
    assert len(chunks) >= 4
    whole_text, _ = telegramify_markdown.convert(markdown)
    assert _squash("".join(c.text for c in chunks)) == _squash(whole_text)
    # Messages are reasonably full: only the last may be short.
    assert all(utf16_len(c.text) > TELEGRAM_LIMIT // 2 for c in chunks[:-1])


@pytest.mark.parametrize(
    "line",
    [
        "word " * 2000,  # 10,000 characters, no line break
        "x" * 10_000,  # not even a space
        "**bold** and `code` " * 500,
    ],
    ids=["words", "one-token", "formatted"],
)
def test_a_10000_character_line_still_splits(line: str) -> None:
    chunks = render(line)
    _assert_valid(chunks, TELEGRAM_LIMIT)
    assert len(chunks) >= 2
    whole_text, _ = telegramify_markdown.convert(line)
    assert _squash("".join(c.text for c in chunks)) == _squash(whole_text)


def test_a_6000_character_code_block_becomes_several_pre_chunks() -> None:
    code = "\n".join(f"result_{i:04d} = transform(data[{i}])  # step" for i in range(150))
    assert len(code) > 6000
    chunks = render(f"Here it is:\n\n```python\n{code}\n```\n\nDone.")
    _assert_valid(chunks, TELEGRAM_LIMIT)
    code_chunks = [c for c in chunks if any(e.type == "pre" for e in c.entities)]
    assert len(code_chunks) >= 2
    for chunk in code_chunks:
        pres = [e for e in chunk.entities if e.type == "pre"]
        assert [p.language for p in pres] == ["python"]
    # Every code line is in a pre entity, in order, exactly once.
    shown: list[str] = []
    for chunk in code_chunks:
        (pre,) = [e for e in chunk.entities if e.type == "pre"]
        units = chunk.text.encode("utf-16-le")
        shown += (
            units[pre.offset * 2 : (pre.offset + pre.length) * 2].decode("utf-16-le").split("\n")
        )
    assert [line for line in shown if line] == code.split("\n")


@pytest.mark.parametrize("limit", [TELEGRAM_LIMIT, 4095, 101, 3, 2])
@pytest.mark.parametrize(
    "text",
    ["😀" * 5000, "a😀" * 3000, "😀 " * 3000, "👩‍💻👍🏽" * 800],
    ids=["emoji", "alternating", "spaced", "sequences"],
)
def test_surrogate_pairs_are_never_split(text: str, limit: int) -> None:
    for chunks in (render(text, limit), render_plain(text, limit)):
        _assert_valid(chunks, limit)
        assert _squash("".join(c.text for c in chunks)) == _squash(text)


def test_lone_surrogates_are_replaced() -> None:
    for chunks in (render("a\ud83d b"), render_plain("a\ud83d b")):
        assert [c.text for c in chunks] == ["a\ufffd b"]
        _assert_valid(chunks, TELEGRAM_LIMIT)
    # A pair held as two code points is one character again.
    assert render_plain("\ud83d\ude00")[0].text == "😀"


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("limit", [64, 333, TELEGRAM_LIMIT])
def test_entities_stay_inside_their_chunks(seed: int, limit: int) -> None:
    markdown = _document(seed, blocks=25)
    if seed % 3 == 0:  # a long single line, and a code block longer than the limit
        rng = random.Random(seed)
        markdown += "\n\n" + _paragraph(rng, 1500) + "\n\n" + _code(rng, 200)
    chunks = render(markdown, limit)
    _assert_valid(chunks, limit)
    whole_text, _ = telegramify_markdown.convert(markdown)
    assert _squash("".join(c.text for c in chunks)) == _squash(whole_text)


@pytest.mark.parametrize(
    ("markdown", "code", "language"),
    [
        ("Run this:\n\n```bash\nls -la\necho done", "ls -la\necho done", "bash"),
        ("```py\ndef f():\n    return 1\n", "def f():\n    return 1", "py"),
        ("Text then\n```\nno language", "no language", None),
    ],
)
def test_an_unclosed_fence_is_code_to_the_end(
    markdown: str, code: str, language: str | None
) -> None:
    chunks = render(markdown)
    last = chunks[-1]
    pre = next(e for e in last.entities if e.type == "pre")
    assert pre.language == language
    units = last.text.encode("utf-16-le")
    assert units[pre.offset * 2 : (pre.offset + pre.length) * 2].decode("utf-16-le") == code
    assert pre.offset + pre.length == utf16_len(last.text)


def test_unclosed_inline_markup_stays_literal() -> None:
    (chunk,) = render("an **unfinished thought and [a link](https://exa")
    assert chunk.text == "an **unfinished thought and [a link](https://exa"
    assert chunk.entities == ()


@pytest.mark.parametrize("text", ["", " ", "\n\n\n", " \t \n  \r\n", "\u3000\n"])
def test_blank_input_gives_no_chunks(text: str) -> None:
    assert render(text) == []
    assert render_plain(text) == []
    assert split_for_streaming(text) == ([], None)


def test_a_too_small_limit_is_refused() -> None:
    for function in (render, render_plain, split_for_streaming):
        with pytest.raises(ValueError, match="at least 2"):
            function("text", 1)


def test_the_library_failing_falls_back_to_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("parser exploded")

    monkeypatch.setattr(telegramify_markdown, "convert", broken)
    chunks = render("**a fallback-only input** " + "word " * 30, 50)
    assert chunks == render_plain("**a fallback-only input** " + "word " * 30, 50)
    assert chunks[0].text.startswith("**a fallback-only input**")


# -- plain text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, ["short"]),
        ("abc def", 4, ["abc", "def"]),
        ("abc def", 3, ["abc", "def"]),  # the space after a full chunk is the cut
        ("abcd\nef gh", 8, ["abcd", "ef gh"]),  # a line break beats a later space...
        ("ab\ncd ef", 6, ["ab\ncd", "ef"]),  # ...unless it leaves the chunk under half full
        ("one two\nthree", 9, ["one two", "three"]),
        ("abcdefgh", 3, ["abc", "def", "gh"]),  # no boundary: hard cut at the limit
        ("a😀b", 2, ["a", "😀", "b"]),
        ("😀😀😀", 3, ["😀", "😀", "😀"]),
        ("word  \n\n\n  next", 5, ["word", "next"]),  # never a blank chunk
        ("  indented\nline", 20, ["  indented\nline"]),  # leading spaces are kept
        ("x\n\n\ny", 1000, ["x\n\n\ny"]),
    ],
)
def test_render_plain_boundaries(text: str, limit: int, expected: list[str]) -> None:
    chunks = render_plain(text, limit)
    assert [c.text for c in chunks] == expected
    assert all(c.entities == () for c in chunks)
    _assert_valid(chunks, limit)


def test_render_plain_covers_a_long_text() -> None:
    rng = random.Random(7)
    text = "\n".join(_paragraph(rng, rng.randint(0, 400)) for _ in range(120))
    chunks = render_plain(text, 500)
    _assert_valid(chunks, 500)
    assert _squash("".join(c.text for c in chunks)) == _squash(text)
    assert all(utf16_len(c.text) > 200 for c in chunks[:-1])  # cuts keep chunks about half full


# -- streaming ------------------------------------------------------------------------------


def _streaming_answer(seed: int) -> str:
    """An answer with every shape that gets split: long code, tables, lists, lines."""
    rng = random.Random(seed)
    return "\n\n".join(
        [
            "# Streaming",
            _paragraph(rng, 40),
            "Here is the code:\n```python\n" + _code(rng, 60)[10:],  # fence after a paragraph
            _table(rng, 40),  # a table longer than the limit while it grows
            _paragraph(rng, 200),  # one long line with inline markup
            "\n".join(f"- {_paragraph(rng, 10)}" for _ in range(25)),
            *_blocks(rng, 12),
            "Trailing code, never closed:\n\n```bash\n"
            + "\n".join(f"echo {i} {rng.choice(_DECOR)}" for i in range(80)),
        ]
    )


def _check_growth(markdown: str, limit: int, steps: list[int]) -> int:
    """Feed growing prefixes; return how many chunks got frozen on the way."""
    frozen: list[Chunk] = []
    position = 0
    for step in steps:
        position = min(len(markdown), position + step)
        prefix = markdown[:position]
        complete, tail = split_for_streaming(prefix, limit)
        assert complete[: len(frozen)] == frozen, f"a frozen chunk changed at {position}"
        full = render(prefix, limit)
        assert full[: len(complete)] == complete
        assert tail == (full[len(complete)] if len(full) > len(complete) else None)
        _assert_valid([*complete, *([tail] if tail else [])], limit)
        frozen = complete
        if position == len(markdown):
            break
    final = render(markdown, limit)
    assert final[: len(frozen)] == frozen
    return len(frozen)


@pytest.mark.parametrize("seed", range(3))
def test_complete_chunks_never_change_as_the_answer_grows(seed: int) -> None:
    markdown = _streaming_answer(seed)
    rng = random.Random(seed)
    steps = [rng.randint(1, 23) for _ in range(len(markdown))]
    assert _check_growth(markdown, 400, steps) > 10


def test_complete_chunks_never_change_character_by_character() -> None:
    markdown = _streaming_answer(99)[:2500]
    assert _check_growth(markdown, 300, [1] * len(markdown)) > 5


def test_streaming_a_20000_character_answer_at_telegram_size() -> None:
    markdown = _long_answer(20_000) + "\n\n```python\n" + _code(random.Random(1), 300)[10:]
    rng = random.Random(3)
    steps = [rng.randint(20, 200) for _ in range(len(markdown))]
    assert _check_growth(markdown, TELEGRAM_LIMIT, steps) >= 4


def test_a_code_block_being_written_is_frozen_piece_by_piece() -> None:
    lines = [f"line_{i:03d} = {i}" for i in range(100)]
    markdown = "```python\n" + "\n".join(lines)
    complete, tail = split_for_streaming(markdown, 200)
    # Finished code lines are final; only the pieces that the last line could still
    # reach are held back.
    assert len(complete) >= 5
    full = render(markdown, 200)
    assert full[: len(complete)] == complete
    assert len(full) - len(complete) <= 2
    assert tail == full[len(complete)]
    for chunk in full:
        assert [(e.type, e.language) for e in chunk.entities] == [("pre", "python")]
        assert chunk.entities[0].length == utf16_len(chunk.text)
    assert "\n".join(c.text for c in full) == "\n".join(lines)


def test_a_growing_table_is_not_frozen_until_it_ends() -> None:
    table = _table(random.Random(5), 60)
    complete, tail = split_for_streaming("Intro.\n\n" + table, 300)
    assert [c.text for c in complete] == ["Intro."]  # columns may still widen
    assert tail is not None
    assert utf16_len(tail.text) <= 300
    complete, _ = split_for_streaming("Intro.\n\n" + table + "\n\nAfter.", 300)
    assert len(complete) > 5  # closed: now frozen, in full


def test_split_for_streaming_on_a_short_answer() -> None:
    assert split_for_streaming("Hello **there**") == ([], render("Hello **there**")[0])
    complete, tail = split_for_streaming("para one\n\npara two", 10)
    assert [c.text for c in complete] == ["para one"]
    assert tail == Chunk("para two")
