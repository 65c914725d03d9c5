"""The routing table and the record store (pure parts of peerkit.routing)."""

import pytest

from peerkit.routing.records import Namespace, RecordRefused, RecordStore, RoutingError
from peerkit.routing.table import RoutingTable, distance, key_for


def ids(n: int) -> list[str]:
    return [f"peer-{i}" for i in range(n)]


def test_closest_are_sorted_by_xor_distance_and_exclude_the_asker():
    table = RoutingTable("me")
    for p in ids(200):
        table.seen(p, [f"/memory/{p}/p2p/{p}"], 0.0)
    key = key_for("cid", b"x")
    got = table.closest(key, 10, exclude="peer-3")
    assert len(got) == 10 and all(c.peer != "peer-3" for c in got)
    ds = [distance(c.key, key) for c in got]
    assert ds == sorted(ds)
    everyone = sorted(
        (distance(key_for("peer", p), key), p) for p in table.peers() if p != "peer-3"
    )
    assert [c.peer for c in got] == [p for _, p in everyone[:10]]


def test_a_full_bucket_keeps_its_peers_unless_one_stopped_answering():
    table = RoutingTable("me", k=2)
    far = key_for("peer", "me")
    # peers in the same bucket: fill one bucket with more than k peers
    by_bucket: dict[int, list[str]] = {}
    for p in ids(400):
        by_bucket.setdefault(distance(far, key_for("peer", p)).bit_length(), []).append(p)
    a, b, c = next(v for v in by_bucket.values() if len(v) >= 3)[:3]
    assert table.seen(a, [], 0) and table.seen(b, [], 0)
    assert not table.seen(c, [], 0)  # full of peers that answer
    table.failed(a)
    table.failed(a)
    assert table.seen(c, [], 0)  # a stopped answering: c takes its place
    assert table.get(a) is None and table.get(c) is not None
    assert not table.seen("me", [], 0)


def names_ns() -> Namespace:
    def validate(key: str, raw: bytes, now: float) -> float:
        if not raw.startswith(b"ok:"):
            raise RoutingError("not a record")
        return now + 100

    def better(key: str, held: bytes, new: bytes) -> bool:
        return int(new.split(b":")[1]) > int(held.split(b":")[1])

    return Namespace(validate, better)


def test_values_are_validated_and_only_better_ones_replace_them():
    store = RecordStore(namespaces={"names": names_ns()})
    assert store.put_value("names", "n", b"ok:1", "p", now=0)
    assert not store.put_value("names", "n", b"ok:0", "p", now=0)  # older: kept the newer
    assert store.put_value("names", "n", b"ok:2", "q", now=0)
    assert store.get_value("names", "n", now=1) == b"ok:2"
    with pytest.raises(RoutingError):
        store.put_value("names", "n", b"forged", "p", now=0)
    with pytest.raises(RecordRefused):
        store.put_value("other", "n", b"ok:1", "p", now=0)
    assert store.get_value("names", "n", now=200) is None  # expired
    assert store.expire(now=200) == 1 and len(store) == 0 and store.charged == {}


def test_what_one_peer_may_store_is_bounded():
    store = RecordStore(max_per_peer=3, max_keys=5, max_providers_per_key=2)
    for i in range(3):
        store.add_provider(bytes([i]) * 32, "greedy", [], now=0)
    with pytest.raises(RecordRefused):
        store.add_provider(b"\x09" * 32, "greedy", [], now=0)
    store.add_provider(b"\x00" * 32, "greedy", [], now=1)  # renewing one held: fine
    # a key keeps its newest providers only
    for p in ["a", "b", "c"]:
        store.add_provider(b"\x07" * 32, p, [], now=0)
    assert {p.peer for p in store.get_providers(b"\x07" * 32, now=0)} == {"b", "c"}
    assert "a" not in store.charged  # its record went: so did its charge
    # and the table as a whole
    store.add_provider(b"\x08" * 32, "d", [], now=0)
    with pytest.raises(RecordRefused):
        store.add_provider(b"\x0a" * 32, "e", [], now=0)
    assert len(store.get_providers(b"\x01" * 32, now=0)) == 1
    assert store.get_providers(b"\x01" * 32, now=10**9) == []
