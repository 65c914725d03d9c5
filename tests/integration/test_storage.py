"""Storage end to end: DAGs fetched between peers (memory and real libp2p), corruption caught,
GC racing pins and writes, durability across SIGKILL."""

import asyncio
import io
import os
import random
import signal
import subprocess
import sys
import textwrap

import pytest

from peerkit import Actor, Later, Node, PeerConfig, handler
from peerkit._transport.memory import MemoryNetwork, MemoryTransport
from peerkit.blocks import make_block, raw_block
from peerkit.config import StorageConfig
from peerkit.storage.errors import BlockNotFound, CorruptBlock
from peerkit.storage.extension import StorageExtension
from peerkit.storage.gc import Collection
from peerkit.storage.messages import BlocksFound, WantBlocks
from peerkit.storage.store import SQLiteBlockStore
from tests.conftest import TRANSPORTS


def store_of(node):
    """The node's block store (the storage extension keeps it)."""
    return node.extension(StorageExtension).store


def tree(tag: str, fanout: int = 4, depth: int = 2):
    """A small multi-level DAG: returns (root block, all blocks)."""
    blocks = []

    def build(level: int, path: str):
        if level == depth:
            b = raw_block(f"{tag}:{path}".encode() * 10)
            blocks.append(b)
            return b.cid
        kids = [build(level + 1, f"{path}.{i}") for i in range(fanout)]
        b = make_block({"path": path, "kids": kids})
        blocks.append(b)
        return b.cid

    build(0, "r")
    return blocks[-1], blocks


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_fetch_a_dag_from_a_peer_and_pin_it(make_nodes, kind):
    a, b = await make_nodes(2, kind)
    root, blocks = tree("t")
    await a.storage.put_blocks(blocks)
    await a.storage.pin("tree", root.cid)
    result = await b.storage.fetch(root.cid, pin="copy")
    assert result.blocks == len(blocks)
    assert result.from_peers == [a.peer_id]
    assert [p.name for p in await b.storage.pins()] == ["copy"]
    assert store_of(b).missing(root.cid) == []
    # a second fetch finds everything local and asks nobody
    again = await b.storage.fetch(root.cid)
    assert again.blocks == 0


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_half_fetched_dag_is_completed(make_nodes, kind):
    a, b = await make_nodes(2, kind)
    root, blocks = tree("h")
    await a.storage.put_blocks(blocks)
    await b.storage.put_blocks([root])  # b has the root but none of its children
    result = await b.storage.fetch(root.cid)
    assert result.blocks == len(blocks) - 1
    assert store_of(b).missing(root.cid) == []


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_missing_blocks_and_corrupt_blocks(make_nodes, kind):
    a, b = await make_nodes(2, kind)
    root, blocks = tree("c")
    with pytest.raises(BlockNotFound):
        await b.storage.fetch(root.cid, timeout=10)
    await a.storage.put_blocks(blocks)
    # a serves a leaf whose bytes do not match its CID
    leaf = blocks[0]
    store_of(a)._blocks[leaf.cid.cid_bytes] = (store_of(a)._blocks[leaf.cid.cid_bytes][0], b"evil")
    with pytest.raises(CorruptBlock, match="corrupt"):
        await b.storage.fetch(root.cid, timeout=10)
    assert not store_of(b).has(leaf.cid)  # nothing corrupt is stored


@pytest.mark.libp2p
async def test_fetch_a_10_mb_file_over_libp2p(make_nodes):
    a, b = await make_nodes(2, "libp2p")
    data = random.Random(7).randbytes(10 * 1024 * 1024)
    root = await a.storage.put_file(io.BytesIO(data))
    await a.storage.pin("big", root)
    result = await b.storage.fetch(root, pin="big", timeout=120)
    assert result.bytes >= len(data)
    assert await b.storage.read_file(root) == data


@pytest.fixture
def small_gc_steps(monkeypatch):
    """Collections in fixed steps of a few blocks: even a small store takes many of them."""
    monkeypatch.setattr(Collection, "first_step", 3)
    monkeypatch.setattr(Collection, "step_seconds", None)


@pytest.mark.parametrize("seed", range(8))
async def test_gc_racing_pins_and_writes_through_the_actor(make_nodes, seed, small_gc_steps):
    (a,) = await make_nodes(1, "memory")
    rng = random.Random(seed)
    pinned = {}

    async def writer(w: int):
        for i in range(15):
            root, blocks = tree(f"{seed}-{w}-{i}", fanout=2, depth=rng.randint(1, 2))
            await a.storage.put_blocks(blocks)
            if rng.random() < 0.7:
                name = f"w{w}-{rng.randint(0, 3)}"
                await a.storage.pin(name, root.cid)
                pinned[name] = root.cid
            await asyncio.sleep(0)

    async def collector():
        for _ in range(20):
            await a.storage.gc()
            await asyncio.sleep(0)

    await asyncio.gather(writer(0), writer(1), writer(2), collector())
    await a.storage.gc()
    for name, root in pinned.items():
        assert store_of(a).missing(root) == [], name


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_a_long_gc_holds_up_neither_writes_nor_pins(
    make_nodes, tmp_path, backend, monkeypatch
):
    monkeypatch.setattr(Collection, "first_step", 20)
    monkeypatch.setattr(Collection, "step_seconds", None)
    storage = StorageConfig(backend=backend, path=str(tmp_path / "b.db"), gc_grace=0, gc_every=0)
    (a,) = await make_nodes(1, "memory", storage=storage)
    dead = [raw_block(b"dead %d" % i) for i in range(5_000)]
    await a.storage.put_blocks(dead)
    collecting = asyncio.ensure_future(a.storage.gc())  # 250 steps or more
    root, blocks = tree("during")
    await a.storage.put_blocks(blocks)
    await a.storage.pin("during", root.cid)
    # Both were answered while the collection ran (each waited one step at most); the storage
    # actor used to run the whole collection in one handler, and they waited behind it.
    assert not collecting.done()
    done = await collecting
    assert done.removed == len(dead)
    assert store_of(a).missing(root.cid) == []
    assert not any(store_of(a).has(b.cid) for b in dead[:: len(dead) // 10])


class Stalling(Actor):
    """Answers wants for blocks only when released: a peer that is slow to answer, or gone."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.release = asyncio.Event()

    @handler
    async def want_blocks(self, msg: WantBlocks) -> Later:
        self.asked.set()
        return self.answer_later(self._answer(msg))

    async def _answer(self, msg: WantBlocks) -> BlocksFound:
        await self.release.wait()
        return BlocksFound(blocks=[], missing=msg.cids)


async def test_a_fetch_from_a_stalling_peer_holds_up_no_other_fetch():
    network = MemoryNetwork()

    def memory_node(name: str, **cfg) -> Node:
        config = PeerConfig(name=name, transport="memory", **cfg)
        transport = MemoryTransport(name=name, network=network, max_frame=config.max_frame_size)
        return Node(config, transport=transport)

    a, b = memory_node("a"), memory_node("b")
    stalling = memory_node("stalling", storage=StorageConfig(enabled=False))
    stalling.spawn(Stalling)
    async with a, b, stalling:
        await a.connect(b.addrs()[0])
        await a.connect(stalling.addrs()[0])
        slow_peer = stalling.supervisor.instance(stalling.actor("Stalling"))
        nobody_has, _ = tree("nobody")
        root, blocks = tree("b has")
        await b.storage.put_blocks(blocks)
        hanging = asyncio.ensure_future(
            a.storage.fetch(nobody_has.cid, peers=[stalling.peer_id], timeout=60)
        )
        await asyncio.wait_for(slow_peer.asked.wait(), 10)
        # Fetched while the other waits on its peer: one at a time, this one waited behind it
        # for up to its 60 s, and timed out itself first.
        done = await a.storage.fetch(root.cid, peers=[b.peer_id], timeout=10)
        assert done.blocks == len(blocks)
        assert not hanging.done()
        slow_peer.release.set()
        with pytest.raises(BlockNotFound):
            await hanging


WRITER = textwrap.dedent(
    """
    import sys
    from peerkit.blocks import make_block
    from peerkit.storage.store import SQLiteBlockStore
    store = SQLiteBlockStore(sys.argv[1])
    for i in range(1000):
        b = make_block({"i": i, "pad": "x" * 200})
        store.put(b)
        print(b.cid.encode(), flush=True)   # the acknowledgement
    """
)


def test_acknowledged_writes_survive_sigkill(tmp_path):
    db = tmp_path / "blocks.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    acked = []
    assert proc.stdout is not None
    for line in proc.stdout:
        acked.append(line.strip())
        if len(acked) == 300:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    acked += [line.strip() for line in proc.stdout if line.strip()]
    store = SQLiteBlockStore(db)
    from peerkit.blocks import parse_cid

    assert len(acked) >= 300
    assert all(store.has(parse_cid(c)) for c in acked)
    store.close()


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_documents_as_quads_stored_fetched_and_queried(make_nodes, kind):
    a, b = await make_nodes(2, kind)
    doc = {
        "@id": "urn:post:1",
        "@type": "BlogPosting",
        "headline": "Fat links",
        "author": {"@type": "Person", "name": "Alice"},
        "keywords": ["ipld", "rdf"],
    }
    root = await a.storage.put_document(doc, pin="post")
    assert await a.storage.get_document(root) == doc
    found = await a.storage.query(predicate="https://schema.org/name")
    assert [q.object.value for q in found] == ["Alice"]
    # another peer fetches the quad set's DAG and rebuilds the same document
    await b.storage.fetch(root, pin="post")
    assert await b.storage.get_document(root) == doc


async def test_quad_index_is_rebuilt_from_pins_after_a_restart(tmp_path):
    from peerkit import Node, PeerConfig
    from peerkit.config import StorageConfig

    cfg = PeerConfig(
        name="q",
        transport="memory",
        storage=StorageConfig(backend="sqlite", path=str(tmp_path / "b.db")),
    )
    async with Node(cfg) as node:
        await node.storage.put_document({"@id": "urn:a", "name": "A"}, pin="a")
    async with Node(cfg) as node:
        assert [q.subject for q in await node.storage.query(label="urn:a")] == ["urn:a"]
