"""Percentiles for the benches: one definition, so figures from different
scripts in docs/benchmarks.md mean the same thing."""
from __future__ import annotations

import math
from typing import Iterable, List


def percentile(values: Iterable[float], p: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least ``p`` % of
    the samples at or below it (p99 of 300 samples is the 297th)."""
    ordered: List[float] = sorted(values)
    if not ordered:
        raise ValueError("percentile of no samples")
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(values: Iterable[float], unit: str = "ms") -> str:
    """``p50 12 ms, p95 30 ms, p99 41 ms`` for a list of samples."""
    samples = list(values)
    return ", ".join(f"p{p} {percentile(samples, p):.0f} {unit}" for p in (50, 95, 99))
