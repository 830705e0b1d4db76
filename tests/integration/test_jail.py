"""The jail, judged by effects: real bubblewrap runs each wrapped command through bash.

Each test builds a world (a home with a canary, a project with secrets and outward
links, a listening socket) and runs a command the checker would never pass, to show
that even then the jail keeps it from reading, writing, connecting or lingering.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from voice_agent.policy.jail import Jail, JailMode, needs_no_files

CANARY = "CANARY-jail-7f3a9c"

if shutil.which("bwrap") is None and not os.environ.get("CI"):
    pytest.skip("bubblewrap is not installed (apt install bubblewrap)", allow_module_level=True)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(CANARY)
    (home / "notes.txt").write_text(CANARY)
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "app.py").write_text("print('hello')\n")
    (project / ".env").write_text(f"TOKEN={CANARY}\n")
    (project / ".env.production").write_text(f"TOKEN={CANARY}\n")
    (project / "keys").mkdir()
    (project / "keys" / "server.pem").write_text(CANARY)
    (project / ".aws").mkdir()
    (project / ".aws" / "credentials").write_text(CANARY)
    (project / "home-link").symlink_to(home)
    (project / "key-link").symlink_to(home / ".ssh" / "id_rsa")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", CANARY)
    return project


def run(jail: Jail, command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    wrapped = jail.wrap(command, str(cwd))
    assert wrapped is not None, jail.problem
    return subprocess.run(
        ["bash", "-c", wrapped], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def jail() -> Jail:
    made = Jail()
    assert made.works, made.problem
    return made


def test_normal_output_and_exit_status(jail: Jail, world: Path) -> None:
    done = run(jail, "cat src/app.py; ls src", world)
    assert done.stdout == "print('hello')\napp.py\n"
    assert done.returncode == 0
    failed = run(jail, "cat missing.txt", world)
    assert failed.returncode == 1
    assert "No such file" in failed.stdout  # stderr comes with stdout


@pytest.mark.parametrize(
    "command",
    [
        "cat .env .env.production keys/server.pem .aws/credentials",
        "cat key-link home-link/notes.txt",
        "cat ~/.ssh/id_rsa ~/notes.txt",
        "cat $HOME/../home/notes.txt",
        "grep -r CANARY . ~ /tmp /etc 2>/dev/null",
        "env; cat /proc/self/environ; cat /proc/1/environ",
        "cat /proc/$PPID/environ",
    ],
)
def test_no_secret_is_readable(jail: Jail, world: Path, command: str) -> None:
    done = run(jail, command, world)
    assert CANARY not in done.stdout + done.stderr


def test_masked_files_look_empty(jail: Jail, world: Path) -> None:
    done = run(jail, "wc -c .env .env.production keys/server.pem; ls -A .aws | wc -l", world)
    assert done.stdout.split() == [
        *("0", ".env", "0", ".env.production", "0", "keys/server.pem", "0", "total", "0")
    ]


def test_system_secrets_are_masked(jail: Jail, world: Path) -> None:
    done = run(jail, "wc -c < /etc/shadow; ls /etc/passwd", world)
    assert done.stdout.splitlines() == ["0", "/etc/passwd"]


@pytest.mark.parametrize(
    "command",
    [
        "touch new.txt",
        "echo x > src/app.py",
        "rm -f src/app.py",
        "mkdir made",
        "echo x > home-link/planted",
        "echo x > ~/planted",
    ],
)
def test_nothing_is_written(jail: Jail, world: Path, command: str) -> None:
    before = {p: p.read_bytes() for p in world.rglob("*") if p.is_file() and not p.is_symlink()}
    home = world.parent / "home"
    home_before = sorted(p.name for p in home.rglob("*"))
    run(jail, command, world)
    after = {p: p.read_bytes() for p in world.rglob("*") if p.is_file() and not p.is_symlink()}
    assert after == before
    assert sorted(p.name for p in home.rglob("*")) == home_before
    assert not (world / "made").exists()


def test_no_network(jail: Jail, world: Path) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        done = run(jail, f"echo {CANARY} > /dev/tcp/127.0.0.1/{port} && echo connected", world)
        server.settimeout(0.2)
        with pytest.raises(TimeoutError):
            server.accept()
    assert "connected" not in done.stdout
    assert done.returncode != 0


def test_own_pid_namespace(jail: Jail, world: Path) -> None:
    done = run(jail, f"kill -0 {os.getpid()} && echo visible; ls /proc | grep -c '^[0-9]'", world)
    assert "visible" not in done.stdout
    assert int(done.stdout.split()[-1]) < 10


def test_git_refuses_a_bare_repository_and_runs_no_configured_program(
    jail: Jail, world: Path
) -> None:
    trap = world.parent / "trap.sh"
    marker = world.parent / "trap.ran"
    trap.write_text(f"#!/bin/sh\ntouch {marker}\necho TRAP\n")
    trap.chmod(0o755)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q", str(world)], check=True)
    subprocess.run([*git, "-C", str(world), "add", "src"], check=True)
    subprocess.run([*git, "-C", str(world), "commit", "-qm", "one"], check=True)
    for key in ("core.fsmonitor", "core.pager", "credential.helper"):
        subprocess.run(["git", "-C", str(world), "config", key, str(trap)], check=True)
    bare = world / "bare"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    for key in ("core.pager", "diff.external", "core.fsmonitor"):
        subprocess.run(["git", "-C", str(bare), "config", key, str(trap)], check=True)
    (world / "src" / "app.py").write_text("print('changed')\n")
    done = run(jail, "git status --short; git diff; git log --oneline", world)
    assert done.returncode == 0
    assert " M src/app.py" in done.stdout  # the session's repository works, natively
    assert "+print('changed')" in done.stdout
    assert "TRAP" not in done.stdout
    done = run(jail, "git -C bare log; git -C bare status; git -C bare diff HEAD", world)
    assert "cannot use bare repository" in done.stdout
    assert "TRAP" not in done.stdout
    assert not marker.exists()


def test_a_program_the_repository_configures_stays_in_the_jail(jail: Jail, world: Path) -> None:
    marker = world.parent / "trap.ran"
    trap = world / "trap.sh"
    trap.write_text(f"#!/bin/sh\ntouch {marker} ~/../planted\ncat ~/.ssh/id_rsa\n")
    trap.chmod(0o755)
    subprocess.run(["git", "init", "-q", str(world)], check=True)
    subprocess.run(["git", "-C", str(world), "config", "diff.external", str(trap)], check=True)
    subprocess.run(["git", "-C", str(world), "add", "src"], check=True)
    (world / "src" / "app.py").write_text("print('changed')\n")
    done = run(jail, "git diff", world)
    assert CANARY not in done.stdout
    assert not marker.exists()


def test_time_limit(world: Path) -> None:
    jail = Jail(time_limit=0.5)
    done = run(jail, "sleep 30; echo finished", world)
    assert "finished" not in done.stdout
    assert done.returncode != 0


def test_output_limit(world: Path) -> None:
    jail = Jail(output_limit=1000)
    done = run(jail, "yes", world)
    assert len(done.stdout) == 1000
    assert done.returncode != 0


def test_unavailable_jail_wraps_nothing(tmp_path: Path) -> None:
    jail = Jail(bwrap=str(tmp_path / "no-such-bwrap"))
    assert not jail.works
    assert jail.problem is not None
    assert jail.wrap("ls", str(tmp_path)) is None


def test_a_failing_bwrap_explains_itself(tmp_path: Path) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    fake.chmod(0o755)
    jail = Jail(bwrap=str(fake))
    assert jail.problem is not None
    assert "uid map" in jail.problem
    assert "checker-only" in jail.problem


def test_checker_only_wraps_nothing(tmp_path: Path) -> None:
    jail = Jail(JailMode.CHECKER_ONLY)
    assert not jail.works
    assert jail.wrap("ls", str(tmp_path)) is None


def test_a_tree_too_big_to_scan_is_not_jailed(tmp_path: Path) -> None:
    for i in range(20):
        (tmp_path / f"f{i}").write_text("x")
    assert Jail(scan_limit=10).wrap("ls", str(tmp_path)) is None
    assert Jail(scan_limit=100).wrap("ls", str(tmp_path)) is not None


def test_a_new_secret_is_masked_at_once(jail: Jail, world: Path) -> None:
    assert run(jail, "cat src/app.py", world).returncode == 0
    (world / "src" / ".env").write_text(CANARY)  # after the first scan
    assert CANARY not in run(jail, "cat src/.env", world).stdout


def test_commands_that_touch_no_file() -> None:
    assert needs_no_files("echo hi && pwd; date +%s")
    assert not needs_no_files("cat README.md")
    assert not needs_no_files("echo hi < .env")
    assert not needs_no_files("echo $(cat .env)")
