import random

import pytest

from peerkit.blocks import make_block
from peerkit.storage.errors import BlockNotFound, NotPinned
from peerkit.storage.store import MemoryBlockStore, SQLiteBlockStore
from tests.unit.storage.conftest import dag


def test_put_get_has_delete_stats(store):
    block = make_block({"a": 1})
    assert store.put_many([block, block]) == 1
    assert store.has(block.cid)
    assert store.get(block.cid) == block
    assert store.stats().blocks == 1
    assert store.delete(block.cid)
    with pytest.raises(BlockNotFound):
        store.get(block.cid)


def test_gc_keeps_exactly_what_pins_reach(store):
    root, blocks = dag("a")
    junk = make_block({"junk": 1})
    store.put_many([*blocks, junk])
    store.add_pin("a", root.cid)
    result = store.gc()
    assert result.removed == 1 and not store.has(junk.cid)
    assert all(store.has(b.cid) for b in blocks)
    assert next(b.cid for b in store.walk(root.cid)) == root.cid


def test_pin_refuses_an_incomplete_dag(store):
    root, blocks = dag("b")
    store.put_many(blocks[:-1])
    with pytest.raises(BlockNotFound, match="1 block"):
        store.add_pin("b", root.cid)


def test_pin_update_moves_the_root_and_keeps_shared_blocks(store):
    root_a, blocks_a = dag("a")
    root_b, blocks_b = dag("b")
    store.put_many(blocks_a + blocks_b)
    store.add_pin("doc", root_a.cid)
    store.add_pin("doc", root_b.cid)  # update: same name, new root
    store.gc()
    assert all(store.has(b.cid) for b in blocks_b)
    assert not store.has(root_a.cid)
    assert store.has(make_block({"s": 1}).cid)  # shared by both DAGs


def test_unpin_errors_and_listing(store):
    with pytest.raises(NotPinned):
        store.remove_pin("nope")
    root, blocks = dag("c")
    store.put_many(blocks)
    for i in range(50):
        store.add_pin(f"p{i:03}", root.cid)
    assert [p.name for p in store.pins()][:2] == ["p000", "p001"]
    assert store.pin("p007").root == root.cid


@pytest.mark.parametrize("seed", range(20))
def test_random_interleavings_never_lose_a_pinned_block(tmp_path, seed):
    rng = random.Random(seed)
    store = SQLiteBlockStore(tmp_path / f"{seed}.db") if seed % 2 else MemoryBlockStore()
    pinned: dict[str, list] = {}
    for step in range(60):
        op = rng.random()
        if op < 0.4:
            root, blocks = dag(f"{seed}-{step}", rng.randint(1, 4))
            store.put_many(blocks)
            if rng.random() < 0.6:
                store.add_pin(f"n{rng.randint(0, 5)}", root.cid)
                pinned = {p.name: p.root for p in store.pins()}
        elif op < 0.55 and pinned:
            name = rng.choice(sorted(pinned))
            store.remove_pin(name)
            pinned.pop(name)
        else:
            store.gc()
        for root in pinned.values():
            assert store.missing(root) == []
    store.close()


def test_gc_grace_protects_young_unpinned_blocks(store):
    old, young = make_block({"age": "old"}), make_block({"age": "young"})
    store.put_many([old], now=100.0)
    store.put_many([young], now=190.0)
    result = store.gc(written_before=150.0)  # grace period: keep what is newer than 150
    assert result.removed == 1
    assert not store.has(old.cid) and store.has(young.cid)


def test_rewriting_a_block_restarts_its_grace(store):
    block = make_block({"again": 1})
    store.put_many([block], now=100.0)
    assert store.put_many([block], now=200.0) == 0  # not new
    store.gc(written_before=150.0)
    assert store.has(block.cid)
