"""Real editing traces (../shared/data/editing-traces): the automerge-paper trace (259,778
keystrokes) typed through node.dcs on one libp2p peer while another follows live; a restart;
a late joiner. Nothing synthetic: the text must equal the trace's endContent."""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

import pytest

from peerkit import Node, PeerConfig
from peerkit.config import StorageConfig
from peerkit.dcs.crypto import Identity


def _find_traces() -> Path:
    """Beside the checkout (../shared), or where PEERKIT_TRACES points, or the workplace's."""
    candidates = [
        Path(os.environ.get("PEERKIT_TRACES", "/nonexistent")),
        Path(__file__).resolve().parents[2].parent / "shared" / "data" / "editing-traces",
        Path("/work/shared/data/editing-traces"),
    ]
    return next((c for c in candidates if c.exists()), candidates[1])


TRACES = _find_traces()
#: keystrokes per edit: what an editor sends for a burst of typing (Yjs providers send one
#: update per burst); the trace has one keystroke per transaction
BURST = 100

pytestmark = [
    pytest.mark.libp2p,
    pytest.mark.skipif(not TRACES.exists(), reason="the editing traces are not checked out"),
]


LIMIT = int(os.environ.get("PEERKIT_TRACE_LIMIT", "0"))


def _replay(patches: list) -> str:
    text = ""
    for index, deleted, inserted in patches:
        text = text[:index] + inserted + text[index + deleted :]
    return text


def _trace(name: str) -> dict:
    with gzip.open(TRACES / f"{name}.json.gz") as f:
        return json.load(f)


def _node(name: str, tmp_path: Path, seed: int) -> Node:
    return Node(
        PeerConfig(
            name=name,
            log_level="warning",
            storage=StorageConfig(backend="sqlite", path=str(tmp_path / f"{name}.db")),
        ),
        seed=bytes([seed]) * 32,
    )


async def test_the_automerge_paper_trace_typed_followed_restarted_and_joined_late(tmp_path):
    trace = _trace("automerge-paper")
    patches = [p for txn in trace["txns"] for p in txn["patches"]]
    end = trace["endContent"]
    if LIMIT:  # a prefix of the trace (for profiling): its text is the replay of that prefix
        patches = patches[:LIMIT]
        end = _replay(patches)
    alice, bob = _node("alice", tmp_path, 1), _node("bob", tmp_path, 2)
    await alice.start()
    await bob.start()
    try:
        await bob.connect(alice.addrs()[0])
        await alice.dcs.use_identity(Identity.from_seed(b"\x0a" * 32))
        await bob.dcs.use_identity(Identity.from_seed(b"\x0b" * 32))
        doc = await alice.dcs.create()
        await alice.dcs.invite(doc, bob.dcs.card())
        await bob.dcs.wait_for(doc, lambda t: True)

        started = time.perf_counter()
        for i in range(0, len(patches), BURST):
            await alice.dcs.edit(doc, [tuple(p) for p in patches[i : i + BURST]])
        typed = time.perf_counter() - started
        assert alice.dcs.text(doc) == end
        assert await bob.dcs.wait_for(doc, lambda t: t == end, timeout=120) == end  # live
        print(f"\nTRACE typed {len(patches)} keystrokes in {typed:.1f} s through node.dcs")
    finally:
        await bob.stop()
        await alice.stop()

    # restart: every acknowledged edit is on disk
    alice = _node("alice", tmp_path, 1)
    started = time.perf_counter()
    await alice.start()
    await alice.dcs.use_identity(Identity.from_seed(b"\x0a" * 32))
    restarted = time.perf_counter() - started
    carol = _node("carol", tmp_path, 3)
    await carol.start()
    try:
        assert alice.dcs.text(doc) == end  # 0 lost
        mine = alice.dcs.doc(doc)
        if not LIMIT:  # 2,598 entries: compacted (SNAPSHOT_AFTER), loaded as snapshot + tail
            assert mine.snapshots[mine.me.id].upto >= 1000
        print(f"TRACE restart with the finished document: {restarted:.2f} s")
        # a late joiner, invited after the whole trace
        await carol.connect(alice.addrs()[0])
        await carol.dcs.use_identity(Identity.from_seed(b"\x0c" * 32))
        started = time.perf_counter()
        await alice.dcs.invite(doc, carol.dcs.card())
        assert await carol.dcs.wait_for(doc, lambda t: t == end, timeout=120) == end
        joined = carol.dcs.doc(doc)
        assert set(joined.snapshots) == set(mine.snapshots)  # snapshot + tail, not every entry
        print(f"TRACE late joiner caught up in {time.perf_counter() - started:.2f} s")
    finally:
        await carol.stop()
        await alice.stop()


async def test_the_concurrent_friendsforever_trace_replayed_by_two_peers_converges(tmp_path):
    """Two people typing into one document at the same time (26,078 transactions, 2 agents):
    each agent's editor sees exactly what the trace says it saw (tests/growth/concurrent.py)
    and hands its updates to its own peer; the peers exchange them over libp2p while the other
    keeps typing. Both end at the trace's endContent, and so does each after a restart."""
    from tests.growth.concurrent import ConcurrentReplay

    replay = ConcurrentReplay(_trace("friendsforever"))
    peers = [_node("alice", tmp_path, 1), _node("bob", tmp_path, 2)]
    ids = [Identity.from_seed(b"\x0a" * 32), Identity.from_seed(b"\x0b" * 32)]
    for node in peers:
        await node.start()
    try:
        await peers[1].connect(peers[0].addrs()[0])
        for node, ident in zip(peers, ids, strict=True):
            await node.dcs.use_identity(ident)
        doc = await peers[0].dcs.create()
        await peers[0].dcs.invite(doc, peers[1].dcs.card())
        await peers[1].dcs.wait_for(doc, lambda t: True)
        shared = [node.dcs.doc(doc) for node in peers]
        first = [shared[a].applied.get(ids[a].id, 0) for a in range(2)]  # entries before

        started = time.perf_counter()
        runs = 0
        for run in replay.runs():
            other = 1 - run.agent
            need = first[other] + run.seen[other]  # the other's entries this run builds on
            mine = shared[run.agent]
            if mine.applied.get(ids[other].id, 0) < need:
                await peers[run.agent].dcs.wait_for(
                    doc, lambda _t, m=mine, o=ids[other].id, n=need: m.applied.get(o, 0) >= n
                )
            await peers[run.agent].dcs.transact(doc, lambda d, u=run.update: d.apply_update(u))
            runs += 1
        texts = [await node.dcs.wait_for(doc, lambda t: t == replay.end) for node in peers]
        took = time.perf_counter() - started
        assert texts == [replay.end, replay.end]
        print(f"\nTRACE friendsforever: {runs} runs converged in {took:.1f} s")
    finally:
        for node in reversed(peers):
            await node.stop()

    for a, name in enumerate(("alice", "bob")):  # what each acknowledged is on its disk
        node = _node(name, tmp_path, a + 1)
        async with node:
            await node.dcs.use_identity(ids[a])
            assert node.dcs.text(doc) == replay.end
