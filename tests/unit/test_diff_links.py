"""DiffLinks: the short tokens /diff buttons carry, bounded, refused in another chat."""

from __future__ import annotations

from voice_agent.telegram.callbacks import Kind, decode, encode
from voice_agent.telegram.diff_links import DiffLinks, DiffList


def test_a_token_names_its_list_in_its_own_chat_only() -> None:
    links = DiffLinks()
    shown = DiffList(1, "/code/api", ("a" * 300, "src/app.py"))
    token = links.add(shown)
    assert links.get(token, 1) == shown
    assert links.get(token, 2) is None
    assert links.get("nonsense", 1) is None
    data = encode(Kind.DIFF_FILE, f"{token}.29")  # a long path never reaches the data
    assert len(data.encode()) <= 20
    assert decode(data) is not None


def test_old_lists_are_forgotten() -> None:
    links = DiffLinks(limit=2)
    first = links.add(DiffList(1, "/a"))
    second = links.add(DiffList(1, "/b"))
    third = links.add(DiffList(1, "/c"))
    assert links.get(first, 1) is None
    assert links.get(second, 1) is not None
    assert links.get(third, 1) is not None
