"""acceptEdits and "Always" edit rules never cover files that make programs run later."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from voice_agent.policy.calls import is_edit_inside_cwd
from voice_agent.policy.edit_guard import auto_edit_refused, runs_code_later
from voice_agent.policy.rules import derive_rule
from voice_agent.sessions import PendingPermission, PermissionHandler, StickyApproval


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = (tmp_path / "project").resolve()
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("print('hi')\n")
    (root / ".git" / "hooks").mkdir(parents=True)
    (root / ".git" / "config").write_text("[core]\n\thooksPath = scripts/hooks\n")
    (root / "scripts" / "hooks").mkdir(parents=True)
    bare = root / "vendor" / "lib.git"  # a bare repository committed into the project
    (bare / "objects").mkdir(parents=True)
    (bare / "refs").mkdir()
    (bare / "HEAD").write_text("ref: refs/heads/main\n")
    (bare / "config").write_text("[core]\n\tbare = true\n")
    half = root / "vendor" / "half"  # objects/ and refs/: one file short of a repository
    (half / "objects").mkdir(parents=True)
    (half / "refs").mkdir()
    venv = root / "env"
    (venv / "lib").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (root / ".claude").mkdir()
    (root / "cl").symlink_to(".claude")
    (root / "gl").symlink_to(".git")
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "l").symlink_to("a/b/c")
    return root


RUN_LATER = [
    ".claude/settings.json",
    ".claude/settings.local.json",
    ".claude/hooks/check.sh",
    ".mcp.json",
    ".git/config",
    ".git/hooks/pre-commit",
    ".git/info/attributes",
    ".gitattributes",
    ".gitmodules",
    ".gitconfig",
    ".github/workflows/ci.yml",
    "src/.gitattributes",
    "vendor/lib.git/config",
    "vendor/lib.git/hooks/post-checkout",
    "vendor/lib.git/info/attributes",
    "vendor/half/config",
    "vendor/half/HEAD",
    "scripts/hooks/pre-commit",  # core.hooksPath of the project's repository
    ".envrc",
    ".direnv/python/bin/activate",
    ".husky/pre-commit",
    ".pre-commit-config.yaml",
    "lefthook.yml",
    ".vscode/tasks.json",
    ".vscode/settings.json",
    ".devcontainer/devcontainer.json",
    ".idea/workspace.xml",
    ".yarnrc.yml",
    ".pnpmfile.cjs",
    ".cargo/config.toml",
    "mise.toml",
    ".bashrc",
    "src/sitecustomize.py",
    "site.pth",
    "env/lib/python3.12/site-packages/x.py",  # inside a virtualenv
    "node_modules/left-pad/index.js",
    ".CLAUDE/settings.json",  # case-insensitive file systems
    ".Git/config",
    "src/../.mcp.json",
    "cl/settings.json",  # a symlink to .claude
    "gl/hooks/pre-push",  # a symlink to .git
]


@pytest.mark.parametrize("path", RUN_LATER)
def test_accept_edits_never_covers_files_that_run_code_later(project: Path, path: str) -> None:
    assert runs_code_later(path, str(project))
    assert not is_edit_inside_cwd("Write", {"file_path": path}, str(project))
    assert not is_edit_inside_cwd("Edit", {"file_path": str(project / path)}, str(project))


@pytest.mark.parametrize("path", RUN_LATER)
def test_sticky_edit_rules_never_cover_them_either(project: Path, path: str) -> None:
    tree = derive_rule("Write", {"file_path": "src/app.py"}, str(project))
    assert tree.matches("Write", {"file_path": "src/other.py"}, str(project))
    assert not tree.matches("Write", {"file_path": path}, str(project))
    stored_everything = StickyApproval("Write")  # a tool-wide rule from an older store
    assert not stored_everything.matches("Write", {"file_path": path}, str(project))


@pytest.mark.parametrize(
    "path", ["src/app.py", "src/new/module.py", "README.md", "docs/guide.md", "l/x.py"]
)
def test_accept_edits_covers_ordinary_files(project: Path, path: str) -> None:
    assert not runs_code_later(path, str(project))
    assert is_edit_inside_cwd("Write", {"file_path": path}, str(project))
    assert is_edit_inside_cwd("Edit", {"file_path": str(project / path)}, str(project))


def test_symlinked_file_and_hard_link_count_as_their_target(project: Path) -> None:
    (project / ".claude" / "settings.json").write_text("{}\n")
    (project / "src" / "settings.json").symlink_to(project / ".claude" / "settings.json")
    hook = project / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\n")
    os.link(hook, project / "src" / "hook.sh")
    for path in ("src/settings.json", "src/hook.sh"):
        assert runs_code_later(path, str(project)), path
        assert not is_edit_inside_cwd("Write", {"file_path": path}, str(project)), path


def test_text_and_physical_paths_must_both_stay_inside(project: Path) -> None:
    # l -> a/b/c: by text l/../../x is outside the project, physically it is a/x
    assert not is_edit_inside_cwd("Write", {"file_path": "l/../../x.py"}, str(project))
    assert not is_edit_inside_cwd("Write", {"file_path": "../x.py"}, str(project))


def test_secret_files_are_refused(project: Path) -> None:
    for path in (".env", "prod.env", "deploy/id_rsa", "config/secrets.yml"):
        assert auto_edit_refused(path, str(project)), path
        assert not is_edit_inside_cwd("Write", {"file_path": path}, str(project)), path


def test_outside_file_rule_still_refuses_run_later_files(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    rule = derive_rule("Write", {"file_path": str(other / "notes.md")}, str(project))
    assert rule.matches("Write", {"file_path": str(other / "notes.md")}, str(project))
    assert not rule.matches("Write", {"file_path": str(other / "other.md")}, str(project))
    bashrc = derive_rule("Write", {"file_path": str(other / ".bashrc")}, str(project))
    assert not bashrc.matches("Write", {"file_path": str(other / ".bashrc")}, str(project))


async def test_accept_edits_mode_asks_for_claude_settings(project: Path) -> None:
    handler = PermissionHandler(cwd=str(project))
    handler.permission_mode = "acceptEdits"
    asked: list[PendingPermission] = []

    async def on_request(request: PendingPermission) -> None:
        asked.append(request)
        handler.deny("no", request.request_id)

    handler.on_request = on_request
    assert await handler.request_permission("Write", {"file_path": "src/x.py"}) == (True, None)
    approved, _ = await handler.request_permission("Write", {"file_path": ".claude/settings.json"})
    assert approved is False
    assert [r.input_data["file_path"] for r in asked] == [".claude/settings.json"]


def test_a_hooks_path_with_a_cr_in_it_is_still_guarded(project: Path) -> None:
    # git's value is "hooks<CR>x", one directory name; a text-mode read would see "hooks".
    (project / ".git" / "config").write_bytes(b"[core]\n\thooksPath = hooks\rx\n")
    assert runs_code_later("hooks\rx/pre-commit", str(project))
