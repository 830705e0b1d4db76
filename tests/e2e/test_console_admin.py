"""``voice-agent sessions`` and ``audit`` where the store or the owner does the unusual.

Each test starts the installed script as a subprocess (see :mod:`tests.e2e.console`)
on a store the test made: text from the store holding terminal escapes is shown,
never obeyed; ``sessions export -o`` never writes over the store and says why it
cannot write, without a traceback; Ctrl-C or Ctrl-D at the ``delete`` question
cancels cleanly.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import closing
from pathlib import Path

import pytest

from tests.e2e.console import Finished, Terminal, run, user_env
from voice_agent.sessions import SessionStorage, StoredSession
from voice_agent.store.records import AuditEntry

CHAT = 7


def _store(tmp_path: Path) -> Path:
    """A store like the bot leaves it: sessions in two chats, three decisions."""
    path = tmp_path / "data" / "sessions.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(SessionStorage(path)) as storage:
        storage.save_session(StoredSession(CHAT, "main", "/code", "2026-11-01T10:00:00", 3, "abc"))
        storage.save_session(StoredSession(CHAT, "api", "/code/api", "2026-11-02T10:00:00", 1))
        storage.set_active_session(CHAT, "main")
        storage.save_session(StoredSession(8, "main", "/other", "2026-11-03T10:00:00", 0))
        for tool, summary, decision in (
            ("Bash", "rm -rf build", "denied"),
            ("Read", "src/app.py", "auto"),
            ("Write", "notes.md", "approved"),
        ):
            storage.audit.record(AuditEntry(tool, summary, decision, chat_id=CHAT))
    return path


async def _all(tmp_path: Path, *commands: list[str]) -> list[Finished]:
    env = user_env(tmp_path)
    return list(await asyncio.gather(*(run(args, env, tmp_path) for args in commands)))


def _names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


# What a model (or a chat's owner) can put in the store and a terminal would obey: clear
# the line, move up, set the window title, recolour; a C1 CSI; a right-to-left override.
TRICKS = "\x1b[2K\x1b[1A\x1b]0;owned\x07 \x1b[32mapproved\x1b[0m \x9b2J \u202eexe.txt"
HIDDEN = ("\x1b", "\x07", "\x9b", "\u202e")


async def test_what_comes_from_the_store_is_shown_not_obeyed(tmp_path: Path) -> None:
    path = tmp_path / "data" / "sessions.db"
    path.parent.mkdir(parents=True)
    name = "api\x1b[2Kx"
    with closing(SessionStorage(path)) as storage:
        storage.save_session(StoredSession(CHAT, name, f"/code/{TRICKS}", "2026-11-01", 1))
        storage.sticky.add(CHAT, name, "Bash", "ls", "command", f"Bash: ls {TRICKS}")
        storage.topics.bind(CHAT, 12, name, f"topic {TRICKS}")
        storage.audit.record(
            AuditEntry(
                "Write",
                f"/code/{TRICKS}",
                "denied",
                chat_id=CHAT,
                session_name=name,
                rule=f"reason {TRICKS}",
                ts="2026-11-20T09:00:00+00:00",
            )
        )
    audit, as_json, listing, show = await _all(
        tmp_path,
        ["audit"],
        ["audit", "--json"],
        ["sessions"],
        ["sessions", "show", str(CHAT), name],
    )
    for done in (audit, as_json, listing, show):
        assert done.status == 0, done.err
        assert not [c for c in HIDDEN if c in done.out], repr(done.out)
    assert "Write: /code/\\x1b[2K\\x1b[1A\\x1b]0;owned\\x07 \\x1b[32mapproved" in audit.out
    assert "\\x9b2J \\u202eexe.txt [reason \\x1b[2K" in audit.out
    assert "api\\x1b[2Kx" in audit.out
    (entry,) = [json.loads(line) for line in as_json.out.splitlines()]
    assert entry["input_summary"] == f"/code/{TRICKS}"  # the JSON still holds what was logged
    assert "api\\x1b[2Kx" in listing.out
    assert "/code/\\x1b[2K" in listing.out
    assert "Session api\\x1b[2Kx in chat 7" in show.out
    assert "working directory: /code/\\x1b[2K" in show.out
    assert "#1 Bash: ls \\x1b[2K" in show.out
    assert "forum topic: 12 (topic \\x1b[2K" in show.out


async def test_an_export_never_writes_over_the_store(tmp_path: Path) -> None:
    store = _store(tmp_path)
    before = store.read_bytes()
    (tmp_path / "link.json").symlink_to(store)
    (tmp_path / "hard.json").hardlink_to(store)
    refused = await _all(
        tmp_path,
        ["sessions", "export", "-o", str(store)],
        ["sessions", "export", "-o", "data/../data/sessions.db"],  # relative, another spelling
        ["sessions", "export", "-o", "link.json"],
        ["sessions", "export", "-o", "hard.json"],
        ["sessions", "export", "-o", str(store) + "-wal"],
        ["sessions", "export", "-o", str(store) + ".lock"],
    )
    for done in refused:
        assert done.status == 1, (done.out, done.err)
        assert "Traceback" not in done.err
        assert done.err.count("\n") == 1, done.err
        assert "export to another file" in done.err
    assert "it is the store; export to another file" in refused[0].err
    assert store.read_bytes() == before
    assert _names(store.parent) == ["sessions.db"]  # no -wal or .lock written
    listing, audit = await _all(tmp_path, ["sessions"], ["audit"])
    assert listing.status == 0, listing.err
    assert "*main" in listing.out
    assert "/code/api" in listing.out
    assert len(audit.out.splitlines()) == 3


async def test_an_export_to_where_it_cannot_write_says_why(tmp_path: Path) -> None:
    _store(tmp_path)
    old = tmp_path / "old.json"
    old.write_text("the last export\n")
    old.chmod(0o640)
    missing, directory, over = await _all(
        tmp_path,
        ["sessions", "export", "-o", str(tmp_path / "nowhere" / "x.json")],
        ["sessions", "export", "-o", str(tmp_path)],
        ["sessions", "export", "-o", "old.json"],
    )
    assert missing.status == 1
    assert missing.err == (
        f"voice-agent: nothing exported to {tmp_path / 'nowhere' / 'x.json'}: "
        f"there is no directory {tmp_path / 'nowhere'}\n"
    )
    assert directory.status == 1
    assert directory.err == f"voice-agent: nothing exported to {tmp_path}: it is a directory\n"
    assert (missing.out, directory.out) == ("", "")
    assert over.status == 0, over.err
    assert set(json.loads(old.read_text())) == {"7", "8"}
    assert old.stat().st_mode & 0o777 == 0o640  # written over, its permissions kept
    assert [name for name in _names(tmp_path) if "json" in name] == ["old.json"]  # no temporary


@pytest.mark.parametrize(("key", "status"), [("\x03", 130), ("\x04", 1)])
def test_ctrl_c_or_ctrl_d_at_the_delete_question_cancels(
    tmp_path: Path, key: str, status: int
) -> None:
    store = _store(tmp_path)
    args = ["sessions", "delete", str(CHAT), "api"]
    with Terminal(args, user_env(tmp_path), tmp_path, controlling=True) as term:
        term.expect("Delete session 'api' of chat 7? [y/N] ")
        term.press(key)
        assert term.wait() == status
        assert "Traceback" not in term.stderr
        assert term.stderr == ""
        assert term.since_mark().endswith("\nCancelled; nothing was deleted.\n")
    with closing(SessionStorage(store)) as storage:
        assert storage.get_session(CHAT, "api") is not None
