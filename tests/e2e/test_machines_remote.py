"""A session on another machine: the phone's features use that machine, or say why not.

The hub and a worker are processes on a real nats-server (:mod:`tests.e2e.machines_world`).
In the tests both share one disk, which is what makes a wrong read visible: a feature
that read the hub's disk at the worker's path would find the worker's file there.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import CliHarness
from tests.e2e.machines_world import OWNER, WAIT, World, dump, machines_world
from tests.e2e.telegram_harness import running_bot
from tests.fakes.anthropic import Reply
from tests.fakes.audio import voice_note
from tests.fakes.speech_servers import Answer, FakeSpeechServer
from voice_agent.telegram.services import Services

pytestmark = pytest.mark.e2e

SCOPE = {"type": "chat", "chat_id": OWNER}
APP = "".join(f"value_{n} = {n}\n" for n in range(1, 13))


async def test_a_remote_sessions_menu_lists_that_machines_project_commands(
    harness: CliHarness, tmp_path: Path
) -> None:
    async with machines_world(tmp_path, harness, ("alpha",)) as world:
        commands = world.dirs["alpha"] / ".claude" / "commands"
        commands.mkdir(parents=True)
        (commands / "deploy-alpha.md").write_text(
            "---\ndescription: Ship it from alpha\n---\nDEPLOY-MARKER $ARGUMENTS\n"
        )
        assert world.tg.commands_for(SCOPE) == []
        harness.fake.enqueue(Reply.text("hello from alpha"))
        world.say("on alpha: hi")
        await world.reply(lambda m: "hello from alpha" in m.content and "🖥 alpha" in m.content)
        menu = {c["command"]: c["description"] for c in world.tg.commands_for(SCOPE)}
        assert menu.get("deploy_alpha", "").startswith("Ship it from alpha"), dump(world)
        assert "compact" in menu  # Claude Code's own, as alpha's CLI reported them

        harness.fake.enqueue(Reply.text("deploying"))
        world.say("/deploy_alpha now")  # mapped back, and expanded by alpha's CLI
        await world.reply(lambda m: "deploying" in m.content and "🖥 alpha" in m.content)
        assert any("DEPLOY-MARKER now" in t for t in harness.fake.main_requests[-1].user_texts())


async def test_a_remote_edit_is_placed_by_its_machine_and_the_rest_refused_with_the_reason(
    harness: CliHarness, tmp_path: Path
) -> None:
    async with machines_world(tmp_path, harness, ("alpha",)) as world:
        alpha = world.dirs["alpha"]
        target = alpha / "app.py"
        target.write_text(APP)
        edit = {"file_path": str(target), "old_string": "value_6 = 6\n"}
        edit["new_string"] = "value_6 = 60\n"
        harness.fake.enqueue(
            Reply.tool_use("Read", {"file_path": str(target)}),
            Reply.tool_use("Edit", edit),
            Reply.text("Edited on alpha."),
        )
        world.say("on alpha: change value 6")
        prompt = await world.reply(lambda m: "Approval #1" in m.content and m.callback_data)
        lines = prompt.content.splitlines()  # placed in the file by alpha, which has it
        assert "@@ -3,7 +3,7 @@" in lines, prompt.content
        assert lines[lines.index("@@ -3,7 +3,7 @@") + 1 :][:5] == [
            " value_3 = 3",
            " value_4 = 4",
            " value_5 = 5",
            "-value_6 = 6",
            "+value_6 = 60",
        ]
        button = next(b for b in prompt.buttons if "Approve" in str(b.get("text")))
        world.tg.press_button(OWNER, None, prompt.message_id, str(button["callback_data"]))
        await world.reply(lambda m: "Edited on alpha." in m.content and "🖥 alpha" in m.content)
        assert "value_6 = 60\n" in target.read_text()

        world.say("/resume all")
        refused = await world.reply("/resume all lists the conversations of the bot's own")
        assert "🖥 alpha" in refused.content
        assert "/cwd path" in refused.content

        world.say("/cwd")
        refused = await world.reply("The directory keyboard lists the bot's own machine")
        assert "/cwd path moves it (the path is checked on alpha" in refused.content
        assert not refused.callback_data

        since = time.monotonic()
        world.say("/new")
        refused = await world.reply("The directory keyboard lists the bot's own", since=since)
        assert "/new name starts a session on alpha too" in refused.content
        assert not refused.callback_data


async def test_a_remote_sessions_schedule_runs_on_its_machine_after_a_hub_restart(
    harness: CliHarness, tmp_path: Path
) -> None:
    async with machines_world(tmp_path, harness, ("alpha",)) as world:
        harness.fake.enqueue(Reply.text("alpha is ready"))
        world.say("on alpha: get ready")
        await world.reply("alpha is ready")
        world.say("/schedule in 30m run the nightly check")
        scheduled = await world.reply(" scheduled in session alpha")
        assert "#1" in scheduled.content
        assert await world.hub.stop() == 0, world.hub.log
        # Its time comes while the hub is down (the stored time moved to the past).
        database = tmp_path / "hub" / "data" / "sessions.db"
        past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        with sqlite3.connect(database) as db:
            assert db.execute("UPDATE schedules SET next_run = ?", (past,)).rowcount == 1
        db.close()

        harness.fake.enqueue(Reply.text("nightly check done"))
        since = time.monotonic()
        await world.hub.start()
        late = await world.reply("is late: the bot was down at its time", since=since)
        assert "run the nightly check" in late.content
        await world.reply(
            lambda m: "nightly check done" in m.content and "🖥 alpha" in m.content, since=since
        )
        request = harness.fake.main_requests[-1]
        assert any("run the nightly check" in t for t in request.user_texts())
        assert str(world.dirs["alpha"]) in str(request.body), dump(world)
        assert "alpha is ready" in request.assistant_texts()  # alpha's conversation went on


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


async def test_diff_of_a_remote_session_is_taken_on_its_machine(
    harness: CliHarness, tmp_path: Path
) -> None:
    async with machines_world(tmp_path, harness, ("alpha",)) as world:
        alpha = world.dirs["alpha"]
        _git(alpha, "init", "-q")
        (alpha / "app.py").write_text(APP)
        (alpha / "README.md").write_text("# Demo\n")
        _git(alpha, "add", "app.py", "README.md")
        _git(alpha, "commit", "-qm", "first")
        (alpha / "app.py").write_text(APP.replace("value_4 = 4", "value_4 = 40"))
        (alpha / "todo.txt").write_text("write the docs\n")
        (alpha / ".env").write_text("TOKEN=CANARY-secret\n")  # secret-looking: left out
        world.say("/new api@alpha")
        await world.reply("Session api on 🖥 alpha")

        since = time.monotonic()
        world.say("/diff")
        sent = await world.reply(lambda m: m.document is not None, since=since)
        assert sent.document is not None
        text = world.tg.download(sent.document.file_id).decode()
        assert "-value_4 = 4\n+value_4 = 40\n" in text
        assert "+++ b/todo.txt\n@@ -0,0 +1 @@\n+write the docs\n" in text
        assert "CANARY" not in text
        assert sent.content.startswith(f"📄 Uncommitted changes in {alpha}")
        assert "🔒 Left out, they look secret: .env" in sent.content
        labels = [str(b["text"]) for b in sent.buttons]
        assert labels == ["📄 app.py +1 −1", "📄 todo.txt (new)"], labels

        button = next(b for b in sent.buttons if "app.py" in str(b["text"]))
        world.tg.press_button(OWNER, None, sent.message_id, str(button["callback_data"]))
        one = await world.reply(
            lambda m: m.document is not None and m.document.filename == "app.py.diff"
        )
        assert one.content == "📄 app.py · +1 −1"
        own = world.tg.download(one.document.file_id).decode()
        assert "+value_4 = 40" in own
        assert "todo" not in own

        # With alpha gone the same /diff is not read off the hub's disk (the same path here).
        await world.workers["alpha"].kill()
        since = time.monotonic()
        world.say("/diff")
        gone = await world.reply("No diff", since=since)
        assert "alpha" in gone.content, gone.content
        assert not [
            m for m in world.tg.messages(OWNER) if m.document is not None and m.sent_at >= since
        ]


async def test_the_hub_never_reads_the_file_an_edit_on_another_machine_changes(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The machines world shares one disk, so this checks the desk's rule in the bot's
    # own process: its session is said to live on alpha (the turn runs here), and the
    # file at the Edit's path, readable here, must not be read for the prompt.
    target = harness.workdir / "app.py"
    target.write_text(APP)

    def on_alpha(svc: Services) -> None:
        svc.desk.elsewhere = lambda session: "alpha"

    async with running_bot(harness, tmp_path, monkeypatch, prepare=on_alpha) as bot:
        edit = {"file_path": str(target), "old_string": "value_6 = 6\n"}
        edit["new_string"] = "value_6 = 60\n"
        harness.fake.enqueue(
            Reply.tool_use("Read", {"file_path": str(target)}),
            Reply.tool_use("Edit", edit),
            Reply.text("Edited."),
        )
        bot.tg.send_text(OWNER, None, "change value 6")
        prompt = await bot.approval_prompt()
        lines = prompt.content.splitlines()
        assert "@@ -1 +1 @@" in lines, prompt.content  # the plain hunk: nothing read here
        assert "-value_6 = 6" in lines
        assert "value_5 = 5" not in prompt.content
        await bot.press(prompt, "Approve")
        await bot.reply(lambda m: m.from_bot and "Edited." in m.content)


async def test_a_voice_note_for_a_remote_session_is_not_biased_by_the_hubs_disk(
    harness: CliHarness, tmp_path: Path
) -> None:
    async with FakeSpeechServer("openai") as stt:
        stt.enqueue(Answer.transcript("list the files"))
        env = {"WHISPER_URL": stt.endpoint, "STT_BACKEND": "http"}
        async with machines_world(tmp_path, harness, ("alpha",), hub_env=env) as world:
            # alpha's directory, at the same path on the hub's disk: names only it has
            (world.dirs["alpha"] / "zephyrclient.py").write_text("x = 1\n")
            world.say("/new quokka@alpha")
            await world.reply("Session quokka on 🖥 alpha")
            harness.fake.enqueue(Reply.text("Here are the files"))
            world.tg.send_voice(OWNER, None, voice_note("list the files"), duration=1)
            await world.reply(lambda m: "Here are the files" in m.content and "🖥" in m.content)
            assert stt.requests, dump(world)
            prompt = stt.requests[0].fields.get("prompt", "")
            assert "quokka" in prompt  # the session's own name still biases it
            assert "zephyr" not in prompt.lower()  # nothing read off the hub's disk there


async def _press(world: World, message_id: int, label: str) -> str:
    """Press the button whose text holds ``label``; the callback's answer text."""
    message = world.tg.message(OWNER, message_id)
    button = next(b for b in message.buttons if label in str(b.get("text")))
    injected = world.tg.press_button(OWNER, None, message_id, str(button["callback_data"]))
    answer = await world.tg.wait_for(
        lambda: next(
            (
                a
                for a in world.tg.callback_answers
                if a.callback_query_id == injected.callback_query_id
            ),
            None,
        ),
        WAIT,
    )
    return str(answer.text or "")


async def test_approvals_of_a_remote_session_list_and_revoke_its_machines_rules(
    harness: CliHarness, tmp_path: Path
) -> None:
    async with machines_world(tmp_path, harness, ("alpha",)) as world:
        alpha = world.dirs["alpha"]
        harness.fake.enqueue(
            Reply.tool_use("Bash", {"command": "touch a.txt"}),
            Reply.text("answer-one"),
        )
        world.say("on alpha: touch a")
        prompt = await world.reply(lambda m: "Approval #" in m.content and m.callback_data)
        assert await _press(world, prompt.message_id, "Always") == "How far should “Always” go?"
        await _press(world, prompt.message_id, "♾ This session")
        await world.reply(lambda m: "answer-one" in m.content and "🖥 alpha" in m.content)

        harness.fake.enqueue(
            Reply.tool_use("Bash", {"command": "touch b.txt"}), Reply.text("answer-two")
        )
        world.say("touch b")  # runs unasked: alpha applies the rule
        await world.reply(lambda m: "answer-two" in m.content and "🖥 alpha" in m.content)
        assert (alpha / "b.txt").exists()
        asked = [m for m in world.tg.messages(OWNER) if m.from_bot and "Approval #" in m.content]
        assert len(asked) == 1, dump(world)

        since = time.monotonic()
        world.say("/approvals")
        listing = await world.reply("Sticky approvals in session", since=since)
        assert "on 🖥 alpha" in listing.content, listing.content
        assert "touch" in listing.content
        assert all(len(str(d).encode()) <= 64 for d in listing.callback_data)
        assert await _press(world, listing.message_id, "Revoke 1") == "Revoked on alpha."
        assert (
            "No sticky approvals in session" in world.tg.message(OWNER, listing.message_id).content
        )

        harness.fake.enqueue(
            Reply.tool_use("Bash", {"command": "touch b.txt"}), Reply.text("answer-three")
        )
        since = time.monotonic()
        world.say("touch b again")  # the rule is gone on alpha: it asks again
        again = await world.reply(
            lambda m: "Approval #" in m.content and m.callback_data, since=since
        )
        assert "touch b.txt" in again.content
        await _press(world, again.message_id, "Always")
        await _press(world, again.message_id, "♾ This session")
        await world.reply(lambda m: "answer-three" in m.content and "🖥 alpha" in m.content)
        since = time.monotonic()
        world.say("/approvals")
        listing = await world.reply("Sticky approvals in session", since=since)
        assert (
            await _press(world, listing.message_id, "Revoke all") == "Revoked 1 rule(s) on alpha."
        )
        assert "No sticky approvals" in world.tg.message(OWNER, listing.message_id).content

        # With alpha gone its rules are not listed off the hub's (empty) store.
        await world.workers["alpha"].kill()
        since = time.monotonic()
        world.say("/approvals")
        # Until its heartbeats have stopped for long enough it is silent, then offline.
        gone = await world.reply("its rules can't be listed now", since=since)
        async with asyncio.timeout(WAIT):
            while "alpha is offline" not in gone.content:
                assert "alpha did not answer" in gone.content, gone.content
                since = time.monotonic()
                world.say("/approvals")
                gone = await world.reply("its rules can't be listed now", since=since)
        assert "alpha is offline: its rules can't be listed now" in gone.content
        assert not gone.callback_data
