"""The DHT between peers that are not all connected: a sparse network (each peer dials two
others) where content, name records and peers are found beyond the connected ones."""

import random

import pytest

from peerkit import Node
from peerkit.routing.table import key_for
from peerkit.testing import PeerSet, wait_for
from tests.conftest import TRANSPORTS


async def sparse(kind: str, n: int, seed: int = 7) -> tuple[PeerSet, list[Node]]:
    """n peers in a ring, plus one random chord each: nobody is connected to most others."""
    peers = PeerSet()
    nodes = await peers.start(n, transport=kind, connect=False, log_level="warning")
    rng = random.Random(seed)
    for i, node in enumerate(nodes):
        await node.connect(nodes[(i + 1) % n].addrs()[0])
        other = nodes[rng.randrange(n)]
        if other is not node:
            await node.connect(other.addrs()[0])
    return peers, nodes


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_content_names_and_peers_are_found_beyond_the_connected_peers(kind):
    peers, nodes = await sparse(kind, 12)
    try:
        asker = nodes[0]
        # Peers the asker is not connected to. (A lookup dials the peers it asks: in a network
        # smaller than k = 20 the first refreshes may reach everyone. The 50-peer formation in
        # tests/growth is the real test of distance.)
        far = [n for n in nodes[1:] if n.peer_id not in asker.peers()] or nodes[5:]
        holder, target = far[0], far[-1]

        # content: the holder pins a document; its provider record lands in the DHT
        root = await holder.storage.put_document({"@type": "Article", "name": "far away"}, pin="n")
        await wait_for(
            lambda: asker.routing.find_providers(root.cid_bytes),
            timeout=20,
            what="the holder's provider record",
        )
        fetched = await asker.storage.fetch(root)

        assert holder.peer_id in fetched.from_peers
        assert (await asker.storage.get_document(root))["name"] == "far away"

        # names: a record published at the holder resolves at the asker through the DHT
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from peerkit.naming.records import name_for

        key = Ed25519PrivateKey.generate()
        await holder.naming.publish(key, root)
        raw = await asker.routing.get_record("names", name_for(key))
        assert raw is not None
        record = await asker.naming.resolve(name_for(key))
        assert record is not None and record.value == f"/ipfs/{root.encode()}".encode()

        # peers: dial a peer known by its id alone
        assert await asker.connect(target.peer_id) == target.peer_id
    finally:
        await peers.close()


async def test_forged_records_and_foreign_addresses_are_not_kept():
    from peerkit.routing.messages import AddProvider, PutRecord

    peers, nodes = await sparse("memory", 4)
    try:
        a, b = nodes[0], nodes[1]
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from peerkit.clock import utc
        from peerkit.naming.records import create_record, name_for

        key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        forged = create_record(other, b"/ipfs/bafkqaaa", 1, now=utc(a.clock))
        with pytest.raises(Exception, match="signature"):
            await a.request(
                b.peer_id, PutRecord(namespace="names", key=name_for(key), record=forged)
            )
        assert b.routing.store.get_value("names", name_for(key), b.clock.now()) is None
        # a provider record names the asker only, with only the addresses that are its own
        theirs = nodes[2].addrs()[0]
        await a.request(b.peer_id, AddProvider(key=key_for("cid", b"x"), addrs=[theirs]))
        (held,) = b.routing.store.get_providers(key_for("cid", b"x"), b.clock.now())
        assert held.peer == a.peer_id and held.addrs == []
    finally:
        await peers.close()


async def test_only_the_publisher_puts_its_name_record_in_the_dht():
    """A record another peer hands us is stored and gossiped, not put at 20 more peers on its
    behalf: one request from a stranger must not cost us a lookup and 20 requests."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from peerkit.clock import utc
    from peerkit.naming.messages import PublishRecord
    from peerkit.naming.records import create_record, name_for

    peers, nodes = await sparse("memory", 4)
    try:
        a, b = nodes[0], nodes[1]
        key = Ed25519PrivateKey.generate()
        raw = create_record(key, b"/ipfs/bafkqaaa", 0, now=utc(a.clock))
        accepted = await a.request(b.peer_id, PublishRecord(name=name_for(key), record=raw))
        assert accepted.head  # stored at b (and announced)
        await a.naming.publish(key, "/ipfs/bafkqaaa")  # a's own: put in the DHT by a
        await wait_for(lambda: a.routing.ext.counts["record_puts"], what="a's own put")
        assert b.routing.ext.counts["record_puts"] == 0
    finally:
        await peers.close()


async def test_a_peer_flooding_the_store_is_slowed_then_bounded():
    """What one peer may store here is rated (writes per minute) and bounded (records per
    peer): a flood gets typed refusals, and the store holds no more than the bound."""
    from peerkit.config import RoutingConfig
    from peerkit.errors import PeerBusy
    from peerkit.routing.messages import AddProvider
    from peerkit.routing.records import RecordRefused

    peers = PeerSet()
    a, b = await peers.start(
        2,
        log_level="warning",
        routing=RoutingConfig(writes_per_peer_per_minute=8, max_records_per_peer=3),
    )
    try:
        outcomes = []
        for i in range(12):
            try:
                await a.request(b.peer_id, AddProvider(key=key_for("cid", bytes([i]))))
                outcomes.append("kept")
            except RecordRefused:
                outcomes.append("full")
            except PeerBusy:
                outcomes.append("busy")
        assert outcomes == ["kept"] * 3 + ["full"] * 5 + ["busy"] * 4
        assert b.routing.store.charged == {a.peer_id: 3}
        assert b.running  # and the peer keeps running
    finally:
        await peers.close()


def _sequences_stored_elsewhere(nodes: list, name: str) -> set[int]:
    """The sequence numbers of ``name``'s records the DHT stores at every node but the first."""
    from peerkit.clock import utc
    from peerkit.naming.records import verify_record
    from peerkit.naming.routing import NAMESPACE

    found = set()
    for node in nodes[1:]:
        raw = node.routing.store.get_value(NAMESPACE, name, node.clock.now())
        if raw is not None:
            found.add(verify_record(name, raw, now=utc(node.clock)).sequence)
    return found


async def test_a_name_updated_in_a_burst_is_put_in_the_dht_newest_first_and_seldom():
    """Twenty records of one name in a burst cost the DHT two puts, not twenty (the first at
    once, the newest after ``DHT_PUT_GAP``); the peers that store it end with the newest."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from peerkit.naming.records import name_for

    peers, nodes = await sparse("memory", 4)
    try:
        a = nodes[0]
        key = Ed25519PrivateKey.generate()
        name = name_for(key)
        for _ in range(20):
            await a.naming.publish(key, "/ipfs/bafkqaaa")

        await wait_for(
            lambda: 19 in _sequences_stored_elsewhere(nodes, name),
            timeout=10,
            what="the newest record in the DHT",
        )
        assert a.routing.ext.counts["record_puts"] == 2
    finally:
        await peers.close()


async def test_a_peer_stopping_in_the_gap_between_puts_still_puts_the_newest_record():
    """The newest record of a burst waits up to ``DHT_PUT_GAP`` for its put; a peer that stops
    meanwhile puts it on its way out, rather than leaving the DHT a record behind."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from peerkit.naming.records import name_for

    peers, nodes = await sparse("memory", 4)
    try:
        a = nodes[0]
        key = Ed25519PrivateKey.generate()
        name = name_for(key)
        for _ in range(3):
            await a.naming.publish(key, "/ipfs/bafkqaaa")
        await a.stop()  # well inside the gap: the newest is still waiting
        assert 2 in _sequences_stored_elsewhere(nodes, name)
    finally:
        await peers.close()
