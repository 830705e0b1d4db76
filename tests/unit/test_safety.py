"""Unit tests for the auto-approval helpers in voice_agent.policy.bash."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_agent.policy.bash import (
    is_safe_bash_command,
    is_safe_read_call,
    is_secret_path,
    is_within,
    simple_commands,
    tree_has_secrets,
)
from voice_agent.policy.bash_parse import parse_script


@pytest.fixture
def project(tmp_path: Path) -> Path:
    proj = tmp_path / "proj"
    (proj / "src").mkdir(parents=True)
    (proj / "src" / "app.py").write_text("print('TODO')\n")
    (proj / "README.md").write_text("# demo\n")
    (proj / "nb.ipynb").write_text("{}\n")
    return proj


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    out.mkdir()
    (out / "data.txt").write_text("x\n")
    return out


# --- is_secret_path ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "~/.ssh/id_rsa",
        "/home/u/.ssh/config",
        ".gnupg/pubring.kbx",
        ".aws/credentials",
        ".kube/config",
        ".docker/config.json",
        ".password-store/x.gpg",
        "/home/u/.config/gcloud/application_default_credentials.json",
        ".env",
        "sub/.env",
        ".env.local",
        ".env.production",
        ".ENV",
        "server.pem",
        "tls.key",
        "cert.p12",
        "cert.pfx",
        "vault.kdbx",
        "id_rsa",
        "id_rsa.pub",
        "id_dsa",
        "id_ecdsa",
        "id_ed25519",
        ".netrc",
        ".npmrc",
        ".pypirc",
        ".git-credentials",
        "credentials.json",
        "client_SECRET.txt",
        "secrets/db.yaml",
        ".htpasswd",
        "app.keystore",
        "app.jks",
        "/etc/shadow",
        ".bash_history",
        ".zsh_history",
    ],
)
def test_secret_paths(path: str) -> None:
    assert is_secret_path(path)


@pytest.mark.parametrize(
    "path",
    [
        ".env.example",
        ".env.sample",
        ".env.template",
        ".env.dist",
        "README.md",
        "src/app.py",
        ".config/nvim/init.lua",
        "environment.yml",
        "keys.py",
        "monkey.txt",
        "",
        ".",
    ],
)
def test_non_secret_paths(path: str) -> None:
    assert not is_secret_path(path)


# --- is_within -----------------------------------------------------------------------


def test_is_within(project: Path, outside: Path) -> None:
    roots = [str(project)]
    assert is_within(str(project), roots)
    assert is_within(str(project / "src" / "app.py"), roots)
    assert is_within(str(project / "missing" / "file"), roots)
    assert not is_within(str(project / ".." / "outside"), roots)
    assert not is_within(str(outside / "data.txt"), roots)
    assert not is_within(str(project) + "-evil", roots)
    assert is_within(str(outside / "data.txt"), [str(project), str(outside)])


def test_is_within_follows_symlinks(project: Path, outside: Path) -> None:
    (project / "out").symlink_to(outside, target_is_directory=True)
    assert not is_within(str(project / "out" / "data.txt"), [str(project)])


# --- tree_has_secrets ------------------------------------------------------------------


def test_tree_without_secrets(project: Path) -> None:
    assert not tree_has_secrets(str(project))


def test_tree_with_secret_file(project: Path) -> None:
    (project / "src" / ".env").write_text("K=1\n")
    assert tree_has_secrets(str(project))
    assert tree_has_secrets(str(project / "src"))


def test_tree_with_secret_dir(project: Path) -> None:
    (project / ".aws").mkdir()
    assert tree_has_secrets(str(project))


@pytest.mark.parametrize("vendor", [".git", "node_modules", ".venv", "__pycache__"])
def test_tree_skips_no_vendor_dir(project: Path, vendor: str) -> None:
    # grep -r reads these directories too: a secret inside one counts.
    (project / vendor / "deep").mkdir(parents=True)
    assert not tree_has_secrets(str(project))
    (project / vendor / "deep" / "credentials.json").write_text("{}")
    assert tree_has_secrets(str(project))


def test_tree_limit(project: Path) -> None:
    for i in range(10):
        (project / f"f{i}.txt").write_text("")
    assert tree_has_secrets(str(project), limit=5)
    assert not tree_has_secrets(str(project), limit=100)


def test_tree_symlink_out_counts(project: Path, outside: Path) -> None:
    (project / "out").symlink_to(outside, target_is_directory=True)
    assert tree_has_secrets(str(project))


def test_tree_of_a_file(project: Path) -> None:
    assert not tree_has_secrets(str(project / "README.md"))


# --- is_safe_read_call -----------------------------------------------------------------


def test_read_tool(project: Path) -> None:
    cwd = str(project)
    assert is_safe_read_call("Read", {"file_path": "./src/app.py"}, cwd)
    assert is_safe_read_call("Read", {"file_path": str(project / "README.md")}, cwd)
    assert not is_safe_read_call("Read", {"file_path": str(Path.home() / ".ssh/id_rsa")}, cwd)
    assert not is_safe_read_call("Read", {"file_path": "~/.ssh/id_rsa"}, cwd)
    assert not is_safe_read_call("Read", {"file_path": "/etc/passwd"}, cwd)
    assert not is_safe_read_call("Read", {"file_path": "../outside/data.txt"}, cwd)
    assert not is_safe_read_call("Read", {}, cwd)
    assert not is_safe_read_call("Read", {"file_path": 3}, cwd)


def test_read_secret_in_cwd(project: Path) -> None:
    (project / ".env").write_text("K=1\n")
    (project / "alias.txt").symlink_to(project / ".env")
    cwd = str(project)
    assert not is_safe_read_call("Read", {"file_path": "./.env"}, cwd)
    assert not is_safe_read_call("Read", {"file_path": "alias.txt"}, cwd)


def test_read_extra_roots(project: Path, outside: Path) -> None:
    data = {"file_path": str(outside / "data.txt")}
    assert not is_safe_read_call("Read", data, str(project))
    assert is_safe_read_call("Read", data, str(project), [str(outside)])


def test_read_default_cwd(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    assert is_safe_read_call("Read", {"file_path": "README.md"}, None)


def test_notebook_and_ls(project: Path) -> None:
    cwd = str(project)
    assert is_safe_read_call("NotebookRead", {"notebook_path": "nb.ipynb"}, cwd)
    assert not is_safe_read_call("NotebookRead", {"notebook_path": "/etc/x.ipynb"}, cwd)
    assert is_safe_read_call("LS", {}, cwd)
    assert is_safe_read_call("LS", {"path": str(project / "src")}, cwd)
    assert not is_safe_read_call("LS", {"path": "/"}, cwd)
    assert not is_safe_read_call("LS", {"path": "~/.ssh"}, cwd)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"pattern": "**/*.py"}, True),
        ({"pattern": "src/*.py", "path": "src"}, True),
        ({"pattern": "/etc/*"}, False),
        ({"pattern": "../**/*"}, False),
        ({"pattern": "~/.ssh/*"}, False),
        ({"pattern": "{src,/etc}/*"}, False),
        ({"pattern": "*", "path": "/etc"}, False),
        ({"pattern": 5}, False),
    ],
)
def test_glob_tool(project: Path, data: dict[str, object], expected: bool) -> None:
    assert is_safe_read_call("Glob", data, str(project)) is expected


def test_glob_absolute_inside(project: Path) -> None:
    assert is_safe_read_call("Glob", {"pattern": f"{project}/src/*.py"}, str(project))


def test_grep_tool(project: Path) -> None:
    cwd = str(project)
    assert is_safe_read_call("Grep", {"pattern": "TODO"}, cwd)
    assert is_safe_read_call("Grep", {"pattern": "TODO", "path": "src", "glob": "*.py"}, cwd)
    (project / ".env").write_text("K=1\n")
    assert not is_safe_read_call("Grep", {"pattern": "K"}, cwd)
    assert not is_safe_read_call("Grep", {"pattern": "K", "path": "."}, cwd)
    assert is_safe_read_call("Grep", {"pattern": "K", "path": "src"}, cwd)
    assert not is_safe_read_call("Grep", {"pattern": "K", "path": ".env"}, cwd)
    assert not is_safe_read_call("Grep", {"pattern": "K", "path": "/etc"}, cwd)
    assert not is_safe_read_call("Grep", {"pattern": "K", "path": "src", "glob": "/etc/*"}, cwd)


def test_unknown_tools_are_not_safe(project: Path) -> None:
    for tool in ("WebFetch", "WebSearch", "Bash", "Write", "Edit", "Task", "read"):
        assert not is_safe_read_call(tool, {"file_path": "README.md", "url": "x"}, str(project))


# --- simple_commands ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("ls -la", [["ls", "-la"]]),
        ("npm test && git status | head -5", [["npm", "test"], ["git", "status"], ["head", "-5"]]),
        ("grep 'a b' \"c d\" e\\ f", [["grep", "a b", "c d", "e f"]]),
        ("ls; pwd\necho x", [["ls"], ["pwd"], ["echo", "x"]]),
        ("npm test 2>&1 >/dev/null", [["npm", "test"]]),
        ("cat < in.txt", [["cat"]]),
        ("rm -rf build", [["rm", "-rf", "build"]]),
        ("echo *.py", [["echo", "*.py"]]),
    ],
)
def test_simple_commands(command: str, expected: list[list[str]]) -> None:
    assert simple_commands(command) == expected


@pytest.mark.parametrize(
    "command",
    [
        "",
        "ls &",
        "ls |& cat",
        "echo $(id)",
        "echo `id`",
        "echo $HOME",
        "FOO=1 npm test",
        "npm test > out.txt",
        "npm test 2> err.txt",
        "(npm test)",
        "{ npm test; }",
        "if true; then npm test; fi",
        "cat <<EOF\nx\nEOF",
        "echo {a,b}",
        "ls ~",
        "diff <(ls) x",
        "echo $'\\x41'",
    ],
)
def test_simple_commands_rejects(command: str) -> None:
    assert simple_commands(command) is None


# --- parser internals worth pinning --------------------------------------------------


def test_words_keep_quoting_for_globs() -> None:
    commands = parse_script("cat 'a*'\"b\"c\\ d* '*.py'")
    assert commands is not None
    glob_word, literal = commands[0].words[1:]
    assert glob_word.value == "a*bc d*"
    assert glob_word.glob == "a[*]bc d*"
    assert literal.value == "*.py"
    assert literal.glob is None


def test_parse_script_marks_pipelines() -> None:
    commands = parse_script("cd src && ls | wc -l")
    assert commands is not None
    assert [c.piped for c in commands] == [False, True, True]


def test_bash_command_default_cwd(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    assert is_safe_bash_command("cat README.md")
    assert not is_safe_bash_command("cat ../outside/data.txt")


def test_cdpath_makes_relative_cd_unsafe(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDPATH", "/etc")
    assert not is_safe_bash_command("cd src && ls", cwd=str(project))
    assert is_safe_bash_command("cd ./src && ls", cwd=str(project))
