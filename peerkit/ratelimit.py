"""Token buckets per key (per peer): how much a peer may send or write, bounded in memory.

Pure: time comes from an injected clock. ``Buckets`` keeps at most ``max_keys`` keys (oldest
dropped first): peer ids are free to make, so the table of them must not grow without end. A
dropped key starts again with a full bucket, which is no more than a new peer id would get.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rate:
    """``per_second`` sustained, ``burst`` at once. Rate.per_minute(120) = 2/s, burst 120."""

    per_second: float
    burst: float

    @classmethod
    def per_minute(cls, amount: float, burst: float | None = None) -> Rate:
        return cls(amount / 60.0, amount if burst is None else burst)


class Buckets:
    """One token bucket per key, all with the same rate."""

    def __init__(
        self,
        rate: Rate,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.max_keys = max_keys
        self.clock = clock
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, t)

    def take(self, key: str, amount: float = 1.0) -> bool:
        """Spend ``amount`` from ``key``'s bucket; False (nothing spent) if it has too little."""
        now = self.clock()
        tokens, last = self._state.pop(key, (self.rate.burst, now))
        tokens = min(self.rate.burst, tokens + (now - last) * self.rate.per_second)
        ok = tokens >= amount
        if ok:
            tokens -= amount
        self._state[key] = (tokens, now)
        if len(self._state) > self.max_keys:
            self._state.popitem(last=False)
        return ok

    def retry_after(self, key: str, amount: float = 1.0) -> float:
        """Seconds until ``key`` could spend ``amount`` (0 when it can now)."""
        tokens, last = self._state.get(key, (self.rate.burst, self.clock()))
        tokens = min(self.rate.burst, tokens + (self.clock() - last) * self.rate.per_second)
        if tokens >= amount or self.rate.per_second <= 0:
            return 0.0
        return (amount - tokens) / self.rate.per_second

    def __len__(self) -> int:
        return len(self._state)
