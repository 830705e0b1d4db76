"""Holes of issue 11 in the read-only checker, each closed by a general rule.

Every test builds a real tree (symlinks, bare repositories, committed secrets)
under a temporary home holding canary secrets, and asks the checker about the
command that went through before. The everyday commands at the end must still
pass in a normal project.
"""

from __future__ import annotations

import mmap
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import claude_agent_sdk
import pytest

from voice_agent.policy import bash_programs, git_history, git_repo, paths
from voice_agent.policy.bash import (
    is_safe_bash_command,
    is_safe_read_call,
    is_secret_path,
    is_within,
    tree_has_secrets,
)

Git = Callable[..., str]


@pytest.fixture(scope="module")
def git(tmp_path_factory: pytest.TempPathFactory) -> Git:
    """Run git with a clean configuration (no system or user config)."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path_factory.mktemp("git-home")),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@e.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e.invalid",
    }

    def run(cwd: Path, *args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
        )
        return done.stdout

    return run


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _home(base: Path) -> Path:
    """A home with canary secrets; the project goes to ``home/proj``."""
    home = base / "home"
    _write(
        home,
        {
            ".config/gh/hosts.yml": "oauth_token: CANARY\n",
            ".ssh/id_rsa": "CANARY\n",
            "notes.txt": "CANARY private notes\n",
        },
    )
    return home


def _project(home: Path, git: Git) -> Path:
    """A normal project: its own git repository, ``src/``, no secret under ``src``."""
    proj = home / "proj"
    _write(
        proj,
        {
            "README.md": "# demo\n",
            "a.txt": "b\na\n",
            "b.txt": "c\n",
            "f": "line\n",
            "patterns.txt": "TODO\n",
            "list.txt": "README.md\n",
            "src/app.py": "print('TODO')\n",
            "src/util.py": "X = 1\n",
            "tests/test_app.py": "def test(): pass\n",
        },
    )
    git(proj, "init", "-q")
    git(proj, "add", ".")
    git(proj, "commit", "-qm", "init")
    _write(proj, {"src/app.py": "print('TODO, changed')\n"})
    return proj


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return _home(tmp_path)


@pytest.fixture
def project(home: Path, git: Git) -> Path:
    return _project(home, git)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, git: Git) -> Path:
    """A normal project shared by the tests that only read it."""
    return _project(_home(tmp_path_factory.mktemp("shared")), git)


def safe(command: str, cwd: Path, extra_roots: tuple[str, ...] = ()) -> bool:
    return is_safe_bash_command(command, str(cwd), extra_roots)


def read(tool: str, cwd: Path, **data: object) -> bool:
    return is_safe_read_call(tool, data, str(cwd))


# --- cd and paths, by text and physically -------------------------------------------


def _link(project: Path) -> Path:
    """``l -> a/b/c`` and pnpm-style ``node_modules/pkg -> .pnpm/pkg@1/node_modules/pkg``."""
    (project / "a/b/c").mkdir(parents=True)
    (project / "l").symlink_to("a/b/c", target_is_directory=True)
    real_pkg = project / "node_modules/.pnpm/pkg@1/node_modules/pkg"
    real_pkg.mkdir(parents=True)
    (real_pkg / "index.js").write_text("x\n")
    (project / "node_modules/pkg").symlink_to(
        ".pnpm/pkg@1/node_modules/pkg", target_is_directory=True
    )
    return project


@pytest.fixture
def linked(project: Path) -> Path:
    return _link(project)


@pytest.fixture(scope="module")
def shared_linked(tmp_path_factory: pytest.TempPathFactory, git: Git) -> Path:
    return _link(_project(_home(tmp_path_factory.mktemp("linked")), git))


@pytest.mark.parametrize(
    "command",
    [
        "cd l/../.. && cat .config/gh/hosts.yml",
        "cd l/../.. && cat notes.txt",
        "cd l/../..",
        "cd l && cd ../.. && cat notes.txt",
        "cd l && cat ../../../notes.txt",
        "cat l/../../notes.txt",
        "ls l/../..",
        "cd node_modules/pkg/../../.. && cat notes.txt",
        "cd node_modules/pkg && cat ../../../notes.txt",
        "git -C l/../.. status",
        "cd l && git -C ../.. status",
    ],
)
def test_paths_by_text_must_stay_inside(shared_linked: Path, command: str) -> None:
    # bash applies ".." to $PWD by text: from l (= a/b/c) "../.." leaves the project.
    assert not safe(command, shared_linked)


def test_paths_physically_must_stay_inside(linked: Path, home: Path) -> None:
    (linked / "out").symlink_to(home, target_is_directory=True)
    # By text out/../README.md is inside; the kernel reads home/../README.md.
    assert not safe("cat out/../README.md", linked)
    assert not safe("cd out && cat notes.txt", linked)
    assert not safe("cd -P out/.. && ls", linked)


@pytest.mark.parametrize(
    "command",
    [
        "cd l && ls",
        "cd -P l && ls",
        "cd -L l && ls",
        "cd -- src && cat app.py",
        "cd node_modules/pkg && cat index.js",
        "cat l/../README.md",
        "cd l/.. && ls",
    ],
)
def test_links_inside_still_pass(shared_linked: Path, command: str) -> None:
    assert safe(command, shared_linked)


_CD_COMMANDS = [
    "cd l/../.. && cat notes.txt",
    "cd l/../.. && cat .ssh/id_rsa",
    "cd l && cd ../.. && cat notes.txt",
    "cd l && cat ../../../notes.txt",
    "cat l/../../notes.txt",
    "cd node_modules/pkg/../../.. && cat notes.txt",
    "cd node_modules/pkg && cat ../../../../../notes.txt",
    "cd -P l && cat ../../../../notes.txt",
    "cd l && cat ../README.md",
    "cd l/.. && cat README.md",
    "cd -P l/.. && ls",
    "cd node_modules/pkg && cat index.js",
    "cat l/../README.md",
]


def test_cd_verdicts_hold_in_real_bash(shared_linked: Path) -> None:
    """Effect-based: what the checker lets through prints no canary when bash runs it."""
    leaked = []
    for command in _CD_COMMANDS:
        out = subprocess.run(
            ["bash", "-c", command],
            cwd=shared_linked,
            env={"PATH": os.environ["PATH"], "HOME": str(shared_linked.parent)},
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        if "CANARY" in out:
            leaked.append(command)
            assert not safe(command, shared_linked), command
    assert len(leaked) >= 4  # the tree really lets bash out: the verdicts matter


@pytest.mark.parametrize("command", ["cd -e src", "cd -@ src", "cd src extra", "cd -P"])
def test_cd_options_beyond_l_and_p_ask(shared: Path, command: str) -> None:
    assert not safe(command, shared)


@pytest.mark.parametrize(
    "command",
    [
        "cd src && cat ../README.md",
        "cd src && cat ../README.md app.py",
        "cd src && ls && cat ../a.txt",
        "cd src && ls | grep -n TODO ../src/app.py",
        "cd src && cd ../tests && cat ../README.md",
        "cd src && git -C .. status",
        "cd src &&\ncat ../README.md",
        "cd src || cd tests && cat ../README.md",
    ],
)
def test_cd_and_then_runs_only_in_the_new_place(shared: Path, command: str) -> None:
    # After `cd src &&` the next command runs only if the cd succeeded: only in src.
    assert safe(command, shared)


@pytest.mark.parametrize(
    "command",
    [
        "cd src; cat ../README.md",  # runs where it started too if cd failed
        "cd src\ncat ../README.md",
        "cd src || cat ../README.md",  # runs only where it started
        "cd src && true || cat ../README.md",  # cd failed, or true did (in src)
        "cd src || true && cat ../README.md",  # cd failed and true succeeded
        "cd src && cat ../README.md; cat ../README.md",
        "cd src && cat ../README.md || cat ../README.md",
        "cd src && cat ../../notes.txt",  # from src that is the home again
        "cd src | cat ../README.md",
        "ls | cd src && cat ../README.md",
    ],
)
def test_cd_that_may_fail_keeps_the_old_place(shared: Path, command: str) -> None:
    assert not safe(command, shared)


def test_cd_and_verdicts_hold_in_real_bash(shared: Path) -> None:
    """Effect-based: the `&&` forms that pass read the project's file, not the home's."""
    (shared.parent / "README.md").write_text("CANARY home readme\n")
    try:
        for command in ("cd src && cat ../README.md", "cd src || cd tests && cat ../README.md"):
            assert safe(command, shared)
            done = subprocess.run(
                ["bash", "-c", command], cwd=shared, capture_output=True, text=True, check=True
            )
            assert done.stdout == "# demo\n"
        # The same read after `;` or `||` may run where the command started.
        for command in ("cd nowhere; cat ../README.md", "cd nowhere || cat ../README.md"):
            done = subprocess.run(
                ["bash", "-c", command], cwd=shared, capture_output=True, text=True, check=False
            )
            assert "CANARY" in done.stdout
            assert not safe(command.replace("nowhere", "src"), shared)
    finally:
        (shared.parent / "README.md").unlink()


def test_read_tool_judges_both_ways(linked: Path, home: Path) -> None:
    (linked / "sub").mkdir()
    (linked / "sub/link").symlink_to(home / ".ssh/id_rsa")
    (linked / "sub/plain").symlink_to(home / "notes.txt")
    assert not read("Read", linked, file_path="l/../../.ssh/id_rsa")
    assert not read("Read", linked, file_path="l/../../notes.txt")
    assert not read("Read", linked, file_path=str(linked / "l/../../notes.txt"))
    assert not read("Read", linked, file_path="sub/link")
    assert not read("Read", linked, file_path="sub/plain")
    assert not read("LS", linked, path="l/../..")
    assert not read("Grep", linked, pattern="CANARY", path="l/../..")
    assert not read("Glob", linked, pattern="*", path="l/../..")
    assert read("Read", linked, file_path="l/../README.md")
    assert read("Read", linked, file_path="src/app.py")


def test_given_cwd_through_a_symlink(linked: Path, home: Path) -> None:
    # The session cwd itself may be given through a link: judged as given and as real.
    alias = home / "alias"
    alias.symlink_to(linked, target_is_directory=True)
    assert safe("cat src/app.py", alias)
    assert not safe("cat ../notes.txt", alias)
    assert not safe("cd .. && cat notes.txt", alias)


def test_is_within_judges_text_too(linked: Path) -> None:
    assert not is_within(str(linked / "l/../.."), [str(linked)])
    assert is_within(str(linked / "l/.."), [str(linked)])


# --- options that read a list of file names ---------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "sort --files0-from=-",
        "sort --files0=-",
        "sort --files0-f=list.txt",
        "sort --file=-",
        "sort --files0-from list.txt",
        "wc --files0-from=-",
        "wc --files0=list.txt",
        "du --files0-from=-",
        "du -s --files0-from=list.txt",
        "file -f -",
        "file -bf list.txt",
        "file --files-from list.txt",
        "file --files-fr=-",
        "file -m magic:other README.md",
        "file -z README.md",
        "tree --fromfile list.txt",
        "tree --fromtabfile list.txt",
    ],
)
def test_file_name_lists_ask(shared: Path, command: str) -> None:
    assert not safe(command, shared)


@pytest.mark.parametrize(
    "option", ["--files0-from=-", "--files-from=-", "--fromfile=-", "--files0=-"]
)
@pytest.mark.parametrize(
    "program", sorted(n for n, s in bash_programs.SPECS.items() if s.paths and n != "printf")
)
def test_no_program_reads_a_file_list(shared: Path, program: str, option: str) -> None:
    assert not safe(f"{program} {option} README.md", shared)


def test_pattern_and_ignore_files_are_paths(project: Path, home: Path) -> None:
    (project / ".env").write_text("KEY=1\n")
    assert not safe("grep -f .env a.txt", project)
    assert not safe("grep --file=../notes.txt a.txt", project)
    assert not safe("grep -r --exclude-from=.env TODO src", project)
    assert not safe("rg --ignore-file .env TODO src", project)
    assert not safe("rg -f ../notes.txt src", project)
    assert not safe("diff -X .env a.txt b.txt", project)
    assert safe("grep -f patterns.txt a.txt", project)
    assert safe("grep -f - a.txt", project)
    assert safe("grep -rf patterns.txt src", project)
    assert safe("rg --files src", project)


# --- grep may be ugrep ---------------------------------------------------------------------
# Claude Code's Bash tool shadows `grep` with its embedded ugrep (with --hidden):
# -NUM is a recursion depth there, a directory operand is read one level deep,
# and many more options exist (configs, filters, pagers). GNU grep's own options
# only, directory operands scanned.


@pytest.mark.parametrize(
    "command",
    [
        "grep -3 KEY .",
        "grep -n3 KEY .",
        "grep KEY .",
        "grep KEY",
        "grep --filter='*:cat' KEY a.txt",
        "grep --config=cfg KEY a.txt",
        "grep ---cfg KEY a.txt",
        "grep --pager KEY a.txt",
        "grep --view KEY a.txt",
        "grep --save-config KEY",
        "grep --index KEY a.txt",
        "grep --hidden -r KEY src",
        "grep --ignore-files=.env -r KEY src",
        "grep -Q KEY",
        "grep -O py KEY src",
        "grep -g '*.py' KEY src",
        "grep -@ KEY a.txt",
        "grep -. KEY a.txt",
        "grep --max 5 KEY a.txt",
        "grep --recur KEY src",
    ],
)
def test_grep_is_judged_for_gnu_grep_and_ugrep(project: Path, command: str) -> None:
    _write(project, {".env": "KEY=CANARY\n", "cfg": "--filter=*:sh\n"})
    assert not safe(command, project)


@pytest.mark.parametrize(
    "command",
    [
        "grep KEY src",
        "grep -rn KEY src",
        "grep --recursive --line-number KEY src",
        "grep -C 3 KEY a.txt",
        "grep -A3 KEY a.txt",
        "cat a.txt | grep KEY",
        "grep KEY < a.txt",
        "git log | grep -i fix",
    ],
)
def test_grep_everyday_forms_pass(project: Path, command: str) -> None:
    _write(project, {".env": "KEY=CANARY\n"})
    assert safe(command, project)


# --- recursive reads skip no directory ----------------------------------------------------


@pytest.mark.parametrize("vendor", ["node_modules", ".venv", ".git", "__pycache__", ".tox"])
def test_recursive_reads_see_links_in_vendor_dirs(project: Path, home: Path, vendor: str) -> None:
    (project / "sub" / vendor).mkdir(parents=True)
    (project / "sub/ok.txt").write_text("KEY\n")
    assert safe("grep -R KEY sub", project)
    (project / "sub" / vendor / "x").symlink_to(home / ".ssh", target_is_directory=True)
    for command in ("grep -R KEY sub", "grep -r KEY sub", "rg -L KEY sub", "diff -r sub src"):
        assert not safe(command, project), command
    # Claude Code's Grep tool never enters a VCS directory (see below).
    assert read("Grep", project, pattern="KEY", path="sub") is (vendor in paths.VCS_DIRS)


def test_secret_deep_in_vendor_dir(project: Path) -> None:
    _write(project, {"sub/node_modules/pkg/.env": "KEY=1\n", "sub/a.txt": "x\n"})
    assert not safe("grep -rn KEY sub", project)
    assert not safe("rg KEY sub", project)


def test_hard_link_in_tree_asks(project: Path, home: Path) -> None:
    (project / "sub").mkdir()
    os.link(home / "notes.txt", project / "sub/notes.txt")
    assert not safe("grep -r CANARY sub", project)
    assert tree_has_secrets(str(project / "sub"))


def test_bare_repository_config_is_secret(project: Path, git: Git) -> None:
    git(project, "init", "-q", "--bare", "vendor/mirror")
    git(project / "vendor/mirror", "config", "remote.origin.url", "https://u:tok@e.invalid/r")
    assert not safe("cat vendor/mirror/config", project)
    assert not safe("grep -r tok vendor", project)
    assert not read("Read", project, file_path="vendor/mirror/config")
    assert safe("cat vendor/mirror/HEAD", project)
    _write(project, {"plain/config": "x\n"})
    assert safe("cat plain/config", project)


def test_repository_root_scan_reads_git_config(project: Path) -> None:
    # grep -r over the root reads .git/config (remote URLs); rg may too (an
    # .ignore file or a -g glob can bring hidden files back): both ask.
    assert not safe("grep -rn TODO .", project)
    assert not safe("rg TODO", project)
    assert not safe("cat .git/config", project)
    assert safe("cat .git/HEAD", project)
    assert safe("git grep -n TODO", project)


def test_grep_tool_leaves_out_only_what_it_never_reads(project: Path, home: Path) -> None:
    # Claude Code's Grep tool passes --glob '!.git' (and the other VCS dirs): it
    # never reads .git/config, unless a glob of the call brings .git back.
    assert read("Grep", project, pattern="TODO")
    assert read("Grep", project, pattern="TODO", path=".")
    assert not read("Grep", project, pattern="url", glob="*")
    assert not read("Grep", project, pattern="url", path=".git")
    (project / ".venv").mkdir()
    (project / ".venv/x").symlink_to(home / ".ssh", target_is_directory=True)
    assert not read("Grep", project, pattern="TODO")  # .venv is read: not skipped


def test_bundled_cli_grep_excludes_vcs_dirs() -> None:
    """The `paths.VCS_DIRS` rule holds only while the CLI's Grep tool excludes them."""
    cli = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
    if not cli.is_file():
        pytest.skip("no bundled Claude Code CLI")
    listed = "=[" + ",".join(f'"{n}"' for n in _CLI_ORDER) + "]"
    assert set(_CLI_ORDER) == paths.VCS_DIRS
    with cli.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        lists: set[bytes] = set()
        at = data.find(listed.encode())
        while at >= 0:
            name = re.search(rb"(\w+)$", data[max(0, at - 40) : at])
            if name is not None:
                lists.add(name.group(1))
            at = data.find(listed.encode(), at + 1)
        grep_tool = data.find(b'["--hidden","--no-follow"]')
        assert grep_tool >= 0
        window = data[grep_tool : grep_tool + 600]
    assert any(
        re.search(rb"for\(let (\w+) of " + name + rb"\)\w+\(`!\$\{\1\}`\)", window)
        for name in lists
    )


class RgCase(NamedTuple):
    """A tree where ripgrep's ignore rules and globs decide what the Grep tool reads."""

    name: str
    files: dict[str, str]
    passes: bool  # the checker lets the Grep call through
    reads: bool  # the real ripgrep finds a canary
    glob: str | None = None


_LINK = "@LINK@"  # a symlink to the home's .ssh
_NOGIT = "@NOGIT@"  # no repository
RG_CASES = [
    RgCase("gitignored venv", {".gitignore": ".venv/\n", ".venv/x": _LINK}, True, False),
    RgCase(
        "venv ignores itself", {".venv/.gitignore": "*\n", ".venv/secrets.py": "C"}, True, False
    ),
    RgCase("gitignored env file", {".gitignore": ".env\n", ".env": "C"}, True, False),
    RgCase("any depth", {".gitignore": "node_modules\n", "a/node_modules/x": _LINK}, True, False),
    RgCase("double star", {".gitignore": "**/cache/\n", "a/cache/.env": "C"}, True, False),
    RgCase(".rgignore", {".rgignore": ".env\n", _NOGIT: "", ".env": "C"}, True, False),
    RgCase("whitelist", {".gitignore": "cache\n!cache\n", "cache/.env": "C"}, False, True),
    RgCase(
        ".ignore whitelist",
        {".gitignore": ".env\n", ".ignore": "!.env\n", ".env": "C"},
        False,
        True,
    ),
    RgCase("not a repository", {_NOGIT: "", ".gitignore": ".env\n", ".env": "C"}, False, True),
    RgCase(
        "nested repository",
        {".gitignore": ".env\n", "s/.git/HEAD": "x", "s/.env": "C"},
        False,
        True,
    ),
    RgCase("directory-only pattern", {".gitignore": "secrets/\n", "secrets": "C"}, False, True),
    RgCase("anchored pattern", {".gitignore": "/build\n", "a/build/.env": "C"}, False, True),
    RgCase(
        "wildcard pattern (asks anyway)", {".gitignore": "*.env\n", "prod.env": "C"}, False, False
    ),
    RgCase("link not ignored (asks anyway)", {"a/x": _LINK}, False, False),
    RgCase(
        "glob *.py, secret files", {".env": "C", "a/.git-credentials": "C"}, True, False, "*.py"
    ),
    RgCase("glob *.py, .git", {".git/config": "C"}, True, False, "*.py"),
    RgCase(
        "glob *.{py,md}", {".gitignore": ".venv/\n", ".venv/a.py": "C"}, True, False, "*.{py,md}"
    ),
    RgCase(
        "glob whitelists ignored dir",
        {".gitignore": "x.py/\n", "x.py/secrets.py": "C"},
        False,
        True,
        "*.py",
    ),
    RgCase("glob *.env", {"prod.env": "C"}, False, True, "*.env"),
    RgCase("glob * brings .git back", {".git/config": "C"}, False, True, "*"),
    RgCase("glob .env", {".env": "C"}, False, True, ".env"),
    # ripgrep's lines end at LF (a CR before it dropped): "x<CR>.env" is one pattern.
    RgCase("lone CR in a pattern", {".gitignore": "x\r.env\n", ".env": "C"}, False, True),
    RgCase("FS in a pattern", {".gitignore": "x\x1c.env\n", ".env": "C"}, False, True),
    RgCase("LS in a pattern", {".gitignore": "x\u2028.env\n", ".env": "C"}, False, True),
    RgCase("Windows line ends", {".gitignore": "x\r\n.env\r\n", ".env": "C"}, True, False),
]


@pytest.mark.parametrize("case", RG_CASES, ids=[c.name for c in RG_CASES])
def test_grep_tool_scan_agrees_with_ripgrep(
    tmp_path: Path, git: Git, case: RgCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Effect-based: when the checker lets the Grep call through, the real ripgrep
    (embedded in the bundled CLI, run with the tool's arguments) finds no canary."""
    cli = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
    if not cli.is_file():
        pytest.skip("no bundled Claude Code CLI")
    monkeypatch.delenv("RIPGREP_CONFIG_PATH", raising=False)
    home = _home(tmp_path)
    proj = home / "proj"
    proj.mkdir()
    if _NOGIT not in case.files:
        git(proj, "init", "-q")
    for rel, text in case.files.items():
        path = proj / rel
        if rel == _NOGIT:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if text == _LINK:
            path.symlink_to(home / ".ssh", target_is_directory=True)
        else:
            path.write_text("CANARY\n" if text == "C" else text)
    _write(proj, {"src/app.py": "print(1)\n"})
    data = {"pattern": "CANARY"} if case.glob is None else {"pattern": "CANARY", "glob": case.glob}
    assert read("Grep", proj, **data) is case.passes
    args = ["--no-config", "--hidden", "--no-follow"]
    args += [a for n in _CLI_ORDER for a in ("--glob", f"!{n}")]
    args += [a for g in (case.glob or "").split() for a in ("--glob", g)]
    found = subprocess.run(
        ["bash", "-c", 'exec -a rg "$0" "$@"', str(cli), *args, "-l", "CANARY", "."],
        cwd=proj,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert bool(found) is case.reads, found
    assert not (case.passes and found)


_CLI_ORDER = [".git", ".svn", ".hg", ".bzr", ".jj", ".sl"]


def test_scan_limit_means_ask(project: Path) -> None:
    for i in range(12):
        (project / "src" / f"m{i}.py").write_text("")
    assert tree_has_secrets(str(project / "src"), limit=10)
    assert not tree_has_secrets(str(project / "src"), limit=100)


def test_work_limit_means_ask(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert safe("grep -rn TODO src tests", project)
    monkeypatch.setattr(paths, "WORK_LIMIT", 3)
    assert not safe("grep -rn TODO src tests", project)
    assert not read("Grep", project, pattern="TODO", path="src")


# --- every option value that names a file -------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "diff -rN --from-file=. sub",
        "diff -r --from-file . sub",
        "diff -rN --to-file=. sub",
        "diff --from-file=. sub",
        "diff -rN sub --to-file=.",
        "diff -r -S .env sub src",
    ],
)
def test_diff_file_values_are_scanned(project: Path, command: str) -> None:
    _write(project, {".env": "KEY=1\n", "sub/x.txt": "x\n"})
    assert not safe(command, project)


def test_diff_clean_file_values_pass(project: Path) -> None:
    assert safe("diff -r --from-file=src tests", project)
    assert safe("diff a.txt b.txt", project)
    assert safe("diff -r src tests", project)


# --- secret names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "prod.env",
        "local.env",
        "config/staging.env",
        "prod.env.local",
        ".env.production",
        "terraform.tfvars",
        "prod.tfvars",
        "vars.tfvars.json",
        "terraform.tfstate",
        "terraform.tfstate.backup",
        ".terraform/x",
        ".terraformrc",
        ".credentials.json",
        "gcp-credentials.json",
        ".git-credentials",
        ".git/config",
        "sub/.git/config",
        ".git/modules/lib/config",
        ".git/worktrees/w/config.worktree",
        "mirror.git/config",
        "dev.kubeconfig",
        "kubeconfig.yaml",
        ".docker/config.json",
        ".config/gh/hosts.yml",
        ".config/sops/age/keys.txt",
        ".vault-token",
        "service-account.json",
        "service_account-prod.json",
        "office.ovpn",
        ".boto",
        ".s3cfg",
        "htpasswd",
        ".htpasswd",
        "release.keystore",
        "trust.bks",
        "key.p8",
        "putty.ppk",
        "me.agekey",
        "http.keytab",
        ".azure/accessTokens.json",
        ".psql_history",
        ".python_history",
        "github_token",
        "wallet.dat",
        "PROD.ENV",
        "secrets.py",
        "credentials.py",
        "client_secret.json",
        ".streamlit/secrets.toml",
        ".secrets",
        "secrets/db.py",
        "secret_key.txt",
    ],
)
def test_more_secret_names(path: str) -> None:
    assert is_secret_path(path)


@pytest.mark.parametrize(
    "path",
    [
        ".env.example",
        "prod.env.example",
        ".env.sample",
        "env.d.ts",
        "vite-env.d.ts",
        "config.env.ts",
        "src/env.py",
        "environment.yml",
        "keys.py",
        "tokenizer.py",
        "token.go",
        "src/config.py",
        ".git/HEAD",
        ".gitignore",
        ".github/workflows/ci.yml",
        "config/settings.yaml",
        "terraform/main.tf",
        "docs/history.md",
        "src/voice_agent/policy/secret_names.py",
        "secretary.py",
        "tests/test_secrets.py",
        "credentials_test.go",
    ],
)
def test_ordinary_files_are_not_secret(path: str) -> None:
    assert not is_secret_path(path)


# --- secrets committed to git ----------------------------------------------------------


@pytest.fixture(scope="module")
def committed(tmp_path_factory: pytest.TempPathFactory, git: Git) -> Path:
    """A repository whose history holds ``.env`` and ``sub/prod.env``, no longer tracked."""
    project = _project(_home(tmp_path_factory.mktemp("committed")), git)
    _write(project, {".env": "KEY=CANARY\n", "sub/prod.env": "KEY=CANARY\n"})
    git(project, "add", "-f", ".env", "sub/prod.env")
    git(project, "commit", "-qm", "oops")
    git(project, "rm", "-q", "--cached", ".env", "sub/prod.env")
    git(project, "commit", "-qm", "untrack")
    return project


@pytest.mark.parametrize(
    "command",
    [
        "git log -L1,1:.env",
        "git log -L 1,1:.env HEAD~1",
        "git log -L:KEY:sub/prod.env",
        "git cat-file --batch",
        "git cat-file --batch-check",
        "git cat-file --batch-all-objects --batch",
        "git cat-file --batch-command",
        "git cat-file -p HEAD~1:.env",
        "git cat-file blob HEAD~1:.env",
        "git grep x -- ':(top).env'",
        "git grep KEY HEAD~1 -- ':/sub'",
        "git log -p -- ':(icase).ENV'",
        "git log -p -- ':!src'",
        "git log -p -- ':^src'",
        "git log -p -- '.e*'",
        "git log -p -- 'sub/*.env'",
        "git log -p -- '.en[v]'",
        "git show HEAD~1:.env",
        "git show HEAD~1:sub/prod.env",
        "git show HEAD~1:SUB/PROD.ENV",
        "git show :.env",
        "git show ':/oops'",
        "git diff HEAD~2 -- .env",
        "git diff HEAD~2 HEAD~1 -- sub/prod.env",
        "git log -p --stdin",
        "git log -p --pathspec-from-file=list",
        "git grep -f .env a.txt",
        "git grep -e KEY -- .env",
        "git grep ':(top).env' -e KEY HEAD~1",
        "git grep -e KEY HEAD~1 ':!src'",
        "git blame HEAD~1 -- .env",
    ],
)
def test_explicit_reads_of_committed_secrets_ask(committed: Path, command: str) -> None:
    assert not safe(command, committed)


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory, git: Git) -> Path:
    """A repository that tracks ``sub/prod.env``."""
    project = _project(_home(tmp_path_factory.mktemp("tracked")), git)
    _write(project, {"sub/prod.env": "KEY=CANARY\n", "sub/ok.txt": "x\n"})
    git(project, "add", "-f", "sub/prod.env", "sub/ok.txt")
    git(project, "commit", "-qm", "tracked secret")
    return project


def test_pipe_into_cat_file_batch_asks(committed: Path) -> None:
    assert not safe("echo HEAD~1:.env | git cat-file --batch", committed)
    assert safe("echo HEAD~1:.env", committed)


@pytest.mark.parametrize(
    "command",
    [
        "git diff",
        "git diff HEAD",
        "git show HEAD",
        "git show",
        "git log -p",
        "git log -u -1",
        "git log --patch",
        "git log --patc",
        "git log -U3",
        "git log --cc",
        "git stash show -p",
        "git grep KEY",
        "git grep -l KEY",
        "git status -v",
        "git diff -- sub",
        "git diff -- .",
        "git show HEAD -- SUB",
    ],
)
def test_content_commands_ask_while_a_secret_is_tracked(tracked: Path, command: str) -> None:
    assert not safe(command, tracked)


@pytest.mark.parametrize(
    "command",
    [
        "git log --oneline -5",
        "git show --stat",
        "git show --name-only HEAD",
        "git diff --stat",
        "git status",
        "git diff -- src",
        "git diff HEAD~1 -- src/app.py",
        "git log -p -- src",
        "git grep -n TODO -- src",
        "git show HEAD -- sub/ok.txt",
    ],
)
def test_commands_that_leave_tracked_secrets_out_pass(tracked: Path, command: str) -> None:
    assert safe(command, tracked)


@pytest.mark.parametrize("setup", ["v2", "v3", "v4", "sha256"])
def test_index_paths_match_git(tmp_path: Path, git: Git, setup: str) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", *(["--object-format=sha256"] if setup == "sha256" else []))
    names = {f"dir{i}/file-{i}-{'x' * i}.txt": f"{i}\n" for i in range(40)}
    _write(repo, {**names, "prod.env": "K\n", "ïnternational.txt": "x\n"})
    git(repo, "add", "-f", ".")
    if setup == "v3":
        _write(repo, {"new.txt": "n\n"})
        git(repo, "add", "-N", "new.txt")  # intent-to-add sets an extended flag
    if setup == "v4":
        git(repo, "update-index", "--index-version", "4")
    expected = tuple(git(repo, "ls-files", "-z").split("\0")[:-1])
    assert git_repo.tracked_paths(str(repo / ".git")) == expected
    assert "prod.env" in expected


def test_unreadable_index_means_ask(project: Path, git: Git) -> None:
    assert safe("git diff", project)
    git(project, "update-index", "--split-index")
    assert git_repo.tracked_paths(str(project / ".git")) is None
    assert not safe("git diff", project)
    assert safe("git log --oneline", project)
    (project / ".git/index").write_bytes(b"DIRC garbage")
    assert not safe("git show HEAD", project)


# --- secrets in the history ---------------------------------------------------------------


def _run_in(repo: Path, command: str) -> str:
    """What bash prints running `command` in `repo` (git with a clean configuration)."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(repo.parent),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_PAGER": "cat",
    }
    done = subprocess.run(
        ["bash", "-c", command], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    return done.stdout + done.stderr


def _leaks(repo: Path, command: str) -> bool:
    return "CANARY" in _run_in(repo, command)


@pytest.fixture(scope="module")
def deleted(tmp_path_factory: pytest.TempPathFactory, git: Git) -> Path:
    """``.env`` committed in HEAD~2, deleted in HEAD~1; HEAD changes ``src/util.py``."""
    project = _project(_home(tmp_path_factory.mktemp("deleted")), git)
    _write(project, {".env": "KEY=CANARY\n"})
    git(project, "add", "-f", ".env")
    git(project, "commit", "-qm", "oops")
    git(project, "rm", "-q", ".env")
    git(project, "commit", "-qm", "remove .env")
    _write(project, {"src/util.py": "X = 2\n"})
    git(project, "commit", "-qam", "later")
    return project


#: Reads of commits' contents that print the deleted .env of `deleted`.
_HISTORY_LEAKS = [
    "git log -p",
    "git log -p -3",
    "git log --patch --all",
    "git log -u",
    "git log --cc",
    "git log -p --reflog",
    "git log -p -- src .",
    "git whatchanged -p",
    "git show HEAD~1",
    "git show HEAD~2",
    "git show HEAD~2 --format=%s",
    "git diff HEAD~2 HEAD",
    "git diff HEAD~3 HEAD~2",
    "git diff HEAD~2",
    "git diff HEAD~2..HEAD~1",
    "git diff HEAD~2...HEAD",
    "git grep -e KEY HEAD~2",
    "git reflog show -p",
    "git log -g -p",
    "git log -p --word-diff=plain -1 HEAD~1",
]


@pytest.mark.parametrize("command", _HISTORY_LEAKS)
def test_history_reads_ask_when_the_history_held_a_secret(deleted: Path, command: str) -> None:
    if command.startswith("git whatchanged"):
        assert not safe(command, deleted)  # not an allowlisted subcommand at all
        return
    assert _leaks(deleted, command), "the case must really print the old .env"
    assert not safe(command, deleted)


@pytest.mark.parametrize(
    "command",
    [
        "git log -S KEY --oneline",  # which commits add "KEY": an oracle on contents
        "git grep -l KEY HEAD~2",
        "git log --word-diff -1 HEAD~1",  # patch options that may print patches
        "git log -W -1 HEAD~1",
        "git log -G CANA --oneline",
        "git log --check -3",
        "git log --all -p -S KEY",
        "git show --stat -S KEY HEAD~1",
        "git diff --stat -G KEY HEAD~2 HEAD",
        "git diff --cached",  # HEAD against the index
        "git status -v",
        "git show ORIG_HEAD",
        "git show --stat FETCH_HEAD",
    ],
)
def test_oracles_and_commits_without_a_name_ask(deleted: Path, command: str) -> None:
    assert not safe(command, deleted)


@pytest.mark.parametrize(
    "command",
    [
        "git log --oneline",
        "git log -3 --stat",
        "git log --name-status --all",
        "git log -1 --format=%s",
        "git show --stat HEAD",
        "git show --stat HEAD~2",
        "git show --name-only HEAD~1",
        "git show -s HEAD~2",
        "git show HEAD~2:README.md",
        "git show HEAD~2:src",
        "git diff",
        "git diff --stat HEAD~2 HEAD",
        "git status",
        "git blame README.md",
        "git blame HEAD~2 -- src/app.py",
        "git grep -n TODO",
        "git log -p -- src",
        "git log -p -3 -- src/app.py README.md",
        "git show HEAD~2 -- src",
        "git diff HEAD~2 HEAD -- src",
        "git grep -n TODO HEAD~2 -- src",
        "git reflog",
        "git branch -a",
        "cd src && git log -p -- .",
    ],
)
def test_everyday_git_still_passes_with_a_secret_in_the_history(
    deleted: Path, command: str
) -> None:
    assert safe(command, deleted)
    assert not _leaks(deleted, command)


def test_an_object_id_passes_only_for_a_listed_commit(deleted: Path, git: Git) -> None:
    head = git(deleted, "rev-parse", "HEAD").strip()
    blob = git(deleted, "rev-parse", "HEAD~2:.env").strip()
    assert safe(f"git show --stat {head[:7]}", deleted)
    assert safe(f"git show --stat {head.upper()}", deleted)
    assert safe(f"git log --oneline {blob}", deleted)  # log prints no blob
    for command in (f"git show {blob}", f"git show --stat {blob}", f"git show -s {blob[:8]}"):
        assert _leaks(deleted, command)
        assert not safe(command, deleted)
    assert not safe("git log -p --alternate-refs -- src", deleted)
    assert safe(f"git diff --stat {blob} {head}:README.md", deleted)  # names only
    assert _leaks(deleted, f"git diff {blob} {head}:README.md")
    assert not safe(f"git diff {blob} {head}:README.md", deleted)


@pytest.mark.parametrize("widen", ["--follow", "--foll", "--full-diff"])
def test_pathspecs_that_widen_ask(deleted: Path, widen: str) -> None:
    assert safe("git log -p -- src/app.py", deleted)
    assert not safe(f"git log -p {widen} -- src/app.py", deleted)


def test_log_follow_in_the_config_makes_pathspecs_widen(tmp_path: Path, git: Git) -> None:
    project = _project(_home(tmp_path), git)
    _write(project, {".env": "KEY=CANARY\n"})
    git(project, "add", "-f", ".env")
    git(project, "commit", "-qm", "oops")
    git(project, "mv", ".env", "notes.md")
    git(project, "commit", "-qm", "rename")
    assert safe("git log -p -- notes.md", project)
    git(project, "config", "log.follow", "true")
    assert _leaks(project, "git log -p -- notes.md")  # follows notes.md back to .env
    assert not safe("git log -p -- notes.md", project)


@pytest.fixture(scope="module")
def stashed(tmp_path_factory: pytest.TempPathFactory, git: Git) -> Path:
    """A clean history but for a stash holding the untracked ``.env``."""
    project = _project(_home(tmp_path_factory.mktemp("stashed")), git)
    _write(project, {".env": "KEY=CANARY\n"})
    git(project, "stash", "push", "-q", "--include-untracked", "-m", "wip")
    assert not (project / ".env").exists()
    return project


@pytest.mark.parametrize(
    "command",
    [
        "git stash show -p --include-untracked",
        "git show stash^3",
        "git show stash@{0}^3",
        "git log -p --all",
        "git diff HEAD stash^3",
        "git grep KEY stash^3",
    ],
)
def test_a_secret_only_in_a_stash_asks(stashed: Path, command: str) -> None:
    assert _leaks(stashed, command)
    assert not safe(command, stashed)


@pytest.mark.parametrize(
    "command",
    [
        "git log --oneline",
        "git stash list",
        "git stash show --stat",
        "git show --stat HEAD",
        "git diff",
        "git status",
        "git log -p -- src",
    ],
)
def test_everyday_git_passes_beside_a_stashed_secret(stashed: Path, command: str) -> None:
    assert safe(command, stashed)


def _amended(project: Path, git: Git) -> str:
    """Commit ``.env`` with a change, then amend it away; the first commit's id."""
    _write(project, {".env": "KEY=CANARY\n", "src/new.py": "Y = 1\n"})
    git(project, "add", "-f", ".env", "src/new.py")
    git(project, "commit", "-qm", "add new")
    first = git(project, "rev-parse", "HEAD").strip()
    git(project, "rm", "-q", "--cached", ".env")
    git(project, "commit", "-q", "--amend", "-m", "add new")
    (project / ".env").unlink()
    return first


def test_a_secret_only_the_reflog_reaches_asks(tmp_path: Path, git: Git) -> None:
    project = _project(_home(tmp_path), git)
    first = _amended(project, git)
    leaking = ("git show HEAD@{1}", "git reflog show -p", "git log -p -g", f"git show {first}")
    for command in leaking:
        assert _leaks(project, command), command
        assert not safe(command, project), command
    # HEAD's own history never held it, but the reflog does: history reads ask.
    assert not safe("git log -p", project)
    assert safe("git log --oneline", project)
    assert safe("git show --stat HEAD", project)


def test_an_unreachable_commit_asks_by_its_id(tmp_path: Path, git: Git) -> None:
    project = _project(_home(tmp_path), git)
    first = _amended(project, git)
    git(project, "reflog", "expire", "--expire=now", "--all")
    blob = git(project, "rev-parse", f"{first}:.env").strip()
    # Nothing git reaches by a name holds the secret any more: history reads pass ...
    assert safe("git log -p", project)
    assert safe("git show", project)
    # ... but an id still names the dangling commit and its blob.
    for command in (f"git show {first}", f"git show {first[:8]}", f"git show {blob}"):
        assert _leaks(project, command), command
        assert not safe(command, project), command
    assert not safe(f"git diff {first} HEAD", project)
    assert not safe(f"git show --stat {first}", project)
    (project / blob[:8]).write_text("a file named like the blob\n")
    assert safe(f"git show {blob[:8]}", project)  # a path: git shows HEAD's patch for it
    assert not _leaks(project, f"git show {blob[:8]}")
    # Before `--` git takes it for a revision, file or not.
    assert _leaks(project, f"git show {blob[:8]} --")
    assert not safe(f"git show {blob[:8]} --", project)


def test_a_new_commit_renews_the_cached_history(tmp_path: Path, git: Git) -> None:
    project = _project(_home(tmp_path), git)
    assert safe("git log -p", project)
    _write(project, {".env": "KEY=CANARY\n"})
    git(project, "add", "-f", ".env")
    git(project, "commit", "-qm", "oops")
    assert not safe("git log -p", project)
    git(project, "rm", "-q", ".env")
    git(project, "commit", "-qm", "remove")
    assert not safe("git log -p", project)


def test_history_is_cached_until_refs_change(
    project: Path, git: Git, monkeypatch: pytest.MonkeyPatch
) -> None:
    git_history.clear_cache()
    calls: list[list[str]] = []
    real = git_history.run_git

    def counting(git_dir: str, args: list[str], limit: int, timeout: float) -> bytes | None:
        calls.append(args)
        return real(git_dir, args, limit, timeout)

    monkeypatch.setattr(git_history, "run_git", counting)
    git_dir = str(project / ".git")
    first = git_history.history(git_dir)
    assert first is not None
    assert first.secrets == ()
    assert len(calls) == 2  # for-each-ref and log
    assert git_history.history(git_dir) == first
    assert safe("git log -p", project)
    assert len(calls) == 2
    git(project, "tag", "v1")
    assert git_history.history(git_dir) == first
    assert len(calls) == 4


@pytest.mark.parametrize(
    "broken",
    ["timeout", "output", "missing-git", "tag-of-blob", "grafts", "bad-object", "many-refs"],
)
def test_history_that_cannot_be_known_asks(
    project: Path, git: Git, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    git_history.clear_cache()
    assert safe("git show HEAD", project)
    git_history.clear_cache()
    if broken == "timeout":
        monkeypatch.setattr(git_history, "HISTORY_TIMEOUT", 0.0)
    elif broken == "output":
        monkeypatch.setattr(git_history, "HISTORY_MAX_BYTES", 10)
    elif broken == "missing-git":
        monkeypatch.setenv("PATH", str(project / "nowhere"))
    elif broken == "tag-of-blob":
        blob = git(project, "hash-object", "-w", "README.md").strip()
        git(project, "tag", "-a", "-m", "t", "readme", blob)
    elif broken == "grafts":
        (project / ".git/info").mkdir(exist_ok=True)
        (project / ".git/info/grafts").write_text("")
    elif broken == "bad-object":
        (project / ".git/refs/heads/broken").write_text("1" * 40 + "\n")
    else:
        monkeypatch.setattr(git_history, "STATE_MAX_FILES", 1)
    assert git_history.history(str(project / ".git")) is None
    for command in ("git show HEAD", "git show --stat HEAD", "git log -p", "git diff HEAD~0"):
        assert not safe(command, project), command
    assert safe("git log --oneline", project)
    assert safe("git diff", project)
    git_history.clear_cache()


def test_the_listing_names_every_path_of_every_commit(tmp_path: Path, git: Git) -> None:
    """Merges, renames, root commits, stashes and odd names: listed == every commit's tree."""
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    odd = {"a.txt": "1\n", "\nnewline-first": "n\n", "0" * 40: "hex\n", "dir/sp ace": "s\n"}
    _write(repo, odd)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "root")
    git(repo, "checkout", "-qb", "side")
    git(repo, "mv", "a.txt", "b.txt")
    git(repo, "commit", "-qm", "rename")
    git(repo, "checkout", "-q", "main")
    _write(repo, {"c.txt": "c\n"})
    git(repo, "add", "c.txt")
    git(repo, "commit", "-qm", "c")
    git(repo, "merge", "-q", "--no-ff", "--no-commit", "side")
    _write(repo, {"evil-merge-only.txt": "e\n"})  # a path only the merge commit has
    git(repo, "add", "evil-merge-only.txt")
    git(repo, "commit", "-qm", "merge")
    git(repo, "checkout", "-q", "--orphan", "other")
    git(repo, "rm", "-rqf", ".")
    _write(repo, {"orphan.txt": "o\n"})
    git(repo, "add", "orphan.txt")
    git(repo, "commit", "-qm", "orphan root")
    git(repo, "checkout", "-q", "main")
    _write(repo, {"untracked.txt": "u\n"})
    git(repo, "stash", "push", "-q", "--include-untracked")
    # The repository's config must not narrow the listing.
    for key, value in (("log.showRoot", "false"), ("diff.relative", "true")):
        git(repo, "config", key, value)
    out = git_history.run_git(str(repo / ".git"), git_history._LIST_ARGS, 1 << 20, 10.0)
    assert out is not None
    parsed = git_history.parse_listing(out)
    assert parsed is not None
    commits, paths = parsed
    expected_commits = set(git(repo, "rev-list", "--all", "--reflog").split())
    assert commits == expected_commits
    expected: set[bytes] = set()
    for commit in expected_commits:
        tree = subprocess.run(
            ["git", "ls-tree", "-r", "-z", "--name-only", commit],
            cwd=repo,
            capture_output=True,
            check=True,
        ).stdout
        expected |= set(tree.split(b"\0")[:-1])
    assert paths == expected
    assert {b"\nnewline-first", b"0" * 40, b"evil-merge-only.txt", b"untracked.txt"} <= paths


@pytest.mark.parametrize(
    "data",
    [b"x", b"\0abc\0", b"\0" + b"a" * 40 + b"\0name\0", b"\0" + b"a" * 40, b"\0\0"],
)
def test_a_listing_that_does_not_parse_is_unknown(data: bytes) -> None:
    assert git_history.parse_listing(data) is None


# --- git in a foreign git directory --------------------------------------------------------


@pytest.fixture(scope="module")
def trapped(tmp_path_factory: pytest.TempPathFactory, git: Git) -> Path:
    """A project holding a bare repository whose config runs a trap, and a nested repo."""
    tmp_path = tmp_path_factory.mktemp("trapped")
    project = _project(_home(tmp_path), git)
    trap = project / "trap"
    git(project, "init", "-q", "--bare", "trap")
    git(trap, "config", "diff.external", str(tmp_path / "trap.sh"))
    git(trap, "config", "core.pager", str(tmp_path / "trap.sh"))
    git(trap, "config", "core.fsmonitor", str(tmp_path / "trap.sh"))
    nested = project / "vendor/lib"
    nested.mkdir(parents=True)
    git(nested, "init", "-q")
    _write(nested, {"x.txt": "x\n"})
    # A bare repository made of plain files, as an untrusted checkout could ship it.
    _write(project, {"fake/HEAD": "ref: refs/heads/main\n", "fake/config": "[core]\n"})
    (project / "fake/objects").mkdir()
    (project / "fake/refs").mkdir()
    return project


@pytest.mark.parametrize(
    "command",
    [
        "git -C trap diff HEAD~1 HEAD",
        "git -C trap log",
        "cd trap && git log",
        "cd trap/refs && git status",
        "cd trap/objects && git diff",
        "git -C trap/refs/heads show",
        "git -C fake log",
        "cd fake && git diff",
        "git -C vendor/lib status",
        "cd vendor/lib && git log --oneline",
        "git -C vendor/lib/. diff",
        "git -C .git log",
        "cd .git && git status",
        "cd trap; git status",
        "git --git-dir=trap log",
        "git --git-dir trap log",
        "git --work-tree=. status",
        "git -c core.pager=cat log",
        "git -c diff.external=x diff",
        "git --exec-path=/tmp log",
        "git --config-env=core.pager=PAGER log",
        "git --bare log",
        "git --glob-pathspecs log -p -- '*'",
        "git --literal-pathspecs log",
        "git -C src --git-dir=../trap log",
    ],
)
def test_git_outside_the_session_repository_asks(trapped: Path, command: str) -> None:
    assert not safe(command, trapped)


def test_git_in_the_session_repository_still_passes(trapped: Path) -> None:
    assert safe("git -C src log --oneline", trapped)
    assert safe("cd src && git status", trapped)
    assert safe("git -C vendor log --oneline", trapped)


def test_session_inside_a_bare_repository_asks(trapped: Path) -> None:
    assert not safe("git log", trapped / "trap")
    assert not safe("git status", trapped / "trap" / "refs")
    assert not safe("git status", trapped / "fake")
    assert safe("git log --oneline", trapped / "vendor/lib")  # the user chose that repository


@pytest.mark.parametrize(
    ("key", "value", "passes"),
    [
        ("core.fsmonitor", "/tmp/trap.sh", False),
        ("core.pager", "sh -c trap", False),
        ("pager.log", "trap", False),
        ("diff.external", "trap", False),
        ("diff.pdf.textconv", "trap", False),
        ("filter.x.clean", "trap", False),
        ("include.path", "../cfg", False),
        ("includeIf.gitdir:/.path", "../cfg", False),
        ("core.worktree", "/", False),
        ("gpg.program", "trap", False),
        ("core.fsmonitor", "true", True),
        ("filter.lfs.clean", "git-lfs clean -- %f", True),
        ("user.name", "Ada", True),
        ("remote.origin.url", "https://e.invalid/r", True),
    ],
)
def test_session_repository_config_that_runs_programs_asks(
    project: Path, git: Git, key: str, value: str, passes: bool
) -> None:
    # A project unpacked from an archive brings its own .git/config.
    git(project, "config", key, value)
    assert safe("git status", project) is passes
    assert safe("git log --oneline -1", project) is passes


def test_unparsable_session_config_asks(project: Path) -> None:
    with (project / ".git/config").open("a") as handle:
        handle.write('[core]\n\tpager = "less \\\n  -R"\n')
    assert not safe("git status", project)


@pytest.mark.parametrize("hidden", ["\r", "\f", "\v", "\x1c", "\x85", "\u2028", "\x00"])
def test_a_program_hidden_behind_a_line_break_only_python_sees_asks(
    project: Path, hidden: str
) -> None:
    # git reads these as ordinary characters of the comment, so the section stays
    # [core] and core.fsmonitor runs; Python's splitlines would start a new [x].
    config = project / ".git/config"
    config.write_bytes(
        config.read_bytes() + f"[core] ;{hidden}[x]\n\tfsmonitor = /tmp/trap.sh\n".encode()
    )
    assert not safe("git status", project)


def test_a_config_with_windows_line_ends_is_read_as_git_reads_it(project: Path) -> None:
    config = project / ".git/config"
    config.write_bytes(config.read_bytes().replace(b"\n", b"\r\n") + b"[user]\r\n\tname = A\r\n")
    assert safe("git status", project)


def test_a_gitfile_whose_path_holds_a_cr_asks(project: Path, tmp_path: Path) -> None:
    # git reads "gitdir: store<CR>evil" as one path, the trapped copy; a text-mode
    # read stops at the clean "store".
    store = tmp_path / "store.git"
    shutil.copytree(project / ".git", store)
    evil = tmp_path / "store.git\revil"
    shutil.copytree(project / ".git", evil)
    with (evil / "config").open("a") as handle:
        handle.write("[core]\n\tfsmonitor = /tmp/trap.sh\n")
    shutil.rmtree(project / ".git")
    (project / ".git").write_bytes(f"gitdir: {store}\revil\n".encode())
    assert not safe("git status", project)
    (project / ".git").write_bytes(f"gitdir: {store}\r\n".encode())  # Windows line end
    assert safe("git status", project)


def test_worktree_gitfile_elsewhere_asks(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.git"
    other.mkdir()
    (project / "wt").mkdir()
    (project / "wt/.git").write_text(f"gitdir: {other}\n")
    assert not safe("git -C wt log", project)
    (project / "broken").mkdir()
    (project / "broken/.git").write_text("nonsense\n")
    assert not safe("cd broken && git status", project)
    assert safe("git status", project)


def test_no_repository_diff_and_grep_read_like_recursive_tools(home: Path) -> None:
    plain = home / "plain"
    _write(plain, {"a/x.txt": "x\n", "b/y.txt": "y\n", "c/.env": "KEY=1\n"})
    assert safe("git diff a b", plain)
    assert not safe("git diff a c", plain)
    assert not safe("git grep KEY", plain)  # grep.fallbackToNoIndex searches the cwd
    assert safe("git grep KEY -- a", plain)


# --- the checker never fails open -----------------------------------------------------------


def test_any_exception_in_the_checker_asks(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert safe("cat README.md", project)
    assert read("Read", project, file_path="README.md")

    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(paths, "is_git_config", boom)
    assert not safe("cat README.md", project)
    assert not read("Read", project, file_path="README.md")


# --- everyday read-only commands in a normal project ----------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "git status",
        "git log --oneline -5",
        "git diff",
        "git show HEAD",
        "git show --stat",
        "git blame src/app.py",
        "git grep -n TODO",
        "git branch -a",
        "git remote",
        "git log -p -5",
        "git diff HEAD -- src",
        "grep -rn TODO src",
        "find . -name '*.py'",
        "ls -la",
        "ls -R src",
        "cat README.md",
        "head -20 f",
        "wc -l src/*.py",
        "sort f",
        "diff a.txt b.txt",
        "du -sh src",
        "tree",
        "rg foo src",
        "cd src && grep -n TODO app.py",
        "file src/app.py",
    ],
)
def test_everyday_commands_still_pass(shared: Path, command: str) -> None:
    assert safe(command, shared)
