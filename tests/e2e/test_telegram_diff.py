"""Diffs on the phone, end to end: /diff, the 📄 Diff button after a turn, Edit prompts in place."""

from __future__ import annotations

import subprocess
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e.conftest import CliHarness
from tests.e2e.telegram_harness import OWNER, BotHarness, running_bot, team_bot
from tests.fakes.anthropic import Reply
from tests.fakes.telegram_types import StoredMessage

pytestmark = pytest.mark.e2e

GIT = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com"]
APP = "".join(f"value_{n} = {n}\n" for n in range(1, 21))


@pytest.fixture
async def bot(harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    async with running_bot(harness, tmp_path, monkeypatch) as running:
        yield running


def git(repo: Path, *args: str) -> None:
    subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True)


def _repository(root: Path) -> None:
    git(root, "init", "-q")
    (root / "app.py").write_text(APP)
    (root / "README.md").write_text("# Demo\n")
    git(root, "add", "app.py", "README.md")
    git(root, "commit", "-qm", "first")


def _after(bot: BotHarness, message: StoredMessage) -> Any:
    return lambda m: m.from_bot and m.message_id > message.message_id


async def _document(bot: BotHarness, after: int = 0) -> StoredMessage:
    return await bot.reply(lambda m: m.from_bot and m.document is not None and m.message_id > after)


async def _photo(bot: BotHarness, after: int) -> Image.Image:
    shown = await bot.reply(lambda m: m.from_bot and m.photo is not None and m.message_id > after)
    assert shown.photo is not None
    return Image.open(BytesIO(bot.tg.download(shown.photo.file_id)))


async def test_diff_sends_staged_unstaged_and_new_files_with_a_button_each(
    bot: BotHarness,
) -> None:
    root = bot.cli.workdir
    _repository(root)
    (root / "app.py").write_text(APP.replace("value_4 = 4", "value_4 = 40"))
    git(root, "add", "app.py")  # staged
    (root / "README.md").write_text("# Demo\n\nMore words.\n")  # not staged
    (root / "todo.txt").write_text("write the docs\n")  # untracked
    (root / ".env").write_text("TOKEN=CANARY-secret\n")  # untracked, secret-looking
    bot.tg.send_text(OWNER, None, "/diff")
    sent = await _document(bot)
    assert sent.document is not None
    assert sent.document.filename == "work-uncommitted.diff"
    text = bot.tg.download(sent.document.file_id).decode()
    assert "-value_4 = 4\n+value_4 = 40\n" in text
    assert "+More words.\n" in text
    assert "+++ b/todo.txt\n@@ -0,0 +1 @@\n+write the docs\n" in text
    assert "CANARY" not in text
    assert sent.content.startswith(f"📄 Uncommitted changes in {root}")
    assert "2 files changed (1 staged, 1 not staged) · +3 −1" in sent.content
    assert "1 untracked file (all in the diff as new files)" in sent.content
    assert "🔒 Left out, they look secret: .env" in sent.content
    labels = [str(b["text"]) for b in sent.buttons]
    assert labels == [
        "📄 README.md +2 −0",
        "📄 app.py +1 −1 (staged)",
        "📄 todo.txt (new)",
    ]
    assert all(len(data.encode()) <= 64 for data in sent.callback_data)
    picture = await _photo(bot, sent.message_id)
    assert picture.size[0] >= 1000

    await bot.press(sent, "app.py")
    one = await _document(bot, sent.message_id + 1)
    assert one.document is not None
    assert one.document.filename == "app.py.diff"
    own = bot.tg.download(one.document.file_id).decode()
    assert "@@ -1,7 +1,7 @@" in own
    assert "README" not in own
    assert one.content == "📄 app.py · +1 −1"
    await _photo(bot, one.message_id)

    git(root, "checkout", "README.md")  # no change any more: the button says so
    answer = await bot.press(sent, "README.md")
    assert answer == "No diff: README.md has no uncommitted changes now."
    bot.svc.diff_links = type(bot.svc.diff_links)()  # as after a restart
    answer = await bot.press(sent, "todo.txt")
    assert "out of date" in answer


@pytest.mark.parametrize(
    "hidden",
    ["", "\r", "\f", "\v", "\x1c", "\x85", "\u2028"],
    ids=["plain", "cr", "ff", "vt", "fs", "nel", "ls"],
)
async def test_a_repository_filter_never_runs_for_diff(
    bot: BotHarness, tmp_path: Path, hidden: str
) -> None:
    # The repository's clean filter would run as the user and put their key in the
    # diff. Git reads a lone CR (or form feed…) in a comment as part of the comment,
    # so "[filter "fmt"] ;<CR>[x]" still defines filter.fmt.clean: never run it.
    root = bot.cli.workdir
    _repository(root)
    canary = "CANARY-ssh-key-0123456789"
    key = tmp_path / "home" / ".ssh" / "id_rsa"
    key.parent.mkdir(parents=True)
    key.write_text(f"KEY {canary}\n")
    ran = tmp_path / "trap.ran"
    trap = root / "tools" / "fmt.sh"
    trap.parent.mkdir()
    trap.write_text(f"#!/bin/sh\ntouch {ran}\ncat; cat {key}\n")
    trap.chmod(0o755)
    config = root / ".git" / "config"
    config.write_bytes(
        config.read_bytes() + f'[filter "fmt"] ;{hidden}[x]\n\tclean = {trap}\n'.encode()
    )
    (root / ".git" / "info").mkdir(exist_ok=True)
    (root / ".git" / "info" / "attributes").write_text("app.py filter=fmt\n")
    (root / "app.py").write_text(APP + "value_21 = 21\n")
    bot.tg.send_text(OWNER, None, "/diff")
    await bot.reply(lambda m: m.from_bot and "names a program git would run" in m.content)
    assert not ran.exists()
    assert all(m.document is None for m in bot.messages())
    assert not any(canary in text for text in bot.bot_texts())


async def test_diff_outside_a_repository_and_without_changes(bot: BotHarness) -> None:
    bot.tg.send_text(OWNER, None, "/diff")
    await bot.reply(f"No diff: {bot.cli.workdir} is not in a git repository.")
    _repository(bot.cli.workdir)
    bot.tg.send_text(OWNER, None, "/diff")
    await bot.reply(f"✨ No uncommitted changes in {bot.cli.workdir}.")
    assert not [m for m in bot.messages() if m.from_bot and m.document is not None]


async def test_a_changed_minified_file_is_drawn_quickly_and_never_stalls_the_bot(
    bot: BotHarness,
) -> None:
    # One 200 KB line, a word in seven changed: comparing its words took minutes,
    # on the bot's event loop.
    root = bot.cli.workdir
    _repository(root)
    words = [f"w{n:05}" for n in range(30_000)]
    (root / "bundle.min.js").write_text("var x=[" + ",".join(words) + "];\n")
    git(root, "add", "bundle.min.js")
    git(root, "commit", "-qm", "bundle")
    changed = [("zz" if n % 7 == 0 else word) for n, word in enumerate(words)]
    (root / "bundle.min.js").write_text("var x=[" + ",".join(changed) + "];\n")
    bot.tg.send_text(OWNER, None, "/diff")
    sent = await _document(bot)
    picture = await _photo(bot, sent.message_id)
    assert picture.width >= 1000
    assert [str(b["text"]) for b in sent.buttons] == ["📄 bundle.min.js +1 −1"]
    bot.tg.send_text(OWNER, None, "/quiet")  # the bot still answers
    await bot.reply(lambda m: m.from_bot and "Use /quiet" in m.content)


async def test_a_turn_that_wrote_a_file_offers_its_diff(bot: BotHarness) -> None:
    root = bot.cli.workdir
    _repository(root)
    bot.cli.fake.enqueue(
        Reply.tool_use("Write", {"file_path": str(root / "made.py"), "content": "x = 1\n"}),
        Reply.text("Made it."),
    )
    bot.svc.manager.set_permission_mode(OWNER, "acceptEdits")
    bot.tg.send_text(OWNER, None, "make a file")
    listing = await bot.reply("Files changed: made.py")
    assert [str(b["text"]) for b in listing.buttons][-1] == "📄 Diff"
    await bot.press(listing, "📄 Diff")
    sent = await _document(bot, listing.message_id)
    assert sent.document is not None
    assert (
        "+++ b/made.py\n@@ -0,0 +1 @@\n+x = 1\n" in bot.tg.download(sent.document.file_id).decode()
    )


async def test_an_edit_prompt_shows_the_change_where_it_is_in_the_file(bot: BotHarness) -> None:
    target = bot.cli.workdir / "app.py"
    target.write_text(APP)
    edit = {"file_path": str(target), "old_string": "value_6 = 6\n", "new_string": "value_6 = 60\n"}
    bot.cli.fake.enqueue(
        Reply.tool_use("Read", {"file_path": str(target)}),
        Reply.tool_use("Edit", edit),
        Reply.text("Edited."),
    )
    bot.tg.send_text(OWNER, None, "change value 6")
    prompt = await bot.approval_prompt()
    lines = prompt.content.splitlines()
    assert "@@ -3,7 +3,7 @@" in lines
    assert lines[lines.index("@@ -3,7 +3,7 @@") + 1 :][:8] == [
        " value_3 = 3",
        " value_4 = 4",
        " value_5 = 5",
        "-value_6 = 6",
        "+value_6 = 60",
        " value_7 = 7",
        " value_8 = 8",
        " value_9 = 9",
    ]
    await bot.press(prompt, "Approve")
    await bot.reply(lambda m: m.from_bot and "Edited." in m.content)
    assert "value_6 = 60\n" in target.read_text()


async def test_an_edit_of_thousands_of_lines_is_asked_at_once(bot: BotHarness) -> None:
    # Code repeats lines ("", "}"): an exact line diff of 8,000 of them took minutes,
    # on the bot's event loop, before the prompt was sent.
    target = bot.cli.workdir / "big.py"
    old = "".join(f"def f{n}(x):\n    return x\n\n}}\n" for n in range(2000))
    new = "".join(f"def g{n}(y):\n    return y\n\n}}\n" for n in range(2000))
    target.write_text("# head\n" + old)
    edit = {"file_path": str(target), "old_string": old, "new_string": new}
    bot.cli.fake.enqueue(
        Reply.tool_use("Read", {"file_path": str(target)}),
        Reply.tool_use("Edit", edit),
        Reply.text("Renamed them all."),
    )
    bot.tg.send_text(OWNER, None, "rename every function")
    prompt = await bot.approval_prompt()
    assert "✏️ Edit big.py" in prompt.content
    await bot.press(prompt, "Approve")
    await bot.reply(lambda m: m.from_bot and "Renamed them all." in m.content)
    assert target.read_text() == "# head\n" + new


async def test_a_chatter_may_not_read_diffs(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group, chatter = -100777, 3003
    async with team_bot(harness, tmp_path, monkeypatch, group, chatter) as bot:
        _repository(bot.cli.workdir)
        (bot.cli.workdir / "app.py").write_text("changed\n")
        refused = "Only an approver can see the working directory's diffs."
        bot.tg.send_text(group, chatter, "/diff")
        await bot.reply(lambda m: m.from_bot and m.content == refused, group)
        assert not [m for m in bot.messages(group) if m.from_bot and m.document is not None]
        bot.tg.send_text(group, OWNER, "/diff")  # the owner may; Carol may not press its buttons
        sent = await bot.reply(lambda m: m.from_bot and m.document is not None, group)
        button = next(b for b in sent.buttons if "app.py" in str(b.get("text")))
        pressed = bot.tg.press_button(group, chatter, sent.message_id, str(button["callback_data"]))
        answer = await bot.tg.wait_for(
            lambda: next(
                (
                    a
                    for a in bot.tg.callback_answers
                    if a.callback_query_id == pressed.callback_query_id
                ),
                None,
            ),
            30,
        )
        assert answer.text == refused
        documents = [m for m in bot.messages(group) if m.from_bot and m.document is not None]
        assert documents == [sent]
