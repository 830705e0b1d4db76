"""The machines protocol's pure parts: messages, events, the registry, answers, bindings."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from voice_agent.agent.events import (
    CommandsReported,
    SessionStarted,
    SlashCommand,
    TextBlockDone,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnError,
    TurnResult,
)
from voice_agent.config import SettingsError, default_machine_name, load_settings
from voice_agent.machines.asks import answer_of
from voice_agent.machines.codec import decode_event, encode_event
from voice_agent.machines.protocol import (
    PROTOCOL_VERSION,
    AskAnswer,
    Beat,
    PromptCommand,
    ProtocolError,
    TurnEvent,
    command_subject,
    machine_of,
    turn_subject,
)
from voice_agent.machines.registry import Machines
from voice_agent.machines.runner import Placement
from voice_agent.machines.server_config import permissions, server_config
from voice_agent.policy.rules import StickyApproval
from voice_agent.sessions import SessionManager, SessionStorage
from voice_agent.sessions.pending import PendingPermission, PermissionState
from voice_agent.store.machines_table import MachinesTable

DEPLOY = Path(__file__).parents[2] / "deploy" / "nats-server.conf"


def test_a_message_round_trips_and_carries_its_version() -> None:
    command = PromptCommand(turn_id="t1", chat_id=5, session="api", prompt="run the tests")
    raw = json.loads(command.encode())
    assert raw["v"] == PROTOCOL_VERSION
    assert PromptCommand.decode(command.encode()) == command


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"v": 2, "turn_id": "t", "chat_id": 1, "session": "s", "prompt": "p"}), "2"),
        (json.dumps({"v": 1, "turn_id": "t", "session": "s", "prompt": "p"}), "chat_id"),
        (
            json.dumps({"v": 1, "turn_id": "../x", "chat_id": 1, "session": "s", "prompt": "p"}),
            "turn_id",
        ),
    ],
)
def test_a_bad_message_is_refused_whole(data: str | bytes, why: str) -> None:
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(ProtocolError, match=re.escape(why)):
        PromptCommand.decode(raw)


def test_subjects_name_the_machine_as_one_token() -> None:
    assert command_subject("build-box", "prompt") == "va.w.build-box.prompt"
    assert turn_subject("build-box", "abc") == "va.m.build-box.turn.abc"
    assert machine_of("va.m.build-box.beat") == "build-box"
    with pytest.raises(ProtocolError):
        machine_of("other.m.x.beat")


EVENTS = [
    SessionStarted("s1"),
    CommandsReported(
        (SlashCommand("code-review", "Review it", builtin=False), SlashCommand("compact", "", True))
    ),
    TextDelta("Hel"),
    TextBlockDone("Hello"),
    ToolStarted("tu1", "Bash", {"command": "ls"}, "ls"),
    ToolFinished("tu1", "Bash", False, "a\nb"),
    TurnResult("s1", duration_ms=12, cost_usd=0.01, usage={"input_tokens": 3}, errors=["x"]),
    TurnError("boom", kind="cli-exited"),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_survives_the_wire(event: object) -> None:
    wrapped = TurnEvent(turn_id="t", n=0, event=encode_event(event))  # type: ignore[arg-type]
    again = TurnEvent.decode(wrapped.encode())
    assert decode_event(again.event) == event


def test_an_unknown_event_is_skipped_and_a_wrong_one_refused() -> None:
    assert decode_event({"type": "FutureEvent", "x": 1}) is None
    with pytest.raises(ProtocolError):
        decode_event({"type": "TextDelta", "words": "no such field"})


def test_reported_commands_come_back_as_slash_commands() -> None:
    event = CommandsReported((SlashCommand("frontend:build", "Build"),))
    wrapped = TurnEvent(turn_id="t", n=0, event=encode_event(event))
    again = decode_event(TurnEvent.decode(wrapped.encode()).event)
    assert isinstance(again, CommandsReported)
    assert again.commands == (SlashCommand("frontend:build", "Build", False),)
    assert isinstance(again.commands[0], SlashCommand)  # not a dict
    assert decode_event({"type": "CommandsReported", "commands": [{"name": "x"}]}) == (
        CommandsReported((SlashCommand("x"),))
    )


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "CommandsReported"},
        {"type": "CommandsReported", "commands": "compact"},
        {"type": "CommandsReported", "commands": [], "extra": 1},
        {"type": "CommandsReported", "commands": ["compact"]},
        {"type": "CommandsReported", "commands": [{"description": "no name"}]},
        {"type": "CommandsReported", "commands": [{"name": ""}]},
        {"type": "CommandsReported", "commands": [{"name": 3}]},
        {"type": "CommandsReported", "commands": [{"name": "x", "description": None}]},
        {"type": "CommandsReported", "commands": [{"name": "x", "builtin": "yes"}]},
        {"type": "CommandsReported", "commands": [{"name": "x", "run": "rm -rf /"}]},
    ],
)
def test_reported_commands_that_do_not_fit_are_refused(raw: dict[str, object]) -> None:
    with pytest.raises(ProtocolError, match=r"CommandsReported|slash command"):
        decode_event(raw)


def _beat(boot: str = "b1") -> Beat:
    return Beat(version="1", boot=boot, cwd="/code")


def test_a_machine_goes_offline_without_heartbeats_and_comes_back() -> None:
    now = [100.0]
    registry = Machines(timeout=10, clock=lambda: now[0])
    assert not registry.online("box")
    assert registry.beat("box", _beat())  # came online
    assert registry.online("box")
    now[0] += 5
    assert not registry.beat("box", _beat())  # still online: nothing new
    now[0] += 11
    assert not registry.online("box")
    assert registry.last_seen("box") == pytest.approx(11)
    assert registry.beat("box", _beat())  # back
    assert registry.beat("box", _beat("b2"))  # restarted: a new run
    registry.add_local("hub-box", "1", "/", {})
    assert registry.names() == ["hub-box", "box"]
    now[0] += 1000
    assert registry.online("hub-box")


def _decided(state: PermissionState, **fields: object) -> PendingPermission:
    request = PendingPermission(tool_name=str(fields.pop("tool", "Write")), input_data={})
    request.state = state
    for key, value in fields.items():
        setattr(request, key, value)
    return request


def test_the_hubs_decision_becomes_the_workers_answer() -> None:
    approved = answer_of("w1", _decided(PermissionState.APPROVED, decided_by=7))
    assert (approved.action, approved.user_id, approved.request_id) == ("approve", 7, "w1")
    rejected = answer_of("w1", _decided(PermissionState.DENIED, deny_message="no thanks"))
    assert (rejected.action, rejected.reason) == ("reject", "no thanks")
    timed_out = answer_of("w1", _decided(PermissionState.TIMEOUT, deny_message="timed out"))
    assert timed_out.action == "reject"
    rule = StickyApproval(tool_name="Write", pattern=None, field_name=None, label="Write")
    rule.expires_at = time.time() + 3600
    rule.project = "/code/api"
    always = answer_of("w1", _decided(PermissionState.APPROVED, sticky=rule))
    assert always.action == "always"
    assert always.project
    assert always.ttl == pytest.approx(3600, abs=5)
    question = _decided(
        PermissionState.APPROVED, tool="AskUserQuestion", updated_input={"answers": {"Q?": "A"}}
    )
    assert answer_of("w1", question) == AskAnswer(
        request_id="w1", action="answer", answers={"Q?": "A"}
    )


def test_permissions_let_a_machine_use_only_its_own_subjects() -> None:
    box = permissions("box")
    assert box["publish"]["allow"] == ["va.m.box.>"]
    assert box["subscribe"]["allow"] == ["va.w.box.>", "_INBOX.box.>"]
    hub = permissions(None)
    assert "va.w.>" in hub["publish"]["allow"]
    config = json.loads(
        server_config(
            listen="127.0.0.1:1", store_dir=Path("/x"), hub_password="h", machines={"box": "p"}
        )
    )
    users = {u["user"]: u for u in config["authorization"]["users"]}
    assert users["box"]["permissions"] == box
    assert "jetstream" in config


def test_the_hardened_example_grants_what_the_tests_grant() -> None:
    text = DEPLOY.read_text()
    for allow in (*permissions(None)["publish"]["allow"], *permissions(None)["subscribe"]["allow"]):
        assert f'"{allow}"' in text
    for allow in ("va.m.build-box.>", "va.w.build-box.>", "_INBOX.build-box.>"):
        assert f'"{allow}"' in text
    assert "tls {" in text
    assert "allow_responses: true" in text


def test_bindings_follow_a_rename_and_a_closed_session_remembers_its_machine(
    tmp_path: Path,
) -> None:
    storage = SessionStorage(tmp_path / "s.db")
    manager = SessionManager(default_cwd=str(tmp_path), storage=storage)
    placement = Placement(MachinesTable(storage.database), "hub-box", serve_local=True)
    session = manager.get_or_create(1, name="api")
    assert placement.remote_machine(session) is None
    placement.bind(session, "build-box")
    assert placement.remote_machine(session) == "build-box"
    assert not session.permission_handler.keep_rules
    assert manager.rename_session(1, "api", "backend")
    assert placement.table.machine_of(1, "backend") == "build-box"
    assert manager.close_session(1, "backend")
    assert placement.table.machine_of(1, "backend") is None  # gone with the session
    assert placement.remote_machine(session) == "build-box"  # its close still goes there
    storage.close()


def test_machine_settings_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICE_AGENT_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.chdir(tmp_path)
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", default_machine_name())
    with pytest.raises(SettingsError, match="MACHINE_NAME"):
        load_settings(machine_name="Build Box", default_cwd=tmp_path)
    with pytest.raises(SettingsError, match="HEARTBEAT_TIMEOUT"):
        load_settings(heartbeat_interval=10, heartbeat_timeout=5, default_cwd=tmp_path)
    settings = load_settings(nats_url="nats://127.0.0.1:4222", default_cwd=tmp_path)
    assert settings.serve_local
    assert settings.heartbeat_timeout > settings.heartbeat_interval


def test_a_single_machine_never_imports_nats() -> None:
    code = (
        "import sys\n"
        "import voice_agent.cli, voice_agent.telegram.app, voice_agent.terminal.chat\n"
        "import voice_agent.ops.doctor\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'nats'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_workers_diff_round_trips_and_is_capped_to_fit_a_message() -> None:
    from voice_agent.machines.diffs import MAX_REPLY_BYTES, diff_reply, found_of
    from voice_agent.machines.protocol import DiffReply
    from voice_agent.workdir_diff import ChangedFile, FileDiff, WorkdirDiff

    found = WorkdirDiff(
        "/code/api",
        (ChangedFile("app.py", "modified", unstaged=True, added=1, removed=1),),
        "--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-a\n+b\n",
        left_out=(".env",),
    )
    assert found_of(DiffReply.decode(diff_reply(found).encode())) == found
    one = FileDiff("app.py", "-a\n+b\n")
    assert found_of(DiffReply.decode(diff_reply(one).encode())) == one
    assert found_of(diff_reply("not a git repository")) == "not a git repository"

    quotes = '+"\\"\n' * 400_000  # JSON escapes make this text longer on the wire
    big = diff_reply(WorkdirDiff("/code", (), quotes))
    assert len(big.encode()) <= MAX_REPLY_BYTES
    assert big.cut
    assert big.text.endswith("\n")
    assert quotes.startswith(big.text)
