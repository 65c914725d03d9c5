"""Collaboration figures against baselines measured in the same run.

- update apply throughput through the DCS actor (decrypt + verify + apply) vs raw pycrdt
  applying the same updates (goal >= 0.7x), on a synthetic typing trace: the public
  "automerge-paper" trace is not obtainable here (no PyPI/npm package carries it), so a seeded
  generator types, backspaces and jumps like a person editing a paper would;
- edit-to-visible latency on the two other peers of a 3-peer libp2p formation, p50/p99
  (goal p50 < 20 ms).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Timer, load, report
from pycrdt import Doc, Text

from peerkit import Node, PeerConfig
from peerkit._transport.memory import MemoryNetwork, MemoryTransport
from peerkit.dcs.crypto import Identity
from peerkit.dcs.doc import SharedDoc
from peerkit.dcs.extension import DcsExtension
from peerkit.dcs.messages import DcsUpdate
from peerkit.log import configure_logging

EDITS = 20_000


def typing_trace(n: int, seed: int = 7) -> list[tuple[str, int, str | int]]:
    rng = random.Random(seed)
    ops: list[tuple[str, int, str | int]] = []
    length, cursor = 0, 0
    words = [
        "the",
        "of",
        "and",
        "to",
        "in",
        "a",
        "is",
        "that",
        "for",
        "it",
        "as",
        "with",
        "was",
        "on",
        "peer",
        "graph",
        "name",
        "key",
        "data",
    ]
    for _ in range(n):
        r = rng.random()
        if r < 0.05 and length:
            cursor = rng.randint(0, length)  # jump elsewhere
        if r < 0.12 and cursor > 0:
            ops.append(("del", cursor - 1, 1))  # backspace
            cursor -= 1
            length -= 1
        else:
            ch = rng.choice(" " + rng.choice(words)) if rng.random() < 0.9 else "é"
            ops.append(("ins", cursor, ch))
            cursor += 1
            length += 1
    return ops


def make_entries() -> tuple[Identity, SharedDoc, list]:  # type: ignore[type-arg]
    author = Identity.from_seed(b"\x01" * 32)
    doc = SharedDoc.create(author, doc_id="bench")
    entries = []
    for op, pos, arg in typing_trace(EDITS):
        if op == "ins":
            entries.append(doc.insert(pos, str(arg)))
        else:
            entries.append(doc.delete(pos, int(arg)))
    return author, doc, [e for e in entries if e is not None]


def raw_updates(doc: SharedDoc, entries: list) -> list[bytes]:  # type: ignore[type-arg]
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    key = ChaCha20Poly1305(doc.epoch_keys[0])
    return [key.decrypt(e.nonce, e.ciphertext, e.aad()) for e in entries]


def raw_apply(updates: list[bytes]) -> float:
    d = Doc()
    d.get("text", type=Text)
    with Timer() as t:
        for u in updates:
            d.apply_update(u)
    return len(updates) / t.elapsed


async def actor_apply(source: SharedDoc, entries: list) -> float:  # type: ignore[type-arg]
    net = MemoryNetwork()
    node = Node(
        PeerConfig(name="reader", log_level="warning"),
        transport=MemoryTransport(name="reader", network=net),
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
        with Timer() as t:
            for e in entries:
                await ref.tell(DcsUpdate(entry=e))
            while doc.applied.get(source.me.id, 0) < entries[-1].seq + 1:
                await asyncio.sleep(0.001)
        assert doc.content() == source.content()
        return len(entries) / t.elapsed
    finally:
        await node.stop()


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
    _, source, entries = make_entries()
    updates = raw_updates(source, entries)
    ours, base = [], []
    for _ in range(3):
        ours.append(asyncio.run(actor_apply(source, entries)))
        base.append(raw_apply(updates))
    report(
        f"apply {len(entries)} updates: actor vs raw pycrdt",
        statistics.median(ours),
        statistics.median(base),
        "upd/s",
        ">= 0.7x",
    )
    samples = sorted(asyncio.run(latency()))
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(
        f"{'edit -> visible on 2 other peers (libp2p)':<44} p50 "
        f"{statistics.median(samples):6.1f} ms  p99 {p99:6.1f} ms   (goal p50 < 20 ms)"
    )


if __name__ == "__main__":
    main()
