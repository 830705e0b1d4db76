"""What the directory keyboard offers (roots, hidden and secret names, symlinks, pages)."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_agent.telegram.callbacks import Kind, encode
from voice_agent.telegram.dir_listing import Entry, Roots, page_of, subdirectories
from voice_agent.telegram.offers import OfferTable


@pytest.fixture
def work(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    for name in ("Beta", "alpha", "gamma/inner", ".git", ".hidden", "aws-credentials", "id_rsa"):
        (root / name).mkdir(parents=True)
    (root / "file.txt").write_text("x")
    (tmp_path / "outside").mkdir()
    (root / "out").symlink_to(tmp_path / "outside")
    (root / "in").symlink_to(root / "gamma")
    (root / "dangling").symlink_to(tmp_path / "missing")
    return root


def test_subdirectories_leave_out_hidden_secret_files_and_symlinks_out_of_the_roots(
    work: Path,
) -> None:
    roots = Roots.of(work)
    found = subdirectories(work, roots)
    assert found == [
        Entry("alpha", work / "alpha"),
        Entry("Beta", work / "Beta"),
        Entry("gamma", work / "gamma"),
        Entry("in", work / "gamma"),  # a symlink inside the roots opens its target
    ]
    assert subdirectories(work / "missing", roots) == []
    assert len(subdirectories(work, roots, limit=2)) <= 2


def test_roots_offer_nothing_outside_and_nothing_hidden_below_a_root(
    work: Path, tmp_path: Path
) -> None:
    project = tmp_path / ".config-like" / "project"  # hidden above its root: fine
    project.mkdir(parents=True)
    roots = Roots.of(work, [project, work])
    assert roots.paths == (work.resolve(), project.resolve())
    assert roots.offers(work / "alpha")
    assert roots.offers(project)
    assert not roots.offers(work / ".git")
    assert not roots.offers(work / "gamma" / ".venv")
    assert not roots.offers(work / "aws-credentials")
    assert not roots.offers(tmp_path)
    assert not roots.offers(tmp_path / "outside")
    assert roots.usable(work / "out") is None  # resolves outside
    assert roots.usable(work / "in") == work / "gamma"
    assert roots.usable(work / "gone") is None
    assert roots.start(tmp_path / "outside") == work  # opens at DEFAULT_CWD instead
    assert roots.start(work / "alpha") == work / "alpha"


def test_dot_dot_stops_at_a_root_and_nested_roots_go_up_to_the_outer_one(tmp_path: Path) -> None:
    code = tmp_path / "code"
    api = code / "api"
    other = tmp_path / "other"
    for path in (api / "src", other / "lib"):
        path.mkdir(parents=True)
    roots = Roots.of(code, [api, other])
    assert roots.parent(api / "src") == api
    assert roots.parent(api) == code  # the project lies inside DEFAULT_CWD
    assert roots.parent(code) is None
    assert roots.parent(other / "lib") == other
    assert roots.parent(other) is None
    assert roots.root_of(api / "src") == api


@pytest.mark.parametrize(
    ("number", "items", "page", "pages"),
    [
        (0, [0, 1, 2], 0, 3),
        (2, [6, 7, 8], 2, 4),
        (3, [9], 3, 4),
        (9, [9], 3, 4),
        (-1, [0, 1, 2], 0, 4),
    ],
)
def test_pages(number: int, items: list[int], page: int, pages: int) -> None:
    count = 9 if pages == 3 else 10
    assert page_of(list(range(count)), number, 3) == (items, page, pages)


def test_an_empty_listing_is_one_empty_page() -> None:
    assert page_of([], 5, 8) == ([], 0, 1)


def test_offer_tokens_are_short_per_chat_and_forgotten_when_old() -> None:
    table: OfferTable[str] = OfferTable(Kind.DIRECTORY, keep=2)
    first = table.offer(1, ["/a/very/long/path" * 10, "b"])
    assert all(len(d.encode()) <= 64 and "path" not in d for d in first)
    assert [table.lookup(1, d) for d in first] == ["/a/very/long/path" * 10, "b"]
    assert table.lookup(2, first[0]) is None  # another chat's keyboard
    assert table.lookup(1, first[0].replace(".0", ".7")) is None  # no such button
    assert table.lookup(1, encode(Kind.RESUME_ALL, first[0].split(":", 1)[1])) is None
    assert table.lookup(1, None) is None
    assert table.lookup(1, "dz:forged.0") is None
    table.offer(1, ["c"])
    assert table.lookup(1, first[1]) == "b"
    table.offer(1, ["d"])
    assert table.lookup(1, first[1]) is None  # the oldest keyboard is out of date
