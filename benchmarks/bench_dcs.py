"""Edit-to-visible latency of single edits at rest, on the two other peers of a 3-peer libp2p
formation, p50/p99 (goal p50 < 20 ms). The figures on the real automerge-paper trace (apply
against raw pycrdt, typing at full speed, restart, late joiner) are in bench_traces.py.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load

from peerkit import Node, PeerConfig
from peerkit.dcs.crypto import Identity
from peerkit.log import configure_logging


async def latency(rounds: int = 100) -> list[float]:
    nodes = [Node(PeerConfig(name=n, log_level="warning")) for n in ("a", "b", "c")]
    for n in nodes:
        await n.start()
    try:
        for n in nodes[1:]:
            await n.connect(nodes[0].addrs()[0])
        for n, s in zip(nodes, (1, 2, 3), strict=True):
            await n.dcs.use_identity(Identity.from_seed(bytes([s]) * 32))
        a, b, c = nodes
        await a.wait_for_subscribers("peerkit.dcs", 2)
        doc = await a.dcs.create()
        for o in (b, c):
            await a.wait_for_subscribers(f"peerkit.dcs.inbox.{o.dcs.me.id[:32]}", 1)
            await a.dcs.invite(doc, o.dcs.card())
        for o in (b, c):
            await o.dcs.wait_for(doc, lambda t: True)
        samples = []
        for i in range(rounds):
            t0 = time.perf_counter()
            await a.dcs.insert(doc, len(a.dcs.text(doc)), "x")
            want = i + 1
            await asyncio.gather(
                *(o.dcs.wait_for(doc, lambda t, w=want: len(t) >= w) for o in (b, c))
            )
            samples.append((time.perf_counter() - t0) * 1000)
        return samples
    finally:
        for n in nodes:
            await n.stop()


def main() -> None:
    configure_logging("warning")
    print(f"# bench_dcs ({load()})")
    samples = sorted(asyncio.run(latency()))
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(
        f"{'edit -> visible on 2 other peers (libp2p)':<44} p50 "
        f"{statistics.median(samples):6.1f} ms  p99 {p99:6.1f} ms   (goal p50 < 20 ms)"
    )


if __name__ == "__main__":
    main()
