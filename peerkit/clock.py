"""One clock per node: wall time (for validity of records and tokens, block ages) and monotonic
time (for TTLs, restarts, backoff), injected at the node and handed to every part that asks.

``SystemClock`` reads the machine's clocks; ``peerkit.testing.FakeClock`` is moved by hand, so a
whole node (or formation in one process) can be taken past an expiry without sleeping.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall time, seconds since the epoch."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (durations, TTLs, backoff)."""


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


def utc(clock: Clock) -> datetime:
    """The clock's wall time as an aware UTC datetime (what name records use)."""
    return datetime.fromtimestamp(clock.now(), UTC)
