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
        print(f"TRACE restart with the finished document: {restarted:.2f} s")
        # a late joiner, invited after the whole trace
        await carol.connect(alice.addrs()[0])
        await carol.dcs.use_identity(Identity.from_seed(b"\x0c" * 32))
        started = time.perf_counter()
        await alice.dcs.invite(doc, carol.dcs.card())
        assert await carol.dcs.wait_for(doc, lambda t: t == end, timeout=120) == end
        print(f"TRACE late joiner caught up in {time.perf_counter() - started:.2f} s")
    finally:
        await carol.stop()
        await alice.stop()
