"""What a peer records about the requests it serves: latency per type and handler (histogram
bucket counts), errors per type and code. Plain counters here; the gateway exposes them to
Prometheus (gateway/metrics.py). Types other peers may choose are labelled by the router
(registered types by tag, all others as one label), so the series stay bounded."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter

#: upper bounds of the latency buckets, in seconds (a local handler answers in ~0.1 ms; a
#: fetch through the DHT may take seconds)
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Latency:
    """A histogram's state: observations per bucket (the last is +Inf), their sum and count."""

    __slots__ = ("count", "counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.sum += seconds
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """(upper bound, observations at or below it), as a Prometheus histogram lists them."""
        out, running = [], 0
        for bound, n in zip((*map(str, BUCKETS), "+Inf"), self.counts, strict=True):
            running += n
            out.append((bound, running))
        return out


class RequestStats:
    def __init__(self) -> None:
        #: (type label, handler) -> latency of the requests answered
        self.latency: dict[tuple[str, str], Latency] = {}
        #: (type label, error code) -> requests answered with that error
        self.errors: Counter[tuple[str, str]] = Counter()

    def answered(self, label: str, handler: str, seconds: float) -> None:
        key = (label, handler)
        latency = self.latency.get(key)
        if latency is None:
            latency = self.latency[key] = Latency()
        latency.observe(seconds)

    def failed(self, label: str, code: str) -> None:
        self.errors[(label, code)] += 1
