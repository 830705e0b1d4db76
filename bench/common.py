"""Shared helpers for benchmarks: timing statistics and printing."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def ms(seconds: float) -> str:
    """Format seconds as milliseconds."""
    return f"{seconds * 1000:.3f} ms"


def percentile(samples: Sequence[float], q: float) -> float:
    """The `q` quantile (0 to 1) of the samples, nearest rank."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(samples: Sequence[float]) -> str:
    """min / median / max of timings in seconds, as milliseconds."""
    return (
        f"min {ms(min(samples))}  median {ms(statistics.median(samples))}  "
        f"max {ms(max(samples))}  (n={len(samples)})"
    )
