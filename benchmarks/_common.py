"""Shared helpers: every benchmark prints its baseline, measured in the same run, and the ratio."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f} on {os.cpu_count()} cores"


def best_of(n: int, fn: Callable[[], float]) -> float:
    """Run ``fn`` (which returns a rate or a duration) n times; return the median."""
    return statistics.median(fn() for _ in range(n))


def paired(n: int, ours: Callable[[], float], base: Callable[[], float]) -> tuple[float, float]:
    """Run ours and the baseline alternately n times each; medians of both.

    Alternating spreads the machine's noise over both sides instead of one.
    """
    a, b = [], []
    for _ in range(n):
        a.append(ours())
        b.append(base())
    return statistics.median(a), statistics.median(b)


def report(name: str, ours: float, base: float, unit: str, goal: str, higher_is_better=True):
    ratio = ours / base if base else float("nan")
    print(
        f"{name:<44} peerkit {ours:>12,.1f} {unit:<8} baseline {base:>12,.1f} {unit:<8}"
        f" ratio {ratio:5.2f}x  (goal {goal})",
        flush=True,
    )
    return ratio


class Timer:
    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter() - self.t0
