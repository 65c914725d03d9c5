"""Circuit relay v2 on this machine (real libp2p): what a relayed request costs against a
direct one to the same peer, measured in the same run, and what a reservation costs the relay
(a separate `peerkit run` process: its RSS before and after N peers reserve)."""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import psutil
from _common import load, report

from peerkit import Node, PeerConfig
from peerkit.config import DcsConfig, RelayConfig, StorageConfig
from peerkit.dcs.messages import GetCard
from peerkit.log import configure_logging
from tests.integration.procs import PeerProcess

RESERVING = 30
REQUESTS = 300


async def round_trips(caller: Node, peer: str) -> float:
    """Median seconds per request."""
    samples = []
    for _ in range(REQUESTS):
        t0 = time.perf_counter()
        await caller.request(peer, GetCard(), timeout=10)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


async def until(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.01)


async def main() -> None:
    configure_logging("warning")
    print(f"# bench_relay ({load()})")
    with tempfile.TemporaryDirectory() as tmp:
        relay = PeerProcess(Path(tmp), "relay", extra="relay: {serve: true, max_reservations: 256}")
        await relay.start()
        try:
            rss = psutil.Process(relay.proc.pid)  # type: ignore[union-attr]
            cfg = DcsConfig(remote_control=True)
            async with (
                # (hole punching off: on one machine it would make the relayed leg direct)
                Node(
                    PeerConfig(
                        name="t",
                        log_level="warning",
                        dcs=cfg,
                        relay=RelayConfig(reserve="always", hole_punch=False),
                    )
                ) as target,
                Node(
                    PeerConfig(name="c", log_level="warning", relay=RelayConfig(hole_punch=False))
                ) as caller,
            ):
                await target.connect(relay.addr)
                await until(lambda: any("/p2p-circuit/" in a for a in target.addrs()))
                relayed = next(a for a in target.addrs() if "/p2p-circuit/" in a)
                direct = next(a for a in target.addrs() if "/p2p-circuit/" not in a)
                await caller.connect(relayed)
                via_relay = await round_trips(caller, target.peer_id)
                await caller.transport.disconnect(target.peer_id)
                await until(lambda: target.peer_id not in caller.peers())
                await caller.connect(direct)
                assert caller.connection_kind(target.peer_id) == "direct"
                straight = await round_trips(caller, target.peer_id)
            report(
                "request round trip, relayed vs direct",
                via_relay * 1000,
                straight * 1000,
                "ms",
                "relayed: a few ms more",
                higher_is_better=False,
            )
            before = rss.memory_info().rss
            nodes = []
            try:
                for i in range(RESERVING):
                    node = Node(
                        PeerConfig(
                            name=f"r{i}",
                            log_level="warning",
                            relay=RelayConfig(reserve="always"),
                            storage=StorageConfig(enabled=False),
                        )
                    )
                    await node.start()
                    nodes.append(node)
                    await node.connect(relay.addr)
                for node in nodes:
                    await until(lambda n=node: any("/p2p-circuit/" in a for a in n.addrs()))
                after = rss.memory_info().rss
            finally:
                for node in nodes:
                    await node.stop()
            per = (after - before) / RESERVING / 1024
            print(
                f"{'relay memory per reservation':<44} {per:8.1f} KiB"
                f"   ({RESERVING} peers connected and reserved; relay RSS {before / 2**20:.0f}"
                f" -> {after / 2**20:.0f} MiB, connections included)"
            )
        finally:
            await relay.terminate()


if __name__ == "__main__":
    asyncio.run(main())
