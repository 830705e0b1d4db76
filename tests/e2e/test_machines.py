"""One bot, several machines: the hub and two workers as processes on a real nats-server."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import psutil
import pytest

from tests.e2e.conftest import CliHarness
from tests.e2e.machines_world import WAIT, dump, machines_world, worker_proc
from tests.fakes.anthropic import Reply

pytestmark = pytest.mark.e2e


def _cwd_of(harness: CliHarness, n: int) -> str:
    """The ``n``-th model request: its environment block names the CLI's working directory."""
    request = harness.fake.main_requests[n - 1]
    return json.dumps(request.body)


async def test_prompts_reach_each_machine_and_a_phone_approval_decides_a_write_there(
    harness: CliHarness, tmp_path: Path
) -> None:
    async with machines_world(tmp_path, harness) as world:
        alpha, beta = world.dirs["alpha"], world.dirs["beta"]
        harness.fake.enqueue(Reply.text("Hi from the first machine"))
        world.say("on alpha: who are you?")
        answer = await world.reply("Hi from the first machine")
        await world.reply(
            lambda m: "Hi from the first machine" in m.content and "🖥 alpha" in m.content
        )
        assert str(alpha) in _cwd_of(harness, 1), dump(world)
        assert str(beta) not in _cwd_of(harness, 1)

        harness.fake.enqueue(Reply.text("Hi from the second machine"))
        world.say("on beta: who are you?")
        await world.reply(
            lambda m: "Hi from the second machine" in m.content and "🖥 beta" in m.content
        )
        assert str(beta) in _cwd_of(harness, 2), dump(world)

        target = beta / "note.txt"
        harness.fake.enqueue(
            Reply.tool_use("Write", {"file_path": str(target), "content": "written on beta\n"}),
            Reply.text("Wrote the note"),
        )
        world.say("write a note")  # the chat now works on beta's session
        prompt = await world.reply(lambda m: "Approval #1" in m.content and m.callback_data)
        assert "note.txt" in prompt.content
        assert not target.exists()  # nothing is written before the phone decides
        button = next(b for b in prompt.buttons if "Approve" in str(b.get("text")))
        world.tg.press_button(1001, None, prompt.message_id, str(button["callback_data"]))
        await world.reply(lambda m: "Wrote the note" in m.content and "🖥 beta" in m.content)
        assert target.read_text() == "written on beta\n"
        assert not (alpha / "note.txt").exists()
        assert answer.content  # the first answer is still in the chat


async def test_a_rejection_on_the_phone_keeps_the_worker_from_writing(
    harness: CliHarness, tmp_path: Path
) -> None:
    async with machines_world(tmp_path, harness, ("alpha",)) as world:
        target = world.dirs["alpha"] / "nope.txt"
        harness.fake.enqueue(
            Reply.tool_use("Write", {"file_path": str(target), "content": "x"}),
            Reply.text("Understood, not written"),
        )
        world.say("on alpha: write nope.txt")
        prompt = await world.reply(lambda m: "Approval #1" in m.content and m.callback_data)
        button = next(b for b in prompt.buttons if "Reject" in str(b.get("text")))
        world.tg.press_button(1001, None, prompt.message_id, str(button["callback_data"]))
        await world.reply("Understood, not written")
        assert not target.exists()
        tool_results = harness.fake.main_requests[-1].tool_results()
        assert tool_results
        assert tool_results[-1].is_error


async def test_a_killed_worker_ends_its_turn_shows_offline_and_resumes_when_back(
    harness: CliHarness, tmp_path: Path
) -> None:
    async with machines_world(tmp_path, harness, ("alpha",)) as world:
        harness.fake.enqueue(Reply.text("First answer from alpha"))
        world.say("on alpha: remember the word kiwi")
        await world.reply("First answer from alpha")

        hang = threading.Event()
        harness.fake.enqueue(Reply.text("never finished", hang=hang))
        world.say("and now something long")
        await harness.fake.until(lambda ex: len([e for e in ex if e.request.is_main]) >= 2, WAIT)
        boot = world.beats["alpha"][-1].boot
        await world.workers["alpha"].kill()
        try:
            lost = await world.reply("alpha went away")
            assert "next prompt resumes" in lost.content
            since = time.monotonic()
            world.say("/machines")
            listing = await world.reply("🖥 Machines", since=since)
            assert "alpha: offline" in listing.content, listing.content
            assert "1 session here" in listing.content
            since = time.monotonic()
            world.say("/status")
            status = await world.reply("Machine: 🖥 alpha", since=since)
            assert "offline" in status.content
            assert "Continue in a terminal on alpha:" in status.content  # not on this one
            assert "sticky approvals are kept there: /approvals" in status.content
        finally:
            hang.set()

        await world.workers["alpha"].start()
        await world.wait_beat("alpha", after_boot=boot)
        await world.machines_online("alpha")
        harness.fake.enqueue(Reply.text("Back, and I remember kiwi"))
        world.say("what was the word?")
        await world.reply("Back, and I remember kiwi")
        last = harness.fake.main_requests[-1]
        assert "First answer from alpha" in last.assistant_texts(), dump(world)
        assert any("remember the word kiwi" in t for t in last.user_texts())


@pytest.mark.parametrize("stop", ["kill -9", "SIGTERM"])
async def test_the_hub_stopped_mid_turn_shows_the_answer_after_its_restart(
    harness: CliHarness, tmp_path: Path, stop: str
) -> None:
    async with machines_world(tmp_path, harness, ("alpha",)) as world:
        hang = threading.Event()
        harness.fake.enqueue(Reply.text("The answer that outlived the hub", hang=hang))
        world.say("on alpha: take your time")
        await harness.fake.until(lambda ex: any(e.request.is_main for e in ex), WAIT)
        if stop == "kill -9":
            await world.hub.kill()
        else:
            assert await world.hub.stop() == 0, world.hub.log
        hang.set()  # the turn ends on alpha while no hub listens
        await world.wait_beat("alpha")
        since = time.monotonic()
        await world.hub.start()
        picked = await world.reply("The bot restarted", since=since)
        assert "alpha" in picked.content
        await world.reply(
            lambda m: "The answer that outlived the hub" in m.content and m.updated_at >= since
        )
        assert world.hub.process is not None
        assert world.hub.process.returncode is None


async def test_an_approval_waiting_when_the_hub_dies_is_asked_again_after_its_restart(
    harness: CliHarness, tmp_path: Path
) -> None:
    async with machines_world(tmp_path, harness, ("alpha",)) as world:
        target = world.dirs["alpha"] / "after-restart.txt"
        harness.fake.enqueue(
            Reply.tool_use("Write", {"file_path": str(target), "content": "still asked\n"}),
            Reply.text("Wrote it after the restart"),
        )
        world.say("on alpha: write after-restart.txt")
        await world.reply(lambda m: "Approval #1" in m.content and m.callback_data)
        await world.hub.kill()
        since = time.monotonic()
        await world.hub.start()
        await world.reply("The bot restarted", since=since)
        prompt = await world.reply(
            lambda m: "Approval #" in m.content and m.callback_data and m.sent_at >= since,
            since=since,
        )
        assert "after-restart.txt" in prompt.content
        assert not target.exists()
        button = next(b for b in prompt.buttons if "Approve" in str(b.get("text")))
        world.tg.press_button(1001, None, prompt.message_id, str(button["callback_data"]))
        await world.reply("Wrote it after the restart", since=since)
        assert target.read_text() == "still asked\n"


async def test_a_worker_with_wrong_credentials_is_refused(
    harness: CliHarness, tmp_path: Path
) -> None:
    async with machines_world(tmp_path, harness, ("alpha",)) as world:
        server = world.nats_server
        impostor = worker_proc(tmp_path, harness, server, "impostor", user="alpha")
        impostor.env["NATS_PASSWORD"] = "a-guess"
        impostor.env["MACHINE_NAME"] = "alpha"
        await impostor.start()
        assert await impostor.exited() == 2
        assert "refused the credentials of alpha" in impostor.log, impostor.log
        assert "a-guess" not in impostor.log

        # Another machine's real credentials do not let it serve (or read) alpha's commands.
        stranger = worker_proc(tmp_path, harness, server, "stranger-as-alpha", user="stranger")
        stranger.env["MACHINE_NAME"] = "alpha"
        await stranger.start()
        assert await stranger.exited() == 2
        assert "does not let alpha use its subjects" in stranger.log, stranger.log
        assert "Subscription Violation" in server.log

        # The real alpha still serves.
        harness.fake.enqueue(Reply.text("alpha is fine"))
        world.say("on alpha: still there?")
        await world.reply("alpha is fine")


async def test_another_machines_user_cannot_publish_to_a_worker(
    harness: CliHarness, tmp_path: Path
) -> None:
    import nats

    from voice_agent.machines.protocol import PromptCommand, command_subject

    async with machines_world(tmp_path, harness, ("alpha",)) as world:
        errors: list[str] = []
        changed = asyncio.Condition()

        async def on_error(error: Exception) -> None:
            async with changed:
                errors.append(str(error))
                changed.notify_all()

        def both_refused() -> bool:
            published = any("publish" in e and "va.w.alpha.prompt" in e for e in errors)
            return published and any("subscription" in e for e in errors)

        server = world.nats_server
        beta = await nats.connect(
            server.url,
            user="stranger",
            password=server.machines["stranger"],
            inbox_prefix="_INBOX.stranger",
            error_cb=on_error,
        )
        try:
            forged = PromptCommand(
                turn_id="forged", chat_id=1001, session="alpha", prompt="rm -rf everything"
            )
            await beta.publish(command_subject("alpha", "prompt"), forged.encode())
            await beta.subscribe("va.w.alpha.>")
            await beta.flush()
            # nats-py runs error_cb in tasks of their own: wait for both verdicts to arrive.
            async with changed, asyncio.timeout(WAIT):
                await changed.wait_for(both_refused)
        finally:
            await beta.close()
        assert both_refused(), errors
        assert "Publish Violation" in server.log
        assert not harness.fake.main_requests  # alpha never ran the forged prompt


async def test_new_name_at_machine_and_the_hubs_own_machine_runs_in_the_hub(
    harness: CliHarness, tmp_path: Path
) -> None:
    async with machines_world(tmp_path, harness, ("alpha",)) as world:
        world.say("/new api@alpha")
        started = await world.reply("Session api on 🖥 alpha")
        assert str(world.dirs["alpha"]) in started.content
        harness.fake.enqueue(Reply.text("api answers from alpha"))
        world.say("hello api")
        await world.reply(
            lambda m: "api answers from alpha" in m.content and "🖥 alpha" in m.content
        )
        assert str(world.dirs["alpha"]) in _cwd_of(harness, 1)
        world.say("/get notes.txt")  # the hub's disk is not alpha's
        await world.reply("lives on 🖥 alpha")
        world.say("/cwd /no/such/dir")  # checked on alpha, before the turn
        await world.reply("api now works in /no/such/dir")
        world.say("hello again")
        await world.reply("/no/such/dir is not a directory on alpha; nothing was sent")
        world.say(f"/cwd {world.dirs['alpha']}")
        await world.reply(f"api now works in {world.dirs['alpha']}")
        world.say("/footer off")
        await world.reply("The answer footer is off")
        harness.fake.enqueue(Reply.text("footer-less answer"))
        world.say("answer without a footer")
        quiet = await world.reply(lambda m: "footer-less answer" in m.content and "🖥" in m.content)
        assert "🖥 alpha" in quiet.content  # a remote session's answer still names its machine
        assert "tokens" not in quiet.content
        world.say("/footer on")
        await world.reply("The answer footer is on")

        world.say("let's work on hub-box")
        await world.reply(f"Working on hub-box in {world.dirs['hub-box']}")
        harness.fake.enqueue(Reply.text("the hub's own machine answers"))
        world.say("hello hub")
        answer = await world.reply(
            lambda m: "the hub's own machine answers" in m.content and "tokens" in m.content
        )
        assert "🖥" not in answer.content  # the hub's own machine needs no name
        assert str(world.dirs["hub-box"]) in _cwd_of(harness, 3)

        world.say("/new x@nowhere")
        await world.reply("No machine nowhere")


async def test_doctor_checks_the_connection_and_permissions_on_both_sides(
    harness: CliHarness, tmp_path: Path
) -> None:
    from tests.e2e.console import run

    async with machines_world(tmp_path, harness, ("alpha",)) as world:
        worker = world.workers["alpha"]
        done = await run(["doctor"], worker.env, worker.cwd)
        assert "✓ NATS (worker alpha)" in done.out, done.out + done.err
        assert "permissions are tight" in done.out
        hub = world.hub
        done = await run(["doctor"], hub.env, hub.cwd)
        line = next(x for x in done.out.splitlines() if "NATS (hub)" in x)
        assert "JetStream" in line, done.out
        assert world.nats_server.machines["alpha"] not in done.out + done.err


async def test_cancel_stops_a_turn_on_the_worker_and_clear_forgets_its_conversation(
    harness: CliHarness, tmp_path: Path
) -> None:
    async with machines_world(tmp_path, harness, ("alpha",)) as world:
        harness.fake.enqueue(Reply.text("Noted: kiwi"))
        world.say("on alpha: remember kiwi")
        await world.reply("Noted: kiwi")

        hang = threading.Event()
        harness.fake.enqueue(Reply.text("a very long answer", hang=hang))
        world.say("now a long one")
        await harness.fake.until(lambda ex: len([e for e in ex if e.request.is_main]) >= 2, WAIT)
        try:
            world.say("/cancel")
            await world.reply(lambda m: "Stopped" in m.content and "🖥 alpha" in m.content)
        finally:
            hang.set()

        harness.fake.enqueue(Reply.text("Still here after the stop"))
        world.say("are you there?")
        await world.reply("Still here after the stop")
        assert "Noted: kiwi" in harness.fake.main_requests[-1].assistant_texts()

        world.say("/clear")
        await world.reply("Claude's context is cleared")
        harness.fake.enqueue(Reply.text("A fresh start"))
        world.say("what do you remember?")
        await world.reply("A fresh start")
        fresh = harness.fake.main_requests[-1]
        assert "Noted: kiwi" not in fresh.assistant_texts(), dump(world)
        assert str(world.dirs["alpha"]) in json.dumps(fresh.body)

        clis = world.workers["alpha"].descendants()
        assert clis, "no Claude Code process runs on alpha"
        world.say("/close alpha")
        await world.reply("Closed session alpha")
        _, alive = await asyncio.to_thread(psutil.wait_procs, clis, WAIT)
        assert not alive  # closing on the phone closed its Claude Code on alpha


async def test_a_project_another_machine_declares_is_worked_on_there(
    harness: CliHarness, tmp_path: Path
) -> None:
    api = tmp_path / "alpha" / "code" / "api"  # on alpha's disk (its PROJECTS)
    api.mkdir(parents=True)
    projects = {"PROJECTS": json.dumps({"api": str(api)})}
    places = {"alpha": projects}
    async with machines_world(tmp_path, harness, ("alpha",), worker_env=places) as world:
        world.say("/project")
        listing = await world.reply("Projects:")
        assert "api (🖥 alpha)" in listing.content

        harness.fake.enqueue(Reply.text("In the api project"))
        world.say("on api: where are you?")
        await world.reply(lambda m: "In the api project" in m.content and "🖥 alpha" in m.content)
        assert str(api) in _cwd_of(harness, 1), dump(world)

        world.say("/status")
        status = await world.reply("Machine: 🖥 alpha")
        assert str(api) in status.content
        world.say("/project api")
        switched = await world.reply("Working on api")
        assert "on 🖥 alpha" in switched.content
