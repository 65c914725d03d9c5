"""The DHT in a 50-peer formation on this machine (tests/growth/dht_formation.py: 5 processes of
10 libp2p peers, each dialling 2 random others): lookup latency p50/p99 for content, name
records and peers, walked through the DHT and asked of a delegate (an app node that runs
lookups for its users); requests and bytes per lookup; memory per stored record. The
baseline is one request round trip to a connected peer, measured in the same run."""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import load

from tests.growth.dht_formation import DhtFormation

N = 50
LOOKUPS = 60  # per kind and way


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def main() -> None:
    print(f"# bench_routing ({load()}; {N} libp2p peers in {N // 10} processes)")
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp:
        dht = DhtFormation(Path(tmp), n=N, per_process=10, degree=2)
        try:
            await dht.start()
            await dht.tables_filled(at_least=4)
            docs = []  # (cid, the peer that holds it)
            for i in rng.sample(range(N), 10):
                put = await dht.ok(i, "content_put", document={"@type": "Article", "name": str(i)})
                docs.append((put["cid"], i))
            names = []
            for n, i in enumerate(rng.sample(range(N), 10)):
                seed = (bytes([n + 1]) * 32).hex()
                names.append(
                    await dht.ok(i, "name_publish", seed=seed, value="/ipfs/" + docs[n][0])
                )
            await asyncio.sleep(5)  # let the start-up refreshes settle (not measured)

            # the baseline: one request round trip to a connected peer
            base = []
            for _ in range(LOOKUPS):
                i = rng.randrange(N)
                target = rng.choice(list(await dht.ok(i, "peers")))
                answer = await dht.call(i, "request", peer=target, type="storage.PinLs")
                base.append(answer["ms"])

            # each lookup is asked by a peer other than the one it is about (a peer asking for
            # its own content or its own id finds nothing by design, which is not a miss)
            def other_than(holder: int) -> int:
                return rng.choice([i for i in range(N) if i != holder])

            def content() -> tuple[int, dict[str, object]]:
                cid, holder = rng.choice(docs)
                return other_than(holder), {"op": "content_providers", "cid": cid}

            def name() -> tuple[int, dict[str, object]]:
                return rng.randrange(N), {"op": "routing_get_record", "key": rng.choice(names)}

            def peer() -> tuple[int, dict[str, object]]:
                target = rng.randrange(N)
                return other_than(target), {
                    "op": "routing_find_peer",
                    "peer": dht.peers[target].peer_id,
                }

            kinds = {
                "content (providers of a CID)": content,
                "name record": name,
                "peer (addresses of an id)": peer,
            }
            before = [await dht.ok(i, "routing_counts") for i in range(N)]
            total = 0
            for kind, ask in kinds.items():
                samples = []
                failures = 0
                for _ in range(LOOKUPS):
                    asker, command = ask()
                    op = str(command.pop("op"))
                    answer = await dht.call(asker, op, **command)
                    if "error" in answer or not answer.get("ok"):
                        failures += 1
                    samples.append(answer["ms"])
                total += LOOKUPS
                print(
                    f"{kind:<32} p50 {pct(samples, 0.5):7.1f} ms  p99 {pct(samples, 0.99):7.1f} ms"
                    f"  ({failures} of {LOOKUPS} found nothing; goal p99 < 250 ms)",
                    flush=True,
                )
            after = [await dht.ok(i, "routing_counts") for i in range(N)]
            pairs = list(zip(after, before, strict=True))
            requests = sum(a.get("requests", 0) - b.get("requests", 0) for a, b in pairs)
            replied = sum(a.get("reply_bytes", 0) - b.get("reply_bytes", 0) for a, b in pairs)
            print(
                f"{'per lookup':<32} {requests / total:.1f} requests, "
                f"{replied / total / 1024:.1f} KiB of answers"
            )
            print(
                f"{'baseline: one request, connected':<32} p50 {statistics.median(base):7.1f} ms"
                f"  p99 {pct(base, 0.99):7.1f} ms"
            )
        finally:
            await dht.close()
    memory_per_record()


def memory_per_record() -> None:
    """What the record store costs per provider record and per name record."""
    from datetime import UTC, datetime

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from peerkit.naming.records import create_record, name_for
    from peerkit.naming.routing import names_namespace
    from peerkit.routing.records import RecordStore
    from peerkit.routing.table import key_for

    count = 20_000
    addr = "/ip4/198.51.100.7/tcp/4001/p2p/12D3KooWJVyrbKJXSR17QzJL4Rf4BGtUQ6zuWzdV1vVXNFKEEFuG"
    tracemalloc.start()
    store = RecordStore(max_keys=10 * count, max_per_peer=10 * count)
    base = tracemalloc.get_traced_memory()[0]
    for i in range(count):
        store.add_provider(key_for("cid", i.to_bytes(8, "big")), f"peer{i % 500}", [addr], 0)
    providers = (tracemalloc.get_traced_memory()[0] - base) / count
    store.namespaces["names"] = names_namespace()
    now = datetime.now(UTC)
    keys = [Ed25519PrivateKey.generate() for _ in range(2000)]
    raws = [(name_for(k), create_record(k, b"/ipfs/bafkqaaa", 1, now=now)) for k in keys]
    base = tracemalloc.get_traced_memory()[0]
    for name, raw in raws:
        store.put_value("names", name, raw, "peer", now.timestamp())
    values = (tracemalloc.get_traced_memory()[0] - base) / len(raws)
    tracemalloc.stop()
    print(
        f"{'memory per stored record':<32} provider {providers:.0f} B (one address), "
        f"name record {values:.0f} B"
    )


if __name__ == "__main__":
    asyncio.run(main())
