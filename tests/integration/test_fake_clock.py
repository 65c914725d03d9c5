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
from peerkit.config import AuthConfig, RoutingConfig, StorageConfig
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


#: storage's regular GC off: the rendezvous client is then the only timer on the clock
NO_TIMERS = StorageConfig(gc_every=0)
#: (the DHT's refreshes wait on the node's clock too: this test waits for the rendezvous one)
NO_ROUTING = RoutingConfig(enabled=False)


async def test_rendezvous_renews_before_its_ttl_on_the_nodes_clock():
    """The client re-registers every ttl/3 of the node's clock: 200 fake seconds pass (the
    TTL is 60) without sleeping, and the point still lists the peer."""
    from peerkit.config import RendezvousConfig
    from peerkit.rendezvous.extension import RendezvousExtension
    from peerkit.testing import wait_for

    clock = FakeClock()
    network = MemoryNetwork()
    point = Node(
        PeerConfig(
            name="point",
            transport="memory",
            rendezvous=RendezvousConfig(server=True),
            storage=NO_TIMERS,
            routing=NO_ROUTING,
        ),
        transport=MemoryTransport(name="point", network=network),
        clock=clock,
    )
    await point.start()
    member = Node(
        PeerConfig(
            name="member",
            transport="memory",
            bootstrap=[point.addrs()[0]],
            rendezvous=RendezvousConfig(namespaces=["app"], ttl=60),
            storage=NO_TIMERS,
            routing=NO_ROUTING,
        ),
        transport=MemoryTransport(name="member", network=network),
        clock=clock,
    )
    await member.start()
    registry = point.extension(RendezvousExtension).registry

    def expires() -> float:
        found, _ = registry.discover("app", clock.monotonic())
        return max((r.expires for r in found if r.peer == member.peer_id), default=0.0)

    def registered() -> bool:
        if expires():
            return True
        if clock.sleeping():  # a first attempt before the bootstrap dial: its retry waits
            clock.advance(0.5)  # on the clock too
        return False

    try:
        await wait_for(registered, what="the first registration")
        for _ in range(10):  # 10 x 20 s: each renewal is due after 20 s of fake time
            before = expires()
            await wait_for(
                lambda: clock.sleeping(20), what="the client to wait for its next renewal"
            )
            clock.advance(20)
            await wait_for(lambda b=before: expires() > b, what="a renewal")
        assert expires() > clock.monotonic()  # still registered, 200 s after the first
    finally:
        await member.stop()
        await point.stop()


async def test_restart_backoff_waits_on_the_nodes_clock():
    """An actor that crashed is restarted only after its backoff of clock time has passed."""
    from peerkit.actor import Actor, handler
    from peerkit.config import SupervisionConfig
    from peerkit.testing import wait_for
    from tests.messages import Crash

    class Fragile(Actor):
        @handler(handles=Crash)
        async def crash(self, msg: Crash) -> None:
            raise RuntimeError("boom")

    clock = FakeClock()
    config = PeerConfig(
        name="f", transport="memory", supervision=SupervisionConfig(backoff=30, backoff_max=30)
    )
    node = Node(config, clock=clock)
    ref = node.spawn(Fragile)
    await node.start()
    try:
        asleep = clock.sleeping()  # timers already set (storage's regular GC)
        await ref.tell(Crash())
        await wait_for(
            lambda: clock.sleeping() > asleep, what="the supervisor to wait out its backoff"
        )
        assert node.supervisor.restarts(ref) == 0  # waiting: 30 s of this clock, not the loop's
        clock.advance(30)
        await wait_for(lambda: node.supervisor.restarts(ref) == 1, what="the restart")
    finally:
        await node.stop()
