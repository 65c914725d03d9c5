"""GC in steps (peerkit.storage.gc): what happens to the store between two steps of a
collection (writes, pins, unpins) never costs a pinned or freshly written block."""

import random

import pytest

from peerkit.blocks import raw_block
from peerkit.storage.gc import Collection
from peerkit.storage.store import MemoryBlockStore, SQLiteBlockStore
from tests.unit.storage.conftest import dag

OLD, GC_START, NOW = 100.0, 150.0, 200.0  # written, "written_before" of the collection, later


def junk(n: int, tag: str = "junk"):
    return [raw_block(f"{tag}-{i}".encode()) for i in range(n)]


def collection(store, step: int = 2, written_before: float = GC_START) -> Collection:
    """A collection in fixed steps of ``step`` blocks."""
    gc = Collection(store, written_before)
    gc.step_size, gc.step_seconds = step, None
    return gc


def test_a_collection_in_small_steps_removes_what_no_pin_reaches(store):
    root, blocks = dag("kept", width=5)
    dead = junk(20)
    store.put_many([*blocks, *dead], now=OLD)
    store.add_pin("kept", root.cid)
    gc = collection(store, step=3)
    steps = 1
    while not gc.step():
        steps += 1
    assert steps > 8  # really in steps: 8 blocks to mark, 28 to sweep, 3 at a time
    assert gc.result().removed == 20 and gc.result().kept == 8
    assert gc.result().freed_bytes == sum(len(b.data) for b in dead)
    assert all(store.has(b.cid) for b in blocks) and not any(store.has(b.cid) for b in dead)
    assert gc.step()  # done stays done


def test_a_pin_added_between_steps_keeps_its_old_blocks(store):
    # The DAG was written long ago and nothing pinned it when the collection began.
    root, blocks = dag("late", width=6)
    store.put_many([*junk(10), *blocks], now=OLD)
    gc = collection(store)
    assert not gc.step()  # swept the first ids only: the DAG's blocks are still there
    store.add_pin("late", root.cid)
    gc.run()
    assert store.missing(root.cid) == []


def test_a_pin_set_by_another_connection_between_steps_keeps_its_blocks(tmp_path):
    # `peerkit pin add` beside a running peer writes the same file through its own connection
    path = tmp_path / "shared.db"
    store, other = SQLiteBlockStore(path), SQLiteBlockStore(path)
    root, blocks = dag("theirs", width=6)
    store.put_many([*junk(10), *blocks], now=OLD)
    gc = collection(store)
    assert not gc.step()
    other.add_pin("theirs", root.cid)
    gc.run()
    assert store.missing(root.cid) == []
    store.close(), other.close()


def test_the_pins_are_listed_again_only_when_one_was_set(store):
    root, blocks = dag("listed")
    store.put_many([*blocks, *junk(40)], now=OLD)
    store.add_pin("listed", root.cid)
    listings = []
    list_pins = store.pins
    store.pins = lambda: listings.append(1) or list_pins()
    gc = collection(store)
    for _ in range(5):
        gc.step()
    assert len(listings) == 1  # 5 steps, no pin set between them
    store.add_pin("again", root.cid)
    gc.step()
    store.remove_pin("again")  # a pin removed needs no new marking
    gc.run()
    assert len(listings) == 2


def test_a_pin_moved_between_steps_keeps_its_new_root(store):
    first, first_blocks = dag("first")
    second, second_blocks = dag("second")
    store.put_many([*junk(6), *second_blocks, *first_blocks], now=OLD)
    store.add_pin("doc", first.cid)
    gc = collection(store)
    gc.step()
    store.add_pin("doc", second.cid)  # same name, new root
    gc.run()
    assert store.missing(second.cid) == []


def test_a_block_written_again_between_steps_is_young_again(store):
    dead = junk(12)
    store.put_many(dead, now=OLD)
    gc = collection(store)
    gc.step()
    again = dead[-1]
    store.put_many([again], now=NOW)  # "put, then pin" on a block GC had chosen
    gc.run()
    assert store.has(again.cid)
    store.add_pin("again", again.cid)


def test_blocks_written_after_the_collection_began_are_not_its_candidates(store):
    store.put_many(junk(8), now=OLD)
    gc = collection(store, written_before=float("inf"))  # no grace at all
    gc.step()
    fresh = junk(4, "fresh")
    store.put_many(fresh, now=OLD)
    gc.run()
    assert all(store.has(b.cid) for b in fresh)
    assert gc.result().removed == 8


def test_a_pin_removed_between_steps_is_collected_next_time(store):
    root, blocks = dag("gone")
    store.put_many(blocks, now=OLD)
    store.add_pin("gone", root.cid)
    gc = collection(store)
    gc.step()
    store.remove_pin("gone")
    gc.run()
    assert store.has(root.cid)  # marked before the unpin: kept this time
    collection(store).run()
    assert not any(store.has(b.cid) for b in blocks)


def test_the_step_follows_the_time_it_should_take(store):
    store.put_many(junk(300), now=OLD)
    gc = collection(store, step=10)
    gc.step_seconds = 1.0  # far more time than a step of 10 needs
    gc.step()
    assert gc.step_size > 10  # it grew after a full step that took far less than a second
    gc.run()
    assert gc.result().removed == 300


@pytest.mark.parametrize("seed", range(12))
def test_random_work_between_steps_never_loses_a_pinned_block(tmp_path, seed):
    rng = random.Random(seed)
    store = SQLiteBlockStore(tmp_path / f"{seed}.db") if seed % 2 else MemoryBlockStore()
    dags = [dag(f"{seed}-{i}", rng.randint(1, 4)) for i in range(30)]
    for _root, blocks in dags[:20]:
        store.put_many(blocks, now=OLD)
    store.put_many(junk(40, f"{seed}"), now=OLD)
    for i in range(0, 20, 3):
        store.add_pin(f"n{i}", dags[i][0].cid)
    gc = collection(store, step=rng.randint(1, 5))
    while not gc.step():
        op = rng.random()
        root, blocks = rng.choice(dags)
        if op < 0.35:
            store.put_many(blocks, now=NOW)  # written now: young
        elif op < 0.7:
            if not store.missing(root.cid):
                store.add_pin(f"n{rng.randint(0, 9)}", root.cid)
        elif op < 0.85 and store.pins():
            store.remove_pin(rng.choice(store.pins()).name)
        for pin in store.pins():
            assert store.missing(pin.root) == [], pin.name
    for pin in store.pins():
        assert store.missing(pin.root) == [], pin.name
    store.close()
