"""The append-only log: bounded blocks, O(new) appends, readers that fetch only what they lack."""

import pytest

from peerkit import applog
from peerkit.applog import LEAF_BYTES, LogError, LogState, append, load, read, subtrees
from peerkit.blocks import decode, make_block


def _store():
    blocks: dict[bytes, bytes] = {}
    gets: list[bytes] = []

    def put(new):
        for b in new:
            blocks[b.cid.cid_bytes] = b.data

    def get(cid):
        gets.append(cid.cid_bytes)
        return blocks[cid.cid_bytes]

    return blocks, gets, put, get


def test_a_million_entries_in_bounded_blocks_read_back_in_order():
    state = LogState()
    _, _, put, get = _store()
    largest = 0
    for batch in range(10_000):
        new = append(state, [b"%07d" % (batch * 100 + i) + b"x" * 20 for i in range(100)])
        put(new)
        largest = max(largest, *(len(b.data) for b in new))
    head = new[-1]
    assert state.count == 1_000_000
    assert largest < LEAF_BYTES + 64 * 64 * 50  # a tail and a few levels of CIDs, never history
    reloaded = load(decode(head.data))
    assert reloaded.count == 1_000_000
    entries = list(read(reloaded, get))
    assert len(entries) == 1_000_000
    assert entries[0].startswith(b"0000000") and entries[-1].startswith(b"0999999")
    assert all(int(e[:7]) == i for i, e in enumerate(entries[::997]) for i in [i * 997])


def test_an_append_writes_what_is_new_not_the_history():
    state = LogState()
    _, _, put, _ = _store()
    sizes = []
    for i in range(20_000):
        new = append(state, [b"entry %06d" % i])
        put(new)
        sizes.append(sum(len(b.data) for b in new))
    # every append costs at most a tail, a sealed leaf and a few levels of CIDs (a bound that
    # does not depend on the count), far below the history a rewrite would cost
    bound = 2 * LEAF_BYTES + applog.MAX_LEVELS * applog.FANOUT * 50
    assert max(sizes) <= bound
    history = sum(len(b"entry %06d" % i) for i in range(20_000))
    assert max(sizes[-1000:]) < history / 20


def test_a_reader_reads_only_the_blocks_past_its_position():
    state = LogState()
    _, gets, put, get = _store()
    for i in range(200):
        put(append(state, [bytes(100) + b"%05d" % (i * 100 + j) for j in range(100)]))
    assert state.count == 20_000
    gets.clear()
    tail = list(read(state, get, start=19_950))
    assert [int(e[100:]) for e in tail] == list(range(19_950, 20_000))
    assert len(gets) <= 2  # the newest leaf at most: every older subtree skipped by its count
    gets.clear()
    middle = list(read(state, get, start=10_000, stop=10_010))
    assert [int(e[100:]) for e in middle] == list(range(10_000, 10_010))
    assert len(gets) <= 3  # down one path of the tree


def _reachable(state, get) -> set[bytes]:
    seen: set[bytes] = set()
    stack = [cid for cid, _ in subtrees(state)]
    while stack:
        cid = stack.pop()
        seen.add(cid.cid_bytes)
        value = decode(get(cid))
        if value["type"] == applog.NODE_TYPE:
            stack += [child for child, _ in value["children"]]
    return seen


def test_two_heads_of_one_log_share_every_sealed_block():
    """So a reader holding the old head fetches only the blocks written since."""
    state = LogState()
    _, _, put, get = _store()
    for _ in range(3000):
        put(append(state, [b"a" * 200]))
    before = _reachable(state, get)
    fresh = []
    for _ in range(3000):
        new = append(state, [b"b" * 200])
        put(new)
        fresh += [b.cid.cid_bytes for b in new[:-1]]  # sealed leaves and nodes, not heads
    after = _reachable(state, get)
    assert before <= after
    assert after - before <= set(fresh)  # what a reader lacks is exactly what was written


def test_meta_rides_in_the_head():
    state = LogState()
    new = append(state, [b"x"], meta={"head": b"record"})
    assert load(decode(new[-1].data)).meta == {"head": b"record"}
    new = append(state, [b"y"])  # None keeps it
    assert load(decode(new[-1].data)).meta == {"head": b"record"}


@pytest.mark.parametrize(
    "head",
    [
        {"type": "other"},
        {"type": applog.HEAD_TYPE, "count": 1, "levels": [], "tail": []},  # count lies
        {"type": applog.HEAD_TYPE, "count": 0, "levels": [[["x", 1]]], "tail": []},
        {"type": applog.HEAD_TYPE, "count": -1, "levels": [], "tail": []},
        {"type": applog.HEAD_TYPE, "count": 1, "levels": [], "tail": ["str"]},
        [1, 2],
    ],
)
def test_malformed_heads_are_a_typed_error(head):
    with pytest.raises(LogError):
        load(head)


def test_an_oversized_entry_is_refused_and_changes_nothing():
    state = LogState()
    append(state, [b"ok"])
    with pytest.raises(LogError, match="at most"):
        append(state, [b"fine", b"x" * (applog.MAX_ENTRY + 1)])
    assert state.count == 1 and state.tail == [b"ok"]


def test_a_forged_leaf_is_a_typed_error():
    state = LogState()
    leaf = make_block({"type": "nope"})
    state.levels = [[(leaf.cid, 1)]]
    state.count = 1
    with pytest.raises(LogError):
        list(read(state, lambda cid: leaf.data))


def test_a_hostile_log_gets_typed_errors_not_a_crash():
    """Heads come from other peers (a member's stream by its name): nodes nested thousands
    deep, lying counts, links to nothing are LogErrors (or the reader's BlockNotFound)."""
    blocks: dict[bytes, bytes] = {}
    leaf = make_block({"type": applog.LEAF_TYPE, "entries": [b"x"]})
    blocks[leaf.cid.cid_bytes] = leaf.data
    top = leaf
    for _ in range(5000):  # deeper than Python's recursion limit
        top = make_block({"type": applog.NODE_TYPE, "children": [[top.cid, 1]]})
        blocks[top.cid.cid_bytes] = top.data
    state = load({"type": applog.HEAD_TYPE, "count": 1, "levels": [[[top.cid, 1]]], "tail": []})
    with pytest.raises(LogError, match="deeper"):
        list(read(state, lambda cid: blocks[cid.cid_bytes]))
    # a node whose child is not a [CID, count] pair
    bad = make_block({"type": applog.NODE_TYPE, "children": [["nope"]]})
    state = load({"type": applog.HEAD_TYPE, "count": 1, "levels": [[[bad.cid, 1]]], "tail": []})
    with pytest.raises(LogError):
        list(read(state, lambda cid: bad.data))
    # a count that lies (more than the leaf holds): fewer entries, no crash
    state = load({"type": applog.HEAD_TYPE, "count": 9, "levels": [[[leaf.cid, 9]]], "tail": []})
    assert list(read(state, lambda cid: leaf.data)) == [b"x"]
