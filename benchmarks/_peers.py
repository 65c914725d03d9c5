"""A process of peers for benchmarks/bench_growth.py: ``python benchmarks/_peers.py N HUB``.

Starts N libp2p peers that dial ``HUB`` (a full multiaddr) and each other in a ring, each with
an actor noting when every ``sample.chat`` event arrives (wall clock: the benchmark and these
processes share one machine's clock). Prints one JSON line ``{"ready": [peer ids]}``, then
answers lines on stdin: ``arrivals`` -> ``{"arrivals": [{text: time}, ...]}`` (one per peer),
``stop`` -> stops the peers and exits.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from peerkit import Actor, Context, Node, PeerConfig, handler
from peerkit.config import RelayConfig, RoutingConfig
from peerkit.log import configure_logging

from sample_app.generated.greeter import ChatPosted


class ArrivalClock(Actor):
    """Notes when each chat event arrived."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}

    @handler
    async def chat(self, msg: ChatPosted, ctx: Context) -> None:
        self.arrivals.setdefault(msg.text, time.time())


def peer_config(name: str) -> PeerConfig:
    # only what the figures need: no DHT lookups or relay reservations in the background
    return PeerConfig(
        name=name,
        log_level="warning",
        routing=RoutingConfig(enabled=False),
        relay=RelayConfig(reserve="never", hole_punch=False),
    )


async def main(count: int, hub: str) -> None:
    configure_logging("warning")
    nodes, clocks = [], []
    for i in range(count):
        node = Node(peer_config(f"p{i}"))
        clock = ArrivalClock()
        node.spawn(lambda clock=clock: clock)  # type: ignore[misc]
        await node.start()
        await node.connect(hub)
        nodes.append(node)
        clocks.append(clock)
    for i, node in enumerate(nodes[1:], start=1):  # a ring inside the process: a mesh to gossip in
        await node.connect(nodes[i - 1].addrs()[0])
    print(json.dumps({"ready": [n.peer_id for n in nodes]}), flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line == "arrivals":
            print(json.dumps({"arrivals": [c.arrivals for c in clocks]}), flush=True)
        elif line in ("stop", ""):
            break
    await asyncio.gather(*(n.stop() for n in nodes))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
