"""How cost grows: the curves a user asks about, each beside its baseline from the same run.

- put and get rate with 0 / 100,000 / 1,000,000 blocks already in a SQLite store, against raw
  SQLite insert/select into a table of the same size (goal: the ratio holds as the store grows)
- request round trip with 100 connected peers (in 4 other processes) against the same with
  none (goal: within 1.2x)
- request round trip with 1,000 actors on the serving node against 1 (goal: within 1.1x)
- gossip delivery latency to 50 subscribers (5 processes; each peer dials the publisher and a
  neighbour) against delivery to 1, 100 events at 5/s (a figure, no goal: 51 peers share 2 cores)
- DCS apply rate as the shared document grows (the automerge-paper trace in eight parts, so
  the document is 0 to ~104,000 characters long), against raw pycrdt applying the same
  updates to a document at the same point (goal: the ratio holds as it grows)

PEERKIT_BENCH_BLOCKS sets the largest store (default 1,000,000).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import Timer, load
from _peers import peer_config
from bench_libp2p import Ping, Server

from peerkit import Actor, Node, handler
from peerkit.blocks import decode, make_block, verify
from peerkit.log import configure_logging
from peerkit.storage.store import SQLiteBlockStore

from sample_app.generated.greeter import ChatPosted

HERE = Path(__file__).resolve().parent
BLOCKS = int(os.environ.get("PEERKIT_BENCH_BLOCKS", 1_000_000))
SAMPLE = 10_000  # blocks put and got at each size
ROUND_TRIPS = 500
EVENTS = 100
#: a chat room's pace; 50 py-libp2p peers share this machine's 2 cores with the publisher, and
#: past ~10 events/s (x50 deliveries, plus the mesh's forwarding) they cannot keep up
EVENTS_PER_SECOND = float(os.environ.get("PEERKIT_BENCH_EVENTS_PER_SECOND", 5))


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def line(name: str, ours: str, base: str, ratio: float, goal: str) -> None:
    print(f"{name:<40} {ours:>22}   baseline {base:>22}   {ratio:5.2f}x  ({goal})", flush=True)


# --- the store as it grows --------------------------------------------------------------------


def objects(start: int, count: int) -> list[dict[str, Any]]:
    return [{"n": i, "name": f"item-{i}", "tags": ["a", "b"]} for i in range(start, start + count)]


def store_curve(folder: Path) -> None:
    store = SQLiteBlockStore(folder / "ours.db")
    raw = sqlite3.connect(str(folder / "raw.db"), isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=FULL")
    raw.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, cid BLOB UNIQUE, data BLOB)")
    filled = 0
    for size in (0, 100_000, BLOCKS):
        while filled < size:  # fill both to the same size (not measured)
            count = min(50_000, size - filled)
            blocks = [make_block(o) for o in objects(filled + SAMPLE * 10, count)]
            store.put_many(blocks, 1.0)
            raw.execute("BEGIN")
            raw.executemany(
                "INSERT INTO b (cid, data) VALUES (?, ?)",
                [(b.cid.cid_bytes, b.data) for b in blocks],
            )
            raw.execute("COMMIT")
            filled += count
        # SAMPLE new blocks each time (ids past anything filled), put then got
        fresh = objects(10**9 + size, SAMPLE)
        with Timer() as t:
            blocks = [make_block(o) for o in fresh]
            store.put_many(blocks, 1.0)
        put_ours = SAMPLE / t.elapsed
        rows = [(b.cid.cid_bytes, b.data) for b in blocks]
        raw_rows = [(c + b"r", d) for c, d in rows]  # other keys: the same work, no conflict
        with Timer() as t:
            raw.execute("BEGIN")
            raw.executemany("INSERT INTO b (cid, data) VALUES (?, ?)", raw_rows)
            raw.execute("COMMIT")
        put_raw = SAMPLE / t.elapsed
        order = list(blocks)
        random.Random(size).shuffle(order)
        with Timer() as t:
            for b in order:
                got = store.get(b.cid)
                decode(verify(got.cid, got.data).data)
        get_ours = SAMPLE / t.elapsed
        with Timer() as t:
            for c, _ in raw_rows:
                raw.execute("SELECT data FROM b WHERE cid = ?", (c,)).fetchone()
        get_raw = SAMPLE / t.elapsed
        filled += SAMPLE
        line(
            f"put with {size:>9,} blocks stored",
            f"{put_ours:,.0f} blk/s",
            f"{put_raw:,.0f} blk/s",
            put_ours / put_raw,
            "holds as it grows",
        )
        line(
            f"get with {size:>9,} blocks stored",
            f"{get_ours:,.0f} blk/s",
            f"{get_raw:,.0f} blk/s",
            get_ours / get_raw,
            "holds as it grows",
        )
    store.close()
    raw.close()


# --- requests with many peers, many actors ------------------------------------------------------


async def round_trips(client: Node, server: Node) -> list[float]:
    msg = Ping(data=b"x" * 32)
    samples = []
    for _ in range(ROUND_TRIPS):
        t0 = time.perf_counter()
        await client.request(server.peer_id, msg)
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


def describe(samples: list[float]) -> str:
    return f"p50 {statistics.median(samples):.2f} p99 {pct(samples, 0.99):.2f} ms"


class Peers:
    """Processes of peers (benchmarks/_peers.py) dialling one hub."""

    def __init__(self, hub: str, processes: int, per_process: int) -> None:
        self.procs = [
            subprocess.Popen(
                [sys.executable, str(HERE / "_peers.py"), str(per_process), hub],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(processes)
        ]
        self.ids: list[str] = []

    async def ready(self) -> None:
        for proc in self.procs:
            assert proc.stdout is not None
            line = await asyncio.to_thread(proc.stdout.readline)
            self.ids += json.loads(line)["ready"]

    async def arrivals(self) -> list[dict[str, float]]:
        found = []
        for proc in self.procs:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("arrivals\n")
            proc.stdin.flush()
            found += json.loads(await asyncio.to_thread(proc.stdout.readline))["arrivals"]
        return found

    def stop(self) -> None:
        for proc in self.procs:
            if proc.stdin is not None:
                proc.stdin.write("stop\n")
                proc.stdin.close()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


async def many_peers() -> None:
    server = Node(peer_config("server"))
    server.spawn(Server)
    client = Node(peer_config("client"))
    await server.start()
    await client.start()
    peers = None
    try:
        await client.connect(server.addrs()[0])
        await round_trips(client, server)  # warm up
        alone = await round_trips(client, server)
        peers = Peers(server.addrs()[0], processes=4, per_process=25)
        await peers.ready()
        # the 100 connections' start-up traffic (identify, gossip hellos) is not what is
        # measured: let it pass
        await asyncio.sleep(3)
        crowded = await round_trips(client, server)
        connected = len(server.transport.connected_peers())
        line(
            f"request with {connected} peers connected",
            describe(crowded),
            describe(alone),
            statistics.median(crowded) / statistics.median(alone),
            "within 1.2x",
        )
    finally:
        if peers is not None:
            peers.stop()
        await client.stop()
        await server.stop()


class Idle(Actor):
    """An actor with a mailbox and a handler, never asked."""

    @handler
    async def chat(self, msg: ChatPosted) -> None:  # pragma: no cover - never sent
        pass


async def many_actors() -> None:
    results = {}
    for actors in (1, 1000):
        server = Node(peer_config("server"))
        server.spawn(Server)
        for i in range(actors - 1):
            server.spawn(Idle, name=f"idle-{i}")
        client = Node(peer_config("client"))
        await server.start()
        await client.start()
        try:
            await client.connect(server.addrs()[0])
            await round_trips(client, server)
            results[actors] = await round_trips(client, server)
        finally:
            await client.stop()
            await server.stop()
    line(
        "request with 1,000 actors on the node",
        describe(results[1000]),
        describe(results[1]),
        statistics.median(results[1000]) / statistics.median(results[1]),
        "within 1.1x",
    )


# --- gossip to many subscribers ---------------------------------------------------------------


async def gossip_delivery() -> None:
    results = {}
    for processes, per_process in ((1, 1), (5, 10)):
        hub = Node(peer_config("publisher"))
        await hub.start()
        peers = Peers(hub.addrs()[0], processes, per_process)
        try:
            await peers.ready()
            count = processes * per_process
            await hub.wait_for_subscribers(ChatPosted, count, timeout=60)
            sent = {}
            for i in range(EVENTS):
                text = f"{count}-{i}"
                sent[text] = time.time()
                await hub.publish(ChatPosted(author="bench", text=text))
                await asyncio.sleep(1 / EVENTS_PER_SECOND)
            # until every event arrived everywhere, or 20 s (then the rest count as missed)
            deadline = time.monotonic() + 20
            while True:
                got = await peers.arrivals()
                if all(len(seen) >= EVENTS for seen in got) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            delays = []
            missing = 0
            for seen in got:
                for text, at in sent.items():
                    if text in seen:
                        delays.append((seen[text] - at) * 1000)
                    else:
                        missing += 1
            results[count] = (delays, missing)
        finally:
            peers.stop()
            await hub.stop()
    many, missed = results[50]
    one, _ = results[1]
    line(
        f"gossip to 50 subscribers, {EVENTS_PER_SECOND:g}/s ({missed} missed)",
        f"p50 {statistics.median(many):.1f} p99 {pct(many, 0.99):.1f} ms",
        f"p50 {statistics.median(one):.1f} p99 {pct(one, 0.99):.1f} ms",
        pct(many, 0.99) / pct(one, 0.99),
        "info: 51 py-libp2p peers on this machine's 2 cores",
    )


# --- DCS apply as the document grows ----------------------------------------------------------


def dcs_curve() -> None:
    from bench_traces import load_trace, sealed_entries
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    from pycrdt import Doc, Text

    from peerkit.dcs.crypto import Identity
    from peerkit.dcs.doc import SharedDoc

    patches, _ = load_trace()
    source, entries = sealed_entries(patches)
    key = ChaCha20Poly1305(source.epoch_keys[0])
    updates = [key.decrypt(e.nonce, e.ciphertext, e.aad()) for e in entries]
    reader = SharedDoc("bench", Identity.from_seed(b"\x03" * 32), source.owner)
    reader.adopt(source.state())
    raw = Doc()
    text = raw.get("text", type=Text)
    parts = 8
    size = len(entries) // parts + 1
    for part in range(parts):
        chunk = slice(part * size, (part + 1) * size)
        length = len(str(text))
        with Timer() as t:
            for i in range(chunk.start, min(chunk.stop, len(entries)), 256):
                reader.receive_many(entries[i : min(i + 256, chunk.stop)])
        ours = len(entries[chunk]) / t.elapsed
        with Timer() as t:
            for u in updates[chunk]:
                raw.apply_update(u)
        base = len(updates[chunk]) / t.elapsed
        line(
            f"DCS apply, document at {length:>7,} chars",
            f"{ours:,.0f} upd/s",
            f"{base:,.0f} upd/s",
            ours / base,
            "holds as it grows",
        )
    assert reader.content() == str(text)


def main() -> None:
    configure_logging("warning")
    print(f"# bench_growth ({load()})")
    with tempfile.TemporaryDirectory() as tmp:
        store_curve(Path(tmp))
    asyncio.run(many_peers())
    asyncio.run(many_actors())
    asyncio.run(gossip_delivery())
    dcs_curve()


if __name__ == "__main__":
    main()
