"""Hole punching (DCUtR) in the network lab: the share of relayed connections between two homes
that become direct, per pair of NAT types, and how long it takes. Each peer is its own process
in its own network namespace (peerkit.testing.netlab); needs root and nftables, like
tests/lab. The baseline is the same pair's relayed round trip, measured in the same run."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import load

from peerkit.testing.netlab import LabAgent, NetLab, unavailable

REPO = Path(__file__).resolve().parents[1]
PAIRS = 3  # per combination of NAT types
COMBINATIONS = [
    ("port-restricted", "port-restricted"),
    ("port-restricted", "symmetric"),
    ("symmetric", "symmetric"),
]
GIVE_UP = 60.0  # seconds for a pair to end its hole-punch attempts


def config(name: str, **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "listen": ["/ip4/0.0.0.0/tcp/0"],
        "log_level": "warning",
        "storage": {"enabled": False},
        **extra,
    }


async def pair_outcome(a: LabAgent, b: LabAgent, b_relayed: list[str]) -> tuple[bool, float]:
    """Connect a to b through the relay; (became direct, seconds until it was decided)."""
    b_id = await a.ok("connect", target=b_relayed, timeout=10)
    began = time.monotonic()
    while time.monotonic() - began < GIVE_UP:
        if (await a.ok("peers")).get(b_id) == "direct":  # type: ignore[union-attr]
            return True, time.monotonic() - began
        stats = [await x.ok("stats") for x in (a, b)]
        if all(s.get("holepunch_failed", 0) >= 1 for s in stats):  # type: ignore[union-attr]
            return False, time.monotonic() - began
        await asyncio.sleep(0.2)
    return False, GIVE_UP


async def relayed_addrs(agent: LabAgent) -> list[str]:
    while True:
        addrs = [a for a in await agent.ok("addrs") if "/p2p-circuit" in a]  # type: ignore[union-attr]
        if addrs:
            return addrs
        await asyncio.sleep(0.1)


async def run_combination(lab: NetLab, rdv_addr: str, nats: tuple[str, str], n: int) -> None:
    agents: list[LabAgent] = []
    try:
        pairs = []
        for i in range(PAIRS):
            pair = []
            for side, nat in zip("ab", nats, strict=True):
                home = lab.home(f"h{n}{i}{side}", nat=nat)  # type: ignore[arg-type]
                agent = await lab.start_agent(home.host, cwd=REPO)
                agents.append(agent)
                await agent.ok("start", config=config(f"{side}{i}", bootstrap=[rdv_addr]))
                pair.append(agent)
            pairs.append(pair)
        targets = [await relayed_addrs(b) for _, b in pairs]
        outcomes = await asyncio.gather(
            *(pair_outcome(a, b, t) for (a, b), t in zip(pairs, targets, strict=True))
        )
        direct = [t for ok, t in outcomes if ok]
        took = f", direct after {statistics.median(direct):.1f} s (median)" if direct else ""
        print(
            f"{nats[0] + ' + ' + nats[1]:<36} {len(direct)}/{PAIRS} relayed connections "
            f"upgraded to direct ({100 * len(direct) / PAIRS:.0f} %){took}",
            flush=True,
        )
    finally:
        for agent in agents:
            await agent.stop()


async def main() -> None:
    why = unavailable()
    if why is not None:
        print(f"# bench_holepunch skipped: {why}")
        return
    print(f"# bench_holepunch ({load()}; {PAIRS} pairs per combination)")
    with NetLab() as lab:
        rdv = await lab.start_agent(lab.public("rdv"), cwd=REPO)
        try:
            started = await rdv.ok(
                "start",
                config=config("rdv", rendezvous={"server": True}, relay={"serve": True}),
            )
            rdv_addr = next(a for a in started["addrs"] if "/198.18." in a)  # type: ignore[index]
            for n, nats in enumerate(COMBINATIONS):
                await run_combination(lab, rdv_addr, nats, n)
        finally:
            await rdv.stop()


if __name__ == "__main__":
    asyncio.run(main())
