"""A node runs on the clock it is given: expiry without sleeping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from peerkit import Node, PeerConfig
from peerkit._transport.memory import MemoryNetwork, MemoryTransport
from peerkit.auth import errors as E
from peerkit.auth.principals import WalletSigner
from peerkit.auth.tokens import Capability
from peerkit.clock import utc
from peerkit.config import AuthConfig
from peerkit.naming.keys import EthereumWallet
from peerkit.naming.messages import PublishRecord
from peerkit.naming.records import RecordExpired, create_record, name_for
from peerkit.storage.messages import PinLs, RunGC
from peerkit.testing import FakeClock


async def _pair(clock: FakeClock, **cfg):
    network = MemoryNetwork()
    nodes = []
    for name in ("a", "b"):
        transport = MemoryTransport(name=name, network=network)
        node = Node(
            PeerConfig(name=name, transport="memory", **cfg), transport=transport, clock=clock
        )
        await node.start()
        nodes.append(node)
    await nodes[1].connect(nodes[0].addrs()[0])
    return nodes


async def test_records_expire_on_the_nodes_clock():
    clock = FakeClock()
    a, b = await _pair(clock)
    try:
        key = Ed25519PrivateKey.generate()
        name = name_for(key)
        fresh = create_record(
            key, b"/ipfs/bafkqaaa", 0, now=utc(clock), lifetime=timedelta(hours=1)
        )
        await b.request(a.peer_id, PublishRecord(name=name, record=fresh))  # valid now
        clock.advance(2 * 3600)  # two hours later, on every node at once, without sleeping
        later = create_record(
            key,
            b"/ipfs/bafkqaaa",
            1,
            now=utc(clock) - timedelta(hours=2),
            lifetime=timedelta(hours=1),
        )
        with pytest.raises(RecordExpired):
            await b.request(a.peer_id, PublishRecord(name=name, record=later))
    finally:
        await b.stop()
        await a.stop()


async def test_delegations_expire_on_the_nodes_clock():
    clock = FakeClock()
    operator = WalletSigner(EthereumWallet(b"\xc1" * 32))
    a, b = await _pair(clock, auth=AuthConfig(trusted=[operator.did]))
    try:
        grant = b.auth.delegate(
            b.auth.did,
            [Capability("storage:blocks", "storage/gc")],
            signer=operator,
            expires_in=60,
        )
        await b.auth.request(a.peer_id, RunGC(), grant)  # valid now
        clock.advance(3600)
        with pytest.raises(E.Expired):
            await b.auth.request(a.peer_id, RunGC(), grant)
        assert (await b.request(a.peer_id, PinLs())).pins == []
    finally:
        await b.stop()
        await a.stop()
