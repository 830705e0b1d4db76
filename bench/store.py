"""Store benchmark: cost of one session change, and reopen time, versus a JSON rewrite.

Run: ``python -m bench.store`` (add ``--quick`` for fewer samples).

For 100, 10,000 and 100,000 stored sessions it prints the median time of one
``SessionStorage.save_session`` (one changed session, one transaction) beside the
reference design's whole-file ``json.dump`` rewrite of the same data, then the
time to reopen the 100,000-session store and to restore a ``SessionManager`` on it.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import ms, summary
from voice_agent.sessions import SessionManager, SessionStorage, StoredSession

SIZES = (100, 10_000, 100_000)
SESSIONS_PER_CHAT = 5


def _sessions(count: int) -> list[StoredSession]:
    return [
        StoredSession(
            chat_id=1_000_000 + i // SESSIONS_PER_CHAT,
            name="main" if i % SESSIONS_PER_CHAT == 0 else f"session-{i % SESSIONS_PER_CHAT + 1}",
            cwd=f"/code/project-{i % 97}",
            created_at="2026-11-26T10:00:00",
            message_count=i % 50,
            claude_session_id=f"{i:08x}-0000-4000-8000-000000000000",
        )
        for i in range(count)
    ]


def _store_change(path: Path, sessions: list[StoredSession], samples: int) -> list[float]:
    store = SessionStorage(path)
    store.save_sessions(sessions)
    rng = random.Random(7)
    timings = []
    for _ in range(samples):
        session = rng.choice(sessions)
        session.message_count += 1
        start = time.perf_counter()
        store.save_session(session)
        timings.append(time.perf_counter() - start)
    store.close()
    return timings


def _json_rewrite(path: Path, sessions: list[StoredSession], samples: int) -> list[float]:
    """The reference design: every change rewrites the whole file."""
    data: dict[str, dict[str, object]] = {}
    for s in sessions:
        chat = data.setdefault(str(s.chat_id), {"active_session": "main", "sessions": {}})
        chat["sessions"][s.name] = s.to_dict()  # type: ignore[index]
    timings = []
    for _ in range(samples):
        start = time.perf_counter()
        with path.open("w") as handle:
            json.dump(data, handle, indent=2)
        timings.append(time.perf_counter() - start)
    return timings


def _reopen(path: Path, repeats: int) -> tuple[list[float], list[float]]:
    opens, restores = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        store = SessionStorage(path)
        opens.append(time.perf_counter() - start)
        start = time.perf_counter()
        manager = SessionManager(default_cwd="/code", storage=store)
        restores.append(time.perf_counter() - start)
        assert sum(len(chat) for chat in manager.sessions.values()) == SIZES[-1]
        store.close()
    return opens, restores


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    args = parser.parse_args()
    samples = 200 if args.quick else 1000
    json_samples = 5 if args.quick else 20
    medians: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            sessions = _sessions(size)
            db = Path(tmp) / f"store-{size}.db"
            store_times = _store_change(db, sessions, samples)
            json_times = _json_rewrite(Path(tmp) / f"sessions-{size}.json", sessions, json_samples)
            medians[size] = statistics.median(store_times)
            ratio = statistics.median(json_times) / medians[size]
            print(f"{size:>7} sessions  store change: {summary(store_times)}")
            print(f"{'':>7}           json rewrite: {summary(json_times)}  ({ratio:,.0f}x slower)")
        print(
            f"store change flatness: median at {SIZES[-1]:,} / at {SIZES[0]} = "
            f"{medians[SIZES[-1]] / medians[SIZES[0]]:.2f}x"
        )
        opens, restores = _reopen(Path(tmp) / f"store-{SIZES[-1]}.db", 3 if args.quick else 5)
        print(f"reopen store with {SIZES[-1]:,} sessions: {summary(opens)}")
        print(f"restore SessionManager on it: {summary(restores)}")
        both = statistics.median(opens) + statistics.median(restores)
        print(f"reopen + restore, median: {ms(both)}")


if __name__ == "__main__":
    main()
