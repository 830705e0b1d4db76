"""Sticky rules never reach past what was approved: the bounds of every "Always" rule.

Each case states what the rule was made from (or, for rules already in a store, its
broad pattern) and a later command it must not cover; the everyday cases show what a
rule still covers.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from voice_agent.policy.rule_scope import exact_only, literal_texts
from voice_agent.policy.rules import covering_rule, derive_rule, find_matching, is_inert
from voice_agent.sessions import PermissionHandler, SessionStorage, StickyApproval, StoredSession


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("PRIVATE KEY\n")
    (home / ".config" / "gh").mkdir(parents=True)
    (home / ".config" / "gh" / "hosts.yml").write_text("oauth_token: gho_x\n")
    (home / "notes.txt").write_text("mine\n")
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def project(tmp_path: Path, home: Path) -> Path:
    root = (tmp_path / "project").resolve()
    for directory in ("src", "lib", "tests/unit", "a/b/c"):
        (root / directory).mkdir(parents=True)
    (root / "src" / "app.py").write_text("print('hi')\n")
    (root / "lib" / "util.py").write_text("x = 1\n")
    (root / ".env").write_text("TOKEN=1\n")
    (root / "src" / "link").symlink_to(home / ".ssh" / "id_rsa")
    (root / "l").symlink_to("a/b/c")
    trap = root / "vendor" / "trap.git"
    (trap / "objects").mkdir(parents=True)
    (trap / "refs").mkdir()
    (trap / "HEAD").write_text("ref: refs/heads/main\n")
    (trap / "config").write_text("[diff]\n\texternal = ./evil\n")
    return root


def always(command: str, cwd: Path) -> StickyApproval:
    """The rule "Always" makes from an approved command."""
    return derive_rule("Bash", {"command": command}, str(cwd))


def stored(pattern: str | None) -> StickyApproval:
    """A rule as an older version may have stored it."""
    return StickyApproval("Bash", pattern, "command" if pattern else None)


def covers(rule: StickyApproval, command: str, cwd: Path) -> bool:
    return rule.matches("Bash", {"command": command}, str(cwd))


def broad(prefix: str) -> StickyApproval:
    """A stored ``prefix …`` rule: the widest pattern a derived rule ever had."""
    return stored(re.escape(prefix) + r"(?: .*)?")


# -- "Always" on cat /etc/hostname ----------------------------------------------


@pytest.mark.parametrize(
    "later",
    [
        "cat .env",
        "cat ./src/../.env",
        "cat src/link",  # a symlink into ~/.ssh
        "cat l/../../.env",
        "cat < .env",
        "cat *",  # the glob expands to .env
        "cd src && cat link",  # judged from where the cd leads
        "echo HEAD:.env | cat",
        "cat {home}/.ssh/id_rsa",
        "cat {home}/.config/gh/hosts.yml",  # a home directory outside the project
        "cat {home}/notes.txt",
        "cat /proc/self/environ",
        "cat --files0-from=list",
    ],
)
def test_cat_rule_never_reads_a_secret(project: Path, home: Path, later: str) -> None:
    rule = always("cat /etc/hostname", project)
    assert covers(rule, "cat /etc/hostname", project)
    assert not covers(rule, later.format(home=home), project)


def test_cat_rule_still_covers_ordinary_reads(project: Path) -> None:
    rule = always("cat /etc/hostname", project)
    for later in ("cat /etc/os-release", "cat src/app.py", "cat lib/*.py", "cd src && cat app.py"):
        assert covers(rule, later, project), later


def test_hard_link_to_a_file_elsewhere_is_not_covered(project: Path, home: Path) -> None:
    os.link(home / "notes.txt", project / "lib" / "notes.txt")
    assert not covers(always("cat /etc/hostname", project), "cat lib/notes.txt", project)


# -- "Always" on tar tf x.tar -----------------------------------------------------


@pytest.mark.parametrize(
    "later",
    [
        "tar tf x.tar --to-command=sh",
        "tar tf x.tar --to-com=sh",  # getopt accepts abbreviations
        "tar tf x.tar --use-compress-program=./evil",
        "tar tf x.tar -I ./evil",
        "tar tf x.tar --checkpoint=1 --checkpoint-action=exec=sh",
        "tar tf x.tar --info-script=./evil",
        "tar tf x.tar -F ./evil",
        "tar tf x.tar --rsh-command=./evil",
        "tar tf host:x.tar",  # a remote archive runs rsh
        "tar tf x.tar -T list",  # a list of names to read
    ],
)
def test_tar_rule_never_runs_a_program(project: Path, later: str) -> None:
    assert not covers(always("tar tf x.tar", project), later, project)
    assert not covers(broad("tar"), later, project)


def test_tar_rule_covers_its_mode_only(project: Path) -> None:
    rule = always("tar tf x.tar", project)
    assert covers(rule, "tar tf other.tar", project)
    assert not covers(rule, "tar xf x.tar", project)
    assert not covers(broad("tar"), "tar xIf ./evil x.tar", project)  # old-style cluster
    assert not covers(broad("tar"), "tar xf x.tar -C /tmp", project)  # extracts elsewhere
    assert not covers(broad("tar"), "tar czf - .", project)  # the tree holds .env
    assert covers(broad("tar"), "tar czf - lib", project)


# -- interpreters -------------------------------------------------------------------


def test_interpreter_rule_is_exact(project: Path) -> None:
    rule = always("python3 x.py", project)
    assert covers(rule, "python3 x.py", project)
    for later in ("python3 -c 'import os'", "python3 x.py --flag", "python3 y.py"):
        assert not covers(rule, later, project), later


@pytest.mark.parametrize(
    "name",
    "python python3 python3.12 python3.13t pypy3.10 node node20 nodejs ruby3.2 perl5.36 "
    "php8.2 bun deno lua5.4 Rscript java bash zsh awk".split(),
)
def test_versioned_interpreters_match_only_the_exact_command(project: Path, name: str) -> None:
    rule = always(f"{name} x.script", project)
    assert rule.pattern == re.escape(f"{name} x.script")
    assert covers(rule, f"{name} x.script", project)
    assert not covers(rule, f"{name} -e 'evil'", project)
    # a broad rule from an older version (or made by hand) is bounded when matching
    assert not covers(broad(name), f"{name} -e 'evil'", project)
    assert exact_only([name, "x"])


def test_gnu_sed_under_its_macos_name_is_exact_too() -> None:
    assert exact_only(["gsed", "-n", "1p", "x"])


@pytest.mark.parametrize("name", "pytest rg shellcheck phpunit rubocop make".split())
def test_ordinary_tools_are_not_taken_for_interpreters(name: str) -> None:
    assert not exact_only([name, "x"])


# -- runners ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "uv run pytest",
        "poetry run pytest",
        "pdm run test",
        "hatch run test",
        "pipx run black",
        "npx prettier",
        "pnpm dlx create-x",
        "pnpm exec tsc",
        "yarn dlx create-x",
        "bunx vite",
        "uvx ruff",
        "conda run python",
        "cargo run",
        "npm exec tsc",
        "go run .",
        "bundle exec rspec",
        "docker run alpine",
        "npm install left-pad",
        "pip install requests",
    ],
)
def test_runner_rules_match_only_the_exact_command(project: Path, command: str) -> None:
    rule = always(command, project)
    assert rule.pattern == re.escape(command)
    assert covers(rule, command, project)
    assert not covers(rule, f"{command} --evil", project)
    first_two = " ".join(command.split()[:2])
    assert not covers(broad(first_two), f"{command} --evil", project)
    assert not covers(broad(command.split()[0]), f"{command} --evil", project)


# -- git ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "later",
    [
        "git log --output=FILE",
        "git log --out=FILE",
        "git log --ext-diff",
        "git log -p --textconv",
        "git -c diff.external=./evil log -p",
        "git -ccore.pager=./evil log",
        "git --paginate log",
        "git --git-dir=vendor/trap.git log",
        "git --exec-path=. log",
        "git -C vendor/trap.git log",  # another repository's config
        "cd vendor/trap.git && git log",
        "git log --stdin",
        "git log -- .env",
        "git show HEAD:.env",
        "git log -L1,1:.env",
    ],
)
def test_git_log_rule_never_writes_runs_or_reads_secrets(project: Path, later: str) -> None:
    rule = always("git log -5", project)
    assert covers(rule, "git log --oneline -3", project)
    assert not covers(rule, later, project)


@pytest.mark.parametrize(
    ("approved", "later"),
    [
        ("git clone https://x/r.git", "git clone -u ./evil https://x/r.git"),
        ("git clone https://x/r.git", "git clone --template=hooks https://x/r.git"),
        ("git clone https://x/r.git", "git clone -c core.hooksPath=h https://x/r.git"),
        ("git config user.name Ada", "git config core.pager ./evil"),
        ("git config user.name Ada", "git config alias.st '!sh -c evil'"),
        ("git config user.name Ada", "git config --list"),
        ("git push", "git push --force"),
        ("git push", "git push origin +main"),
        ("git push", "git push --receive-pack=./evil ."),
        ("git rebase main", "git rebase -x ./evil main"),
        ("git rebase main", "git rebase --exec=./evil main"),
        ("git submodule update", "git submodule foreach ./evil"),
        ("git bisect start", "git bisect run ./evil"),
        ("git clean -n", "git clean -fdx"),
        ("git add src", "git add -f .env.local"),
        ("git fetch", "git fetch --upload-pack=./evil"),
        ("git remote", "git remote -v"),  # remote URLs may hold credentials
        ("git remote", "git remote get-url origin"),
    ],
)
def test_git_subcommand_rules_never_run_programs(project: Path, approved: str, later: str) -> None:
    rule = always(approved, project)
    assert covers(rule, approved, project)
    assert not covers(rule, later, project)
    assert not covers(broad(" ".join(approved.split()[:2])), later, project)


def test_git_commit_rule_covers_other_messages(project: Path) -> None:
    rule = always("git commit -m x", project)
    assert covers(rule, "git commit -m y", project)
    assert covers(rule, "git commit -am 'fix the parser'", project)
    assert not covers(rule, "git commit -m y && git push", project)


# -- other programs' exec and write options ----------------------------------------


@pytest.mark.parametrize(
    ("approved", "later"),
    [
        ("npm test", "npm test --script-shell=./evil"),
        ("npm test", "npm test --node-options=--require=./evil.js"),
        ("npm test", "npm install evil"),
        ("npm run lint", "npm run deploy"),
        ("make build", "make build SHELL=./evil"),
        ("make build", "make build 'CC=sh -c evil'"),
        ("make build", "make build --eval='$(shell evil)'"),
        ("make build", "make -C /tmp build"),
        ("pytest -q", "pytest --basetemp=/tmp/x"),
        ("mypy src", "mypy --python-executable=./evil src"),
        ("cargo build", "cargo build --config 'target.x.runner=\"evil\"'"),
        ("go test ./...", "go test -exec=./evil ./..."),
        ("go test ./...", "go test -toolexec ./evil ./..."),
        ("go env GOPATH", "go env -w GOFLAGS=-toolexec=./evil"),
        ("docker build .", "docker build -o /tmp/out ."),
        ("kubectl get pods", "kubectl get pods --kubeconfig=./evil"),
        ("just test", "just test '; evil'"),
        ("rake test", "rake -e 'system(\"evil\")'"),
        ("zip -r out.zip lib", "zip -r out.zip lib -TT ./evil"),
        ("sort lib/util.py", "sort -o /tmp/x lib/util.py"),
        ("sort lib/util.py", "sort --compress-program=./evil lib/util.py"),
        ("wc -l lib/util.py", "wc --files0-from=list"),
        ("less lib/util.py", "less '+!evil' lib/util.py"),
        ("jq . data.json", "jq -n env"),
        ("head -5 lib/util.py", "head -5 .env"),
    ],
)
def test_rules_never_cover_exec_write_or_list_options(
    project: Path, approved: str, later: str
) -> None:
    rule = always(approved, project)
    assert covers(rule, approved, project)
    assert not covers(rule, later, project)


@pytest.mark.parametrize(
    "command",
    [
        "find . -name x -delete",
        "find . -exec rm {} \\;",
        "find . -execdir sh -c x \\;",
        "find . -ok rm {} \\;",
        "find . -fprint /tmp/list",
        "sed -i s/a/b/ lib/util.py",
        "sed -e 'w /tmp/out' lib/util.py",
        "sed --expression='1e id' lib/util.py",
        "sed 's/a/b/e' lib/util.py",
        "sed 's/a/b/w /tmp/out' lib/util.py",
        "sed -n 'r .env' lib/util.py",
        "sed -f script.sed lib/util.py",
        "sed 's/[/]/x/;e id' lib/util.py",  # sed ends a regex later than the reader
        "awk 'BEGIN { system(\"id\") }'",
        "awk '{ print > \"/tmp/x\" }' lib/util.py",
        "rsync -e ./evil a b",
    ],
)
def test_even_an_exact_rule_never_covers_a_forbidden_option(project: Path, command: str) -> None:
    # The rule names the command exactly, as "Always" on it would make it.
    rule = always(command, project)
    assert rule.pattern is not None
    assert rule.label is not None
    assert literal_texts(rule.pattern) == {rule.label.removeprefix("Bash: ")}
    assert not covers(rule, command, project)


def test_sed_rule_for_a_plain_script_still_matches(project: Path) -> None:
    for command in ("sed -n 1p lib/util.py", "sed -n '/x/,/y/p;s/a/b/g' lib/util.py"):
        assert covers(always(command, project), command, project), command


def test_recursive_reads_of_a_tree_with_secrets_are_not_covered(project: Path) -> None:
    rule = always("grep -rn TODO lib", project)
    assert covers(rule, "grep -rn FIXME lib", project)
    assert not covers(rule, "grep -r KEY .", project)
    assert not covers(rule, "grep -r KEY", project)  # grep -r with no operand reads "."
    assert not covers(always("rg TODO lib", project), "rg KEY", project)
    diff = broad("diff")
    assert not covers(diff, "diff -rN --from-file=. lib", project)
    assert covers(diff, "diff lib/util.py src/app.py", project)


# -- compound commands and cd -------------------------------------------------------


def test_cd_must_stay_inside_by_text_and_physically(project: Path) -> None:
    rule = always("cat /etc/hostname", project)
    (project.parent / "outside.txt").write_text("not yours\n")
    assert covers(rule, "cd l && cat x", project)
    # l -> a/b/c: bash's cd resolves l/../.. by text, to the project's parent
    assert not covers(rule, "cd l/../.. && cat outside.txt", project)
    assert not covers(rule, "cd .. && cat outside.txt", project)
    assert not covers(rule, "pushd src && cat link", project)
    assert is_inert(["cd", "src"], str(project))
    assert not is_inert(["cd", "l/../.."], str(project))
    assert not is_inert(["cd", "vendor/trap.git"], str(project))


def test_several_rules_cover_a_compound_command_together(project: Path) -> None:
    rules = [always("npm test", project), always("git status", project)]
    both = {"command": "cd src && npm test && git status"}
    assert find_matching(rules, "Bash", both, str(project)) is rules[0]
    bad = {"command": "npm test && git status --output=x"}
    assert find_matching(rules, "Bash", bad, str(project)) is None
    assert covering_rule(rules, "echo done", str(project)) is None  # nothing approved in it


def test_covers_argv_applies_the_bounds(project: Path) -> None:
    rule = always("cat /etc/hostname", project)
    assert rule.covers_argv(["cat", "lib/util.py"], str(project))
    assert not rule.covers_argv(["cat", ".env"], str(project))


# -- everyday rules -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("approved", "later"),
    [
        ("npm test", "npm test -- --watch=false"),
        ("npm run lint", "npm run lint -- --fix"),
        ("git commit -m x", "git commit -m y"),
        ("pytest -q", "pytest tests/unit"),
        ("pytest -q", "pytest -x --basetemp=tmp/pt"),
        ("make build", "make build -j4 VERBOSE=1"),
        ("ruff check src", "ruff check --fix lib"),
        ("git stash list", "git stash list --date=relative"),
        ("gh pr list", "gh pr list --state=closed"),
        ("tar tf x.tar", "tar tvf y.tar"),
        ("touch a.txt", "touch b.txt"),
    ],
)
def test_everyday_rules_still_cover_similar_calls(project: Path, approved: str, later: str) -> None:
    rule = always(approved, project)
    if approved.startswith("tar"):
        rule = broad("tar")  # tvf is another mode word than tf
    assert covers(rule, later, project)


def test_nested_subcommands_keep_their_own_word(project: Path) -> None:
    assert not covers(always("gh pr list", project), "gh pr merge 1", project)
    assert not covers(always("git stash list", project), "git stash clear", project)


# -- stored rules -------------------------------------------------------------------


def test_rules_already_in_a_store_load_and_are_bounded(project: Path, tmp_path: Path) -> None:
    storage = SessionStorage(tmp_path / "sessions.db")
    storage.save_session(StoredSession(1, "main", str(project), "2026-01-01T00:00:00", 0))
    for pattern in (r"tar(?: .*)?", r"python3\.12(?: .*)?", r"cat(?: .*)?"):
        storage.sticky.add(1, "main", "Bash", pattern, "command", f"Bash: {pattern}", None, None)
    storage.sticky.add(1, "main", "Read", None, None, "all Read", None, None)
    handler = PermissionHandler(cwd=str(project), storage=storage, chat_id=1, session_name="main")
    assert len(handler.get_sticky_approvals()) == 4

    def match(tool: str, data: dict[str, Any]) -> StickyApproval | None:
        return handler.matching_sticky(tool, data)

    assert match("Bash", {"command": "tar tf x.tar"}) is not None
    assert match("Bash", {"command": "tar xf x.tar --to-command=sh"}) is None
    assert match("Bash", {"command": "python3.12 -c 'import os'"}) is None
    assert match("Bash", {"command": "cat .env"}) is None
    assert match("Read", {"file_path": "/etc/hostname"}) is not None
    assert match("Read", {"file_path": str(project / ".env")}) is None
    assert match("Read", {"file_path": str(project / "src" / "link")}) is None


def test_a_rule_without_pattern_is_bounded_too() -> None:
    everything = StickyApproval("Bash")
    cwd = os.getcwd()
    assert everything.matches("Bash", {"command": "make"}, cwd)
    assert not everything.matches("Bash", {"command": "rm -rf /tmp/x"}, cwd)
    assert not everything.matches("Bash", {"command": "curl https://example.com"}, cwd)


def test_pattern_matches_ignores_the_bounds_for_deny_rules(project: Path) -> None:
    deny = stored(r"git push(?: .*)?")
    assert not deny.matches("Bash", {"command": "git push --force"}, str(project))
    assert deny.pattern_matches("Bash", {"command": "git push --force"}, str(project))
    assert deny.pattern_matches("Bash", {"command": "git status && git push"}, str(project))
    assert not deny.pattern_matches("Bash", {"command": "git status"}, str(project))


def test_literal_texts_reads_derived_patterns() -> None:
    assert literal_texts(re.escape("uv run pytest")) == {"uv run pytest"}
    assert literal_texts(r"(?:npm\ test(?: .*)?|python3\ x\.py)") == {"npm test", "python3 x.py"}
    assert literal_texts(r"python3 .*") == frozenset()
    assert literal_texts(r"a\d") == frozenset()
    assert literal_texts(None) == frozenset()


def test_read_rule_from_an_outside_file_covers_that_file_only(project: Path) -> None:
    rule = derive_rule("Read", {"file_path": "/etc/hostname"}, str(project))
    assert rule.matches("Read", {"file_path": "/etc/hostname"}, str(project))
    assert not rule.matches("Read", {"file_path": "/etc/passwd"}, str(project))
