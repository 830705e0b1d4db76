"""What a diff picture costs: drawing a typical 60-line hunk, and /diff's git side.

Run: ``python -m bench.diff_image`` (``--rounds N`` for more samples).

The hunk is one of this project's own Python modules with every sixth line of a
60-line stretch edited (nine changed line pairs, word marks on each), drawn by
:func:`voice_agent.telegram.diff_image.render_diff` exactly as ``/diff`` and the
approval prompts draw it: syntax colours, gutter, word marks, PNG encoding. The
first drawing loads the font and the lexer and is shown apart. The git side is
:func:`voice_agent.workdir_diff.working_tree_diff` on a generated repository with
20 edited files, 5 staged, and 5 untracked ones.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from io import BytesIO
from pathlib import Path

from PIL import Image

from bench.common import ms, percentile, summary
from voice_agent.edit_preview import planned_diff
from voice_agent.telegram import stream
from voice_agent.telegram.diff_image import parse_diff, render_diff
from voice_agent.workdir_diff import WorkdirDiff, working_tree_diff

GIT = ["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.com"]


def typical_hunk() -> str:
    """A 60-line hunk of real Python with nine edited lines."""
    source = Path(stream.__file__).read_text()
    lines = source.split("\n")
    start = 100
    edited = list(lines)
    for n in range(start + 3, start + 57, 6):
        edited[n] = edited[n].replace("self", "this").replace("None", "Nothing") + "  # edited"
    before = "\n".join(lines[start : start + 60]) + "\n"
    after = "\n".join(edited[start : start + 60]) + "\n"
    diff = planned_diff("Write", {"content": after}, "src/voice_agent/telegram/stream.py", before)
    assert diff is not None
    return diff


def _repository(root: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run([*GIT, *args], cwd=root, check=True, capture_output=True)

    git("init", "-q")
    for n in range(20):
        body = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(50))
        (root / f"mod{n}.py").write_text(body)
    git("add", ".")
    git("commit", "-qm", "first")
    for n in range(20):
        path = root / f"mod{n}.py"
        path.write_text(path.read_text().replace("return x + 7", "return x * 7"))
        if n < 5:
            git("add", path.name)
    for n in range(5):
        (root / f"new{n}.txt").write_text("a new file\n" * 20)


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    diff = typical_hunk()
    parsed = parse_diff(diff)
    rows = len(parsed.rows)
    start = time.perf_counter()
    png = render_diff(diff)
    first = time.perf_counter() - start
    assert png is not None
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        render_diff(diff)
        samples.append(time.perf_counter() - start)
    width, height = Image.open(BytesIO(png)).size
    print(f"diff picture of a {rows}-row hunk (+{parsed.added} −{parsed.removed}):")
    print(f"  size            {width} x {height} px, {len(png) / 1024:.0f} KiB PNG")
    print(f"  first drawing   {ms(first)} (loads the font and the lexer)")
    print(f"  drawing         {summary(samples)}  p95 {ms(percentile(samples, 0.95))}")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        _repository(root)
        timings = []
        found: WorkdirDiff | str = ""
        for _ in range(max(rounds // 3, 3)):
            start = time.perf_counter()
            found = working_tree_diff(str(root))
            timings.append(time.perf_counter() - start)
        assert isinstance(found, WorkdirDiff), found
        print(
            f"working_tree_diff, {len(found.files)} files ({found.untracked} untracked),"
            f" {len(found.text.encode()) / 1024:.0f} KiB of diff:"
        )
        print(f"  git side        {summary(timings)}")


if __name__ == "__main__":
    main()
