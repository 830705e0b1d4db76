"""The jail's cost: time added to each auto-approved command, and what still runs unasked.

Run: ``python -m bench.jail`` (``--rounds N`` for more samples, ``--project DIR`` to
measure in a project of your own; it is only read).

For each of 20 everyday read-only commands it checks that the checker lets it run
unasked, then times it through ``bash -c`` as the user would run it and through
``bash -c`` of the jailed command the hook hands Claude Code (``Jail.wrap``, included in
the timing: the mask scan is cached and revalidated each time), alternating the two so
drift hits both. The added time is the paired difference, per run; the figures are its
median and 95th percentile over every command and round. The checker's own time per
command is shown too. The default project is generated: a git repository with ~300
source files over 40 directories, three commits, a ``.env`` and a key to mask.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import ms, percentile
from voice_agent.policy.bash import is_safe_bash_command
from voice_agent.policy.jail import Jail

EVERYDAY = [
    "git status",
    "git log --oneline -3",
    "git diff",
    "git show --stat HEAD",
    "git blame README.md",
    "git log -1 --format=%s",
    "git diff --stat HEAD~1",
    "grep -rn TODO src",
    "grep -c def src/pkg0/mod0.py",
    "find src -name '*.py'",
    "ls",
    "ls -la src",
    "cat README.md",
    "head -3 README.md",
    "tail -2 README.md",
    "wc -l src/pkg0/*.py",
    "sort names.txt",
    "diff a.txt b.txt",
    "du -sh src",
    "cat src/pkg1/mod1.py | head -2",
]


def _git(project: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=b@b", *args],
        cwd=project,
        check=True,
        capture_output=True,
    )


def make_project(root: Path) -> Path:
    """A git repository with ~300 source files, a few commits and secrets to mask."""
    project = root / "project"
    for p in range(40):
        package = project / "src" / f"pkg{p}"
        package.mkdir(parents=True)
        for m in range(7):
            body = "".join(f"def f{i}(x):\n    return x + {i}  # TODO\n\n" for i in range(20))
            (package / f"mod{m}.py").write_text(body)
    (project / "README.md").write_text("# Bench\nA project to time the jail.\nLast line\n")
    (project / "names.txt").write_text("carol\nalice\nbob\n")
    (project / "a.txt").write_text("one\ntwo\n")
    (project / "b.txt").write_text("one\nthree\n")
    _git(project, "init", "-q")
    _git(project, "add", ".")
    _git(project, "commit", "-qm", "first")
    for n in range(2):
        (project / "README.md").write_text(f"# Bench\nA project to time the jail.\nv{n}\n")
        _git(project, "commit", "-qam", f"change {n}")
    (project / "src" / "pkg0" / "mod0.py").write_text("def changed():\n    pass\n")
    (project / ".env").write_text("TOKEN=not-for-the-jail\n")
    (project / "deploy.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    return project


def _time(command: str, cwd: Path) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, check=False)
    return time.perf_counter() - start, done.returncode


def _jailed(jail: Jail, command: str, cwd: Path) -> tuple[float, int]:
    start = time.perf_counter()
    wrapped = jail.wrap(command, str(cwd))
    assert wrapped is not None, jail.problem
    done = subprocess.run(["bash", "-c", wrapped], cwd=cwd, capture_output=True, check=False)
    return time.perf_counter() - start, done.returncode


def run(project: Path, rounds: int) -> None:
    """Measure and print the figures for `project`."""
    jail = Jail()
    if not jail.works:
        raise SystemExit(f"the jail cannot run here: {jail.problem}")
    unasked = []
    check_times = []
    for command in EVERYDAY:
        start = time.perf_counter()
        safe = is_safe_bash_command(command, str(project))
        check_times.append(time.perf_counter() - start)
        if safe:
            unasked.append(command)
        else:
            print(f"asks: {command}")
    print(f"everyday read-only commands that run unasked: {len(unasked)} of {len(EVERYDAY)}")
    jail.wrap("true", str(project))  # the first scan of the project and /etc, once
    added: list[float] = []
    per_command: dict[str, list[float]] = {c: [] for c in unasked}
    mismatched = set()
    for _ in range(rounds):
        for command in unasked:
            plain, plain_rc = _time(command, project)
            jailed, jailed_rc = _jailed(jail, command, project)
            if plain_rc != jailed_rc:
                mismatched.add(command)
            added.append(jailed - plain)
            per_command[command].append(jailed - plain)
    print(f"{'command':32} added time (median)")
    for command, samples in per_command.items():
        print(f"{command:32} {ms(statistics.median(samples))}")
    print(
        f"added time per auto-approved command: median {ms(statistics.median(added))}, "
        f"p95 {ms(percentile(added, 0.95))} (n={len(added)})"
    )
    print(f"checker time per command: median {ms(statistics.median(check_times))}")
    if mismatched:
        print(f"exit status differs in the jail for: {sorted(mismatched)}")


def main() -> None:
    """Parse the arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--project", type=Path, help="a project of your own (only read)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        project = args.project.resolve() if args.project else make_project(Path(scratch))
        run(project, args.rounds)


if __name__ == "__main__":
    main()
