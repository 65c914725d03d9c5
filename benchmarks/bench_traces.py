"""Collaboration figures on the real automerge-paper trace (259,778 keystrokes), against
baselines measured in the same run. Keystrokes travel in bursts of BURST (one update each, as an
editor sends them).

- apply through the DCS actor (verify + decrypt + apply) vs raw pycrdt applying the same updates
  (goal >= 0.7x): live updates, one message each (one signature each), and catch-up pages of
  a hash-chained stream (one signature per page)
- restart of a peer holding the finished document (goal < 1 s), SQLite
- late joiner catch-up over libp2p (goal < 3 s)
- edit -> visible on two other libp2p peers while the trace is typed at full speed
  (goal p50 < 20 ms, p99 < 100 ms)
- bytes stored per keystroke
- a per-keystroke author's snapshot vs every entry (what a restart or late joiner loads)
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Timer, load, report
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from pycrdt import Doc, Text

from peerkit import Node, PeerConfig
from peerkit._transport.memory import MemoryNetwork, MemoryTransport
from peerkit.config import StorageConfig
from peerkit.dcs.crypto import Identity
from peerkit.dcs.doc import SharedDoc
from peerkit.dcs.extension import DcsExtension
from peerkit.dcs.messages import DcsUpdate
from peerkit.log import configure_logging
from peerkit.storage.extension import StorageExtension

TRACE = next(
    (
        folder / "automerge-paper.json.gz"
        for folder in (
            Path(os.environ.get("PEERKIT_TRACES", "/nonexistent")),
            Path(__file__).resolve().parents[2] / "shared/data/editing-traces",
            Path("/work/shared/data/editing-traces"),
        )
        if (folder / "automerge-paper.json.gz").exists()
    ),
    Path("automerge-paper.json.gz"),
)
BURST = 100


def load_trace() -> tuple[list[tuple[int, int, str]], str]:
    with gzip.open(TRACE) as f:
        trace = json.load(f)
    patches = [(p[0], p[1], p[2]) for t in trace["txns"] for p in t["patches"]]
    return patches, trace["endContent"]


def bursts(patches: list[tuple[int, int, str]]) -> list[list[tuple[int, int, str]]]:
    return [patches[i : i + BURST] for i in range(0, len(patches), BURST)]


def sealed_entries(patches):  # type: ignore[no-untyped-def]
    author = Identity.from_seed(b"\x01" * 32)
    doc = SharedDoc.create(author, doc_id="bench")
    entries = [doc.edit_text(b) for b in bursts(patches)]
    return doc, [e for e in entries if e is not None]


def chained_apply(source: SharedDoc, entries: list) -> float:  # type: ignore[type-arg]
    """The catch-up path: pages of one author's chained entries, one signature per page."""
    reader = Identity.from_seed(b"\x03" * 32)
    doc = SharedDoc("bench", reader, source.owner)
    doc.adopt(source.state())
    with Timer() as t:
        for i in range(0, len(entries), 256):
            doc.receive_many(entries[i : i + 256])
    assert doc.content() == source.content()
    return len(entries) / t.elapsed


def raw_apply(updates: list[bytes]) -> float:
    d = Doc()
    d.get("text", type=Text)
    with Timer() as t:
        for u in updates:
            d.apply_update(u)
    return len(updates) / t.elapsed


async def actor_apply(source: SharedDoc, entries: list) -> float:  # type: ignore[type-arg]
    node = Node(
        PeerConfig(name="reader", log_level="warning", storage=StorageConfig(enabled=False)),
        transport=MemoryTransport(name="reader", network=MemoryNetwork()),
    )
    await node.start()
    try:
        reader = Identity.from_seed(b"\x02" * 32)
        await node.dcs.use_identity(reader)
        doc = SharedDoc("bench", reader, source.owner)
        state = source.state()
        state["members"][reader.id] = reader.box_public.hex()
        doc.adopt(state)
        node.extension(DcsExtension).shelf.docs["bench"] = doc
        ref = node.actor("dcs")
        shelf = node.extension(DcsExtension).shelf
        with shelf.changes.subscription("bench") as changes, Timer() as t:
            for e in entries:
                await ref.tell(DcsUpdate(entry=e))
            while doc.applied.get(source.me.id, 0) < len(entries):
                await changes.get()  # woken by each batch the actor applies
        assert doc.content() == source.content()
        return len(entries) / t.elapsed
    finally:
        await node.stop()


#: keystrokes typed one per entry for the snapshot figure (sealing each costs a signature)
KEYS = 50_000


def snapshot_load(patches) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    """A per-keystroke author (no bursts): what a late reader or a restart loads, the
    author's snapshot vs every entry (chained runs, merged applies). Entries per second."""
    author = Identity.from_seed(b"\x01" * 32)
    source = SharedDoc.create(author, doc_id="keys")
    entries = [e for p in patches[:KEYS] if (e := source.edit_text([p])) is not None]
    reader = Identity.from_seed(b"\x03" * 32)

    def fresh() -> SharedDoc:
        doc = SharedDoc("keys", reader, source.owner)
        doc.adopt(source.state())
        return doc

    every = fresh()
    with Timer() as t_all:
        for i in range(0, len(entries), 4096):
            every.receive_many(entries[i : i + 4096])
    snapshot = source.compact()
    assert snapshot is not None
    loaded = fresh()
    with Timer() as t_snap:
        loaded.receive_snapshot(snapshot)
    assert loaded.content() == every.content() == source.content()
    return len(entries) / t_snap.elapsed, len(entries) / t_all.elapsed, len(snapshot.ciphertext)


def _node(name: str, folder: Path, seed: int) -> Node:
    return Node(
        PeerConfig(
            name=name,
            log_level="warning",
            storage=StorageConfig(backend="sqlite", path=str(folder / f"{name}.db")),
        ),
        seed=bytes([seed]) * 32,
    )


async def live(folder: Path, patches, end: str) -> tuple[list[float], str, float, int]:  # type: ignore[no-untyped-def]
    """Type the trace at full speed on a; time each burst until visible on b and c."""
    nodes = [_node(n, folder, s) for n, s in (("a", 1), ("b", 2), ("c", 3))]
    for n in nodes:
        await n.start()
    a, b, c = nodes
    try:
        for n in (b, c):
            await n.connect(a.addrs()[0])
        for n, s in zip(nodes, (1, 2, 3), strict=True):
            await n.dcs.use_identity(Identity.from_seed(bytes([s + 10]) * 32))
        doc = await a.dcs.create()
        for o in (b, c):
            await a.dcs.invite(doc, o.dcs.card())
            await o.dcs.wait_for(doc, lambda t: True)
        samples: list[float] = []
        waiters: list[asyncio.Task[None]] = []
        expected = ""
        t_start = time.perf_counter()
        for burst in bursts(patches):
            for index, deleted, inserted in burst:
                expected = expected[:index] + inserted + expected[index + deleted :]
            t0 = time.perf_counter()
            await a.dcs.edit(doc, burst)
            applied = a.dcs.doc(doc).applied[a.dcs.me.id]

            async def seen(t0: float = t0, applied: int = applied) -> None:
                me = a.dcs.me.id
                while any(o.dcs.doc(doc).applied.get(me, 0) < applied for o in (b, c)):
                    await asyncio.sleep(0.0005)
                samples.append((time.perf_counter() - t0) * 1000)

            waiters.append(asyncio.create_task(seen()))
        await asyncio.gather(*waiters)
        typed = time.perf_counter() - t_start
        assert a.dcs.text(doc) == end and b.dcs.text(doc) == end and c.dcs.text(doc) == end
        stored = a.extension(StorageExtension).store.stats().bytes
        return samples, doc, typed, stored
    finally:
        for n in nodes:
            await n.stop()


async def restart_and_join(folder: Path, doc: str, end: str) -> tuple[float, float]:
    a = _node("a", folder, 1)
    t0 = time.perf_counter()
    await a.start()
    await a.dcs.use_identity(Identity.from_seed(bytes([11]) * 32))
    restart = time.perf_counter() - t0
    assert a.dcs.text(doc) == end
    d = _node("d", folder, 4)
    await d.start()
    try:
        await d.connect(a.addrs()[0])
        await d.dcs.use_identity(Identity.from_seed(bytes([14]) * 32))
        t0 = time.perf_counter()
        await a.dcs.invite(doc, d.dcs.card())
        await d.dcs.wait_for(doc, lambda t: t == end, timeout=300)
        return restart, time.perf_counter() - t0
    finally:
        await d.stop()
        await a.stop()


def main() -> None:
    configure_logging("warning")
    print(f"# bench_traces ({load()}), automerge-paper, bursts of {BURST} keystrokes")
    patches, end = load_trace()
    source, entries = sealed_entries(patches)
    key = ChaCha20Poly1305(source.epoch_keys[0])
    updates = [key.decrypt(e.nonce, e.ciphertext, e.aad()) for e in entries]
    ours, base = [], []
    for _ in range(5):
        ours.append(asyncio.run(actor_apply(source, entries)))
        base.append(raw_apply(updates))
    report(
        f"apply {len(entries)} updates: actor vs raw pycrdt",
        statistics.median(ours),
        statistics.median(base),
        "upd/s",
        ">= 0.7x",
    )
    ours, base = [], []
    for _ in range(5):
        ours.append(chained_apply(source, entries))
        base.append(raw_apply(updates))
    report(
        "catch-up pages (chained, 1 sig/page) vs raw",
        statistics.median(ours),
        statistics.median(base),
        "upd/s",
        ">= 0.7x",
    )
    ours_keys, base_keys, size = snapshot_load(patches)
    report(
        f"load {KEYS:,} per-keystroke entries: snapshot vs all",
        ours_keys,
        base_keys,
        "entry/s",
        "> 1x",
    )
    print(f"{'  snapshot size':<44} {size / KEYS:8.1f} B per keystroke")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        samples, doc, typed, stored = asyncio.run(live(folder, patches, end))
        samples.sort()
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
        print(
            f"{'typed at full speed (259,778 keystrokes)':<44} {typed:8.1f} s "
            f"({len(patches) / typed:,.0f} keystrokes/s)"
        )
        print(
            f"{'edit -> visible on 2 other peers (libp2p)':<44} p50 "
            f"{statistics.median(samples):6.1f} ms  p99 {p99:6.1f} ms   (goal p50 < 20, p99 < 100)"
        )
        print(f"{'bytes stored per keystroke (author, SQLite)':<44} {stored / len(patches):8.1f} B")
        restart, join = asyncio.run(restart_and_join(folder, doc, end))
        print(f"{'restart with the finished document':<44} {restart:8.2f} s   (goal < 1 s)")
        print(f"{'late joiner catch-up (libp2p)':<44} {join:8.2f} s   (goal < 3 s)")


if __name__ == "__main__":
    main()
