"""``voice_agent.terminal.main``: the Python entry of ``voice-agent chat``."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_agent.config import Settings
from voice_agent.terminal import main


def test_main_never_runs_here_a_chat_asked_for_another_machine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(voice_agent_data_dir=tmp_path / "data", default_cwd=tmp_path)
    assert main(settings, ["--machine", "alpha"]) == 2
    err = capsys.readouterr().err
    assert "voice-agent chat --machine alpha" in err
    assert "nothing was started" in err
    assert not (tmp_path / "data").exists()  # no store was opened here
