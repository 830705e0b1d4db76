"""workdir_diff: a working tree's uncommitted changes from real git, secrets left out, bounded."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from voice_agent import workdir_diff
from voice_agent.workdir_diff import WorkdirDiff, file_diff, working_tree_diff

GIT = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com"]


def git(repo: Path, *args: str) -> None:
    subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    (root / "app.py").write_text("".join(f"line {n}\n" for n in range(1, 11)))
    (root / "notes.txt").write_text("old note\n")
    (root / ".env").write_text("TOKEN=committed\n")
    git(root, "add", ".")
    git(root, "commit", "-qm", "first")
    return root


def _diff(cwd: Path) -> WorkdirDiff:
    found = working_tree_diff(str(cwd))
    assert isinstance(found, WorkdirDiff), found
    return found


def test_staged_unstaged_and_untracked_changes_secrets_left_out(repo: Path) -> None:
    (repo / "app.py").write_text((repo / "app.py").read_text().replace("line 5", "line five"))
    git(repo, "add", "app.py")
    (repo / "notes.txt").write_text("new note\n")
    (repo / "fresh.md").write_text("# Fresh\n")
    (repo / ".env").write_text("TOKEN=CANARY-changed\n")
    (repo / "id_rsa").write_text("CANARY-untracked-key\n")
    (repo / "sub").mkdir()
    found = _diff(repo / "sub")  # from a directory inside the tree too
    files = {f.path: f for f in found.files}
    assert list(files) == ["app.py", "notes.txt", "fresh.md"]
    assert (files["app.py"].staged, files["app.py"].unstaged) == (True, False)
    assert (files["notes.txt"].staged, files["notes.txt"].unstaged) == (False, True)
    assert (files["app.py"].added, files["app.py"].removed) == (1, 1)
    assert files["fresh.md"].untracked
    assert found.untracked == found.untracked_shown == 1
    assert sorted(found.left_out) == [".env", "id_rsa"]
    assert "+line five" in found.text
    assert "+new note" in found.text
    assert "+++ b/fresh.md\n@@ -0,0 +1 @@\n+# Fresh\n" in found.text
    assert "CANARY" not in found.text
    one = file_diff(str(repo), "notes.txt")
    assert not isinstance(one, str)
    assert "-old note\n+new note" in one.text
    assert "app.py" not in one.text
    assert isinstance(file_diff(str(repo), ".env"), str)
    new = file_diff(str(repo), "fresh.md")
    assert not isinstance(new, str)
    assert "+# Fresh" in new.text
    git(repo, "checkout", "notes.txt")
    assert file_diff(str(repo), "notes.txt") == "notes.txt has no uncommitted changes now"


def test_untracked_links_show_their_target_never_the_file(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "private.txt"
    outside.write_text("CANARY-outside\n")
    os.symlink(outside, repo / "looks-harmless.txt")
    found = _diff(repo)
    assert "new file mode 120000" in found.text
    assert str(outside) in found.text
    assert "CANARY" not in found.text


def test_no_changes_and_no_repository(repo: Path, tmp_path: Path) -> None:
    assert _diff(repo).files == ()
    assert working_tree_diff(str(tmp_path)) == f"{tmp_path} is not in a git repository"


def test_a_repository_before_its_first_commit(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("a\n")
    git(tmp_path, "add", "a.txt")
    (tmp_path / "b.txt").write_text("b\n")
    found = _diff(tmp_path)
    assert [(f.path, f.status, f.staged) for f in found.files] == [
        ("a.txt", "added", True),
        ("b.txt", "untracked", False),
    ]


def test_a_config_that_names_a_program_is_refused_unrun(repo: Path, tmp_path: Path) -> None:
    trap = tmp_path / "trap-ran"
    git(repo, "config", "filter.evil.clean", f"touch {trap}; cat")
    (repo / ".gitattributes").write_text("*.py filter=evil\n")
    (repo / "app.py").write_text("changed\n")
    found = working_tree_diff(str(repo))
    assert isinstance(found, str)
    assert "names a program" in found
    assert not trap.exists()


def test_a_huge_diff_is_cut_and_says_so(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workdir_diff, "DOCUMENT_LIMIT", 4096)
    (repo / "app.py").write_text("".join(f"changed line {n}\n" for n in range(2000)))
    for n in range(3):
        (repo / f"new{n}.txt").write_text("x\n")
    found = _diff(repo)
    assert found.cut
    assert len(found.text.encode()) <= 4096
    assert found.untracked == 3
    assert found.untracked_shown == 0
