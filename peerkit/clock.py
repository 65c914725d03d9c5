"""One clock per node: wall time (for validity of records and tokens, block ages) and monotonic
time (for TTLs, restarts, backoff), injected at the node and handed to every part that asks.

``SystemClock`` reads the machine's clocks; ``peerkit.testing.FakeClock`` is moved by hand, so a
whole node (or formation in one process) can be taken past an expiry without sleeping.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall time, seconds since the epoch."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (durations, TTLs, backoff)."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time: the timers of scheduled work (backoff,
        re-registration before a TTL runs out). Timeouts that guard real I/O stay on the
        event loop's time."""


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def wait_or_sleep(clock: Clock, event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set (True) or ``seconds`` of ``clock`` time pass (False)."""
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({waiter, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiter, timer):
            task.cancel()
        await asyncio.gather(waiter, timer, return_exceptions=True)
    return event.is_set()


def utc(clock: Clock) -> datetime:
    """The clock's wall time as an aware UTC datetime (what name records use)."""
    return datetime.fromtimestamp(clock.now(), UTC)
