"""``sessions export -o`` writes its file in one step; ``audit --json`` hides no control."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from voice_agent.ops import admin


def _fail(fd: int) -> None:
    raise OSError(28, "No space left on device")


def test_a_failed_export_leaves_the_old_file_whole_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "out.json"
    old.write_text("the last export\n")
    monkeypatch.setattr(os, "fsync", _fail)
    with pytest.raises(OSError, match="No space left"):
        admin._write_whole(str(old), '{"7": {}}\n')
    assert old.read_text() == "the last export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_an_export_through_a_symlink_replaces_the_file_it_names(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old\n")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    admin._write_whole(str(link), "new\n")
    assert link.is_symlink()
    assert real.read_text() == "new\n"


def test_json_lines_escape_what_a_terminal_would_obey() -> None:
    value = {"s": "\x1b[2K \x7f \x9b2J \u202e caf\u00e9 \U0001f600 \U000e0001"}
    line = admin._json_line(value)
    assert not [c for c in line if c in "\x1b\x7f\x9b\u202e\U000e0001"]
    assert "café 😀" in line  # ordinary text stays readable
    assert json.loads(line) == value
