"""A formation of many libp2p peers on this machine for the DHT: peers share agent processes
(peerkit.testing.lab_agent, several nodes each) to fit in memory; each dials a few random
others, so most pairs are not connected. Used by tests/growth/test_dht.py and
benchmarks/bench_routing.py."""

from __future__ import annotations

import asyncio
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peerkit.testing.netlab import LabAgent, local_agent

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Peer:
    agent: LabAgent
    index: int  # its place in the agent
    seed: str
    peer_id: str = ""
    addrs: tuple[str, ...] = ()
    up: bool = False


class DhtFormation:
    def __init__(
        self, tmp: Path, *, n: int = 50, per_process: int = 10, degree: int = 2, seed: int = 1
    ) -> None:
        self.tmp = tmp
        self.n = n
        self.per_process = per_process
        self.degree = degree
        self.rng = random.Random(seed)
        self.agents: list[LabAgent] = []
        self.peers: list[Peer] = []

    def config(self, i: int, **extra: Any) -> dict[str, Any]:
        folder = self.tmp / f"p{i}"
        folder.mkdir(parents=True, exist_ok=True)
        return {
            "name": f"p{i}",
            "listen": ["/ip4/127.0.0.1/tcp/0"],
            "log_level": os.environ.get("DHT_LOG", "warning"),
            # kept on disk: a restarted peer comes back with what it had
            "storage": {"backend": "sqlite", "path": str(folder / "blocks.db"), "gc_every": 0},
            **json.loads(os.environ.get("DHT_EXTRA", "{}")),
            **extra,
        }

    async def start(self) -> None:
        processes = (self.n + self.per_process - 1) // self.per_process
        self.agents = [await local_agent(cwd=REPO) for _ in range(processes)]
        for i in range(self.n):
            agent = self.agents[i // self.per_process]
            peer = Peer(agent, i % self.per_process, os.urandom(32).hex())
            self.peers.append(peer)
        await asyncio.gather(*(self._each_of(a, self._boot) for a in self.agents))
        await asyncio.gather(*(self._each_of(a, self.wire) for a in self.agents))

    async def _each_of(self, agent: LabAgent, step: Any) -> None:
        """``step(i)`` for the peers of one agent, in turn (an agent answers one at a time;
        agents run side by side)."""
        for i, peer in enumerate(self.peers):
            if peer.agent is agent:
                await step(i)

    async def _boot(self, i: int) -> None:
        peer = self.peers[i]
        info: Any = await peer.agent.ok(
            "start", config=self.config(i), seed=peer.seed, node=peer.index
        )
        peer.peer_id, peer.addrs, peer.up = info["peer_id"], tuple(info["addrs"]), True

    async def wire(self, i: int) -> None:
        """Dial ``degree`` random other peers that are up."""
        others = [j for j, p in enumerate(self.peers) if j != i and p.up]
        for j in self.rng.sample(others, min(self.degree, len(others))):
            await self.call(i, "connect", target=list(self.peers[j].addrs), timeout=5)

    async def restart(self, i: int) -> None:
        """Stop peer ``i`` and start it again (same identity, same block store)."""
        peer = self.peers[i]
        peer.up = False
        await peer.agent.ok("stop_node", node=peer.index)
        await self._boot(i)
        await self.wire(i)

    async def stop_peer(self, i: int) -> None:
        self.peers[i].up = False
        await self.peers[i].agent.ok("stop_node", node=self.peers[i].index)

    async def call(self, i: int, op: str, **args: Any) -> dict[str, Any]:
        peer = self.peers[i]
        return await peer.agent.call(op, node=peer.index, **args)

    async def ok(self, i: int, op: str, **args: Any) -> Any:
        peer = self.peers[i]
        return await peer.agent.ok(op, node=peer.index, **args)

    async def tables_filled(self, at_least: int = 8, timeout: float = 60.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout

        async def filled(i: int) -> None:
            while self.peers[i].up and await self.ok(i, "routing_table") < at_least:
                if loop.time() > deadline:
                    size = await self.ok(i, "routing_table")
                    peers = await self.ok(i, "peers")
                    raise AssertionError(
                        f"peer {i}'s routing table did not fill: {size} peers in it, "
                        f"{len(peers)} connected"
                    )
                await asyncio.sleep(0.1)  # each check is a round trip to an agent

        await asyncio.gather(*(self._each_of(a, filled) for a in self.agents))

    async def close(self) -> None:
        await asyncio.gather(*(agent.stop() for agent in self.agents))
