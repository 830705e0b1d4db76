"""The documentation site builds with no warnings, and the API reference documents the core."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import voice_agent.sessions
from voice_agent.config import Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site_dir = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=100,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return site_dir


def test_mkdocs_build_strict_passes(site: Path) -> None:
    assert (site / "index.html").is_file()
    for page in (
        "quickstart",
        "configuration",
        "voice",
        "permissions",
        "sessions",
        "troubleshooting",
        "architecture",
        "deployment",
    ):
        assert (site / page / "index.html").is_file(), page


def test_sessions_reference_documents_the_manager(site: Path) -> None:
    html = (site / "reference" / "sessions" / "index.html").read_text(encoding="utf-8")
    assert "SessionManager" in html
    assert "send_prompt" in html


def test_sessions_reference_documents_every_public_name(site: Path) -> None:
    html = (site / "reference" / "sessions" / "index.html").read_text(encoding="utf-8")
    missing = [
        name for name in voice_agent.sessions.__all__ if f"voice_agent.sessions.{name}" not in html
    ]
    assert not missing, f"not in the API reference: {missing}"


def test_configuration_page_lists_every_setting() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [
        name
        for name in Settings.model_fields
        if f"`{name.upper()}`" not in page or f"`{name}`" not in page
    ]
    assert not missing, f"settings not described in docs/configuration.md: {missing}"
