"""The session's own words: names from its directory, manifests, git and tool calls."""

from __future__ import annotations

import json
import os
from pathlib import Path

from voice_agent.sessions.vocabulary import (
    RecentTerms,
    directory_terms,
    session_terms,
    tool_terms,
    words_in,
)


def make_project(root: Path) -> None:
    (root / "pyproject.toml").write_text(
        '[project]\nname = "billing-api"\ndependencies = ["httpx>=0.27", "rapidfuzz"]\n'
        '[project.scripts]\nbill-now = "billing.cli:main"\n'
        '[project.optional-dependencies]\ntest = ["pytest-asyncio>=1"]\n'
    )
    (root / "package.json").write_text(
        json.dumps(
            {
                "name": "@acme/web-console",
                "scripts": {"storybook": "x"},
                "devDependencies": {"@vitejs/plugin-react": "1", "vitest": "2"},
            }
        )
    )
    (root / "Makefile").write_text("VAR := 1\n.PHONY: deploy\ndeploy: build\n\tdo\nlint-all:\n")
    (root / "Cargo.toml").write_text(
        '[package]\nname = "ledger-core"\n[dependencies]\nserde = "1"\n'
    )
    (root / "src").mkdir()
    (root / "test_invoices.py").write_text("SECRET_TOKEN = 'never-in-the-vocabulary'\n")
    (root / "client.py").write_text("")
    (root / "__pycache__").mkdir()
    (root / ".hidden_thing").write_text("")
    git = root / ".git"
    (git / "refs" / "heads" / "feature").mkdir(parents=True)
    (git / "refs" / "remotes" / "upstream").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/invoice-export\n")
    (git / "refs" / "heads" / "main").write_text("0" * 40)
    (git / "refs" / "heads" / "feature" / "pdf-render").write_text("0" * 40)
    (git / "packed-refs").write_text(f"{'1' * 40} refs/heads/old-ledger\n")
    (git / "config").write_text('[remote "origin"]\nurl = https://user:hunter2@example.com/x\n')


def test_names_from_the_directory_manifests_and_git(tmp_path: Path) -> None:
    make_project(tmp_path)
    terms = directory_terms(str(tmp_path))
    for name in [
        "billing-api",  # project names
        "web-console",
        "ledger-core",
        "invoice-export",  # current branch
        "bill-now",  # scripts and Makefile targets
        "storybook",
        "deploy",
        "lint-all",
        "client.py",  # entries, kept whole, and their stems and words
        "client",
        "test_invoices.py",
        "invoices",
        "pyproject.toml",
        "httpx",  # dependencies
        "rapidfuzz",
        "pytest-asyncio",
        "vitest",
        "plugin-react",
        "serde",
        "feature/pdf-render",  # other branches, remotes
        "pdf-render",
        "old-ledger",
        "upstream",
    ]:
        assert name in terms, name
    ranked = [terms.index(n) for n in ("billing-api", "invoice-export", "deploy", "client.py")]
    assert ranked == sorted(ranked)
    assert terms.index("client.py") < terms.index("httpx") < terms.index("invoices")
    for skipped in ("__pycache__", ".hidden_thing", "VAR"):
        assert skipped not in terms
    assert not any("hunter2" in t or "never" in t or "SECRET" in t for t in terms)


def test_secret_files_are_never_offered_nor_read(tmp_path: Path) -> None:
    for name in ["secrets.yaml", "id_rsa", "prod.env", "credentials.json", "deploy.pem"]:
        (tmp_path / name).write_text("deploy-token: abc\n")
    (tmp_path / "app.py").write_text("")
    outside = tmp_path.parent / f"{tmp_path.name}-keys.env"
    outside.write_text("leaked-target:\n")
    (tmp_path / "Makefile").symlink_to(outside)  # a manifest linking out is not read
    terms = directory_terms(str(tmp_path))
    assert "app.py" in terms
    for word in ["secrets", "id_rsa", "prod", "prod.env", "credentials", "deploy", "leaked-target"]:
        assert word not in terms, word
    assert session_terms(str(tmp_path), names=["api", ".env", "id_ed25519"]) == [
        "api",
        *terms,
    ]


def test_cached_until_the_directory_or_a_manifest_changes(tmp_path: Path) -> None:
    (tmp_path / "alpha.py").write_text("")
    first = directory_terms(str(tmp_path))
    assert directory_terms(str(tmp_path)) is first  # cached
    (tmp_path / "beta.py").write_text("")
    os.utime(tmp_path, ns=(1, 1))  # a new mtime, whatever the clock's resolution
    assert "beta.py" in directory_terms(str(tmp_path))
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "gamma-service"\n')
    os.utime(tmp_path, ns=(2, 2))
    second = directory_terms(str(tmp_path))
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "delta-service-x"\n')
    assert "delta-service-x" in directory_terms(str(tmp_path)) is not second


def test_broken_or_missing_never_fails(tmp_path: Path) -> None:
    assert directory_terms(None) == ()
    assert directory_terms(str(tmp_path / "missing")) == ()
    (tmp_path / "pyproject.toml").write_text("[project\nname = ")
    (tmp_path / "package.json").write_text("{not json")
    (tmp_path / "Cargo.toml").write_text("[package]\nname = 3\nbin = 'x'\n")
    (tmp_path / ".git").write_text("gitdir: /nowhere/at/all\n")
    (tmp_path / "app.py").write_text("")
    assert "app.py" in directory_terms(str(tmp_path))
    path = tmp_path / "file.txt"
    assert directory_terms(str(path)) == ()


def test_large_manifests_are_not_read(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "huge"\n' + "#" * 300_000)
    assert "huge" not in directory_terms(str(tmp_path))


def test_a_worktree_git_file_is_followed(tmp_path: Path) -> None:
    real = tmp_path / "real-git"
    (real / "refs" / "heads").mkdir(parents=True)
    (real / "HEAD").write_text("ref: refs/heads/hotfix-login\n")
    work = tmp_path / "work"
    work.mkdir()
    (work / ".git").write_text(f"gitdir: {real}\n")
    assert "hotfix-login" in directory_terms(str(work))


def test_links_inside_git_never_lend_their_names(tmp_path: Path) -> None:
    # A repository links refs/heads and refs/remotes to private folders of the home.
    store = tmp_path / "home" / ".password-store"
    (store / "bank").mkdir(parents=True)
    (store / "bank" / "acme-bank-login.gpg").write_text("x")
    (store / "prod-db-root.gpg").write_text("x")
    project = tmp_path / "home" / "proj"
    (project / ".git" / "refs").mkdir(parents=True)
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (project / ".git" / "refs" / "heads").symlink_to(store, target_is_directory=True)
    (project / ".git" / "refs" / "remotes").symlink_to(store, target_is_directory=True)
    (project / "app.py").write_text("x = 1\n")
    terms = directory_terms(str(project))
    assert not [t for t in terms if "bank" in t or "prod-db" in t or "acme" in t], terms
    assert "main" in terms  # HEAD still names the branch
    (project / ".git" / "refs" / "heads").unlink()
    (project / ".git" / "refs" / "heads").mkdir()
    (project / ".git" / "refs" / "heads" / "feature").symlink_to(store, target_is_directory=True)
    (project / ".git" / "refs" / "heads" / "login").symlink_to(store / "prod-db-root.gpg")
    (project / ".git" / "refs" / "heads" / "hotfix").write_text("0" * 40 + "\n")
    terms = directory_terms(str(project))
    assert "hotfix" in terms
    assert not [t for t in terms if "bank" in t or "prod-db" in t or "login" in t], terms


def test_many_entries_are_capped(tmp_path: Path) -> None:
    for i in range(300):
        (tmp_path / f"module_{i:03d}.py").write_text("")
    assert len(directory_terms(str(tmp_path))) == 200


def test_tool_calls_give_program_and_file_names() -> None:
    assert tool_terms("Bash", {"command": "ruff check src && pytest -q tests/test_api.py"}) == [
        "ruff",
        "ruff check",
        "pytest",
        "test_api.py",
    ]
    secret = "API_KEY=sk-live-123 curl -H 'Authorization: x' https://h/ | jq . ; cat .env"
    terms = tool_terms("Bash", {"command": secret})
    assert {"curl", "jq", "cat"} <= set(terms)
    assert not any("sk-live" in t or "env" in t or "Authorization" in t for t in terms)
    assert tool_terms("Read", {"file_path": "/repo/src/client.py"}) == ["client.py"]
    assert tool_terms("Read", {"file_path": "/home/u/.ssh/config"}) == []
    assert tool_terms("Edit", {"file_path": "/repo/secrets.yaml"}) == []
    assert tool_terms("Grep", {"pattern": "password=.*"}) == []
    assert tool_terms("Bash", {"command": "echo 'unterminated"}) == ["echo"]


def test_recent_terms_are_newest_first_and_bounded() -> None:
    recent = RecentTerms(size=4)
    recent.add("Read", {"file_path": "/r/alpha.py"})
    recent.add("Bash", {"command": "make deploy"})
    recent.add("Read", {"file_path": "/r/alpha.py"})
    assert recent.terms() == ["alpha.py", "make", "make deploy"]
    assert session_terms(None, names=["api"], recent=recent.terms())[:2] == ["api", "alpha.py"]


def test_words_inside_names() -> None:
    assert words_in("test_invoice-export.py") == ["test", "invoice", "export", "py"]
    assert words_in("WebConsole") == ["Web", "Console"]
