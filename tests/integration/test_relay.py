"""Circuit relay v2 between real libp2p peers on this machine (the NAT cases are in tests/lab)."""

import asyncio

import pytest

from peerkit import Node, PeerConfig
from peerkit.config import DcsConfig, RelayConfig, RoutingConfig
from peerkit.testing import wait_for

pytestmark = pytest.mark.libp2p


def relayed(node: Node) -> list[str]:
    return [a for a in node.addrs() if "/p2p-circuit/" in a]


async def test_a_peer_that_cannot_be_dialled_is_reached_through_a_relay():
    from peerkit.dcs.messages import GetCard

    relay_cfg = RelayConfig(serve=True, max_reservations=1)
    async with (
        Node(PeerConfig(name="relay", log_level="warning", relay=relay_cfg)) as relay,
        Node(
            PeerConfig(
                name="hidden",
                log_level="warning",
                # (no hole punching, no DHT here: on one machine either would find the direct
                # address and make the connection direct)
                relay=RelayConfig(reserve="always", hole_punch=False),
                routing=RoutingConfig(enabled=False),
                dcs=DcsConfig(remote_control=True),
            )
        ) as hidden,
        Node(
            PeerConfig(name="second", log_level="warning", relay=RelayConfig(reserve="always"))
        ) as second,
        Node(
            PeerConfig(
                name="caller",
                log_level="warning",
                relay=RelayConfig(hole_punch=False),
                routing=RoutingConfig(enabled=False),
            )
        ) as caller,
    ):
        await hidden.connect(relay.addrs()[0])
        await wait_for(lambda: relayed(hidden), what="a reservation at the relay")
        address = relayed(hidden)[0]
        assert address.startswith(relay.addrs()[0] + "/p2p-circuit/p2p/")
        # only the relayed address: the caller must go through the relay
        assert await caller.connect(address) == hidden.peer_id
        assert caller.connection_kind(hidden.peer_id) == "relayed"
        # and the other end knows it too (py-libp2p's inbound path forgot it: it looked direct)
        await wait_for(lambda: hidden.connection_kind(caller.peer_id), what="the inbound side")
        assert hidden.connection_kind(caller.peer_id) == "relayed"
        card = await caller.request(hidden.peer_id, GetCard(), timeout=10)
        assert card.id == hidden.dcs.me.id
        assert caller.connection_kind(relay.peer_id) == "direct"
        # the relay is bounded: one reservation, so the second peer gets none
        await second.connect(relay.addrs()[0])
        with pytest.raises(AssertionError):  # (what must not happen: a bounded wait)
            await wait_for(lambda: relayed(second), timeout=2, what="a second reservation")


async def test_a_relayed_connection_becomes_direct_and_requests_move_over():
    """Hole punching's first step: a peer reached through a relay that can in fact be dialled
    is dialled, and requests go over the direct connection from then on. (The NAT cases, with
    the hole punch itself, are in tests/lab/test_nat.py.)"""
    from peerkit.dcs.messages import GetCard

    async with (
        Node(PeerConfig(name="relay", log_level="warning", relay=RelayConfig(serve=True))) as relay,
        Node(
            PeerConfig(
                name="hidden",
                log_level="warning",
                relay=RelayConfig(reserve="always"),
                dcs=DcsConfig(remote_control=True),
            )
        ) as hidden,
        Node(PeerConfig(name="caller", log_level="warning")) as caller,
    ):
        await hidden.connect(relay.addrs()[0])
        await wait_for(lambda: relayed(hidden), what="a reservation at the relay")
        await caller.connect(relayed(hidden)[0])
        before = await caller.request(hidden.peer_id, GetCard(), timeout=10)
        await wait_for(
            lambda: caller.connection_kind(hidden.peer_id) == "direct",
            timeout=20,
            what="the connection to become direct",
        )
        await wait_for(
            lambda: hidden.connection_kind(caller.peer_id) == "direct",
            what="the other side to see it direct",
        )
        after = await caller.request(hidden.peer_id, GetCard(), timeout=10)
        assert after == before
        chan = caller.transport._outbound[hidden.peer_id]
        assert not chan.relayed  # the session stream moved to the direct connection
        stats = caller.transport.stats()
        assert stats["holepunch_refused"] == 0

        # The relayed connection closing is not the peer going away: the direct one stays.
        heard: list[tuple[str, bool]] = []
        caller.router.peer_watch.watch(lambda p, c: heard.append((p, c)), at_once=True)
        caller.router.peer_watch.watch(lambda p, c: heard.append((p, c)))
        await _close_relayed_connections(caller, hidden.peer_id)
        assert caller.connection_kind(hidden.peer_id) == "direct"
        assert await caller.request(hidden.peer_id, GetCard(), timeout=10) == before
        assert heard == []
        assert hidden.peer_id in caller.peers()


async def _close_relayed_connections(node: Node, peer: str) -> None:
    from libp2p.peer.id import ID

    from peerkit._transport.libp2p import _relayed

    network = node.transport._host.get_network()
    relayed_conns = [c for c in network.connections.get(ID.from_base58(peer), []) if _relayed(c)]
    assert relayed_conns, "the relayed connection is still open"

    async def close_them() -> None:
        for conn in relayed_conns:
            await conn.close()

    await node.transport.bridge.call(close_them)


async def test_a_peer_with_a_public_address_does_not_reserve_and_bad_relayed_addresses_fail():
    from peerkit import DialFailed

    async with (
        Node(PeerConfig(name="relay", log_level="warning", relay=RelayConfig(serve=True))) as relay,
        Node(
            PeerConfig(name="plain", log_level="warning", relay=RelayConfig(reserve="never"))
        ) as plain,
    ):
        await plain.connect(relay.addrs()[0])
        assert relayed(plain) == []
        missing = f"{relay.addrs()[0]}/p2p-circuit/p2p/{plain.peer_id}"  # no reservation
        async with Node(PeerConfig(name="c", log_level="warning")) as caller:
            with pytest.raises(DialFailed, match="through its relay"):
                await caller.connect(missing, timeout=5)
            with pytest.raises(DialFailed, match="which peer is behind the relay"):
                await caller.connect(f"{relay.addrs()[0]}/p2p-circuit")


async def test_reservations_are_renewed_and_dropped_when_the_relay_says_no():
    async with (
        Node(PeerConfig(name="relay", log_level="warning", relay=RelayConfig(serve=True))) as relay,
        Node(PeerConfig(name="d", log_level="warning", relay=RelayConfig(reserve="always"))) as d,
    ):
        await d.connect(relay.addrs()[0])
        await wait_for(lambda: relayed(d), what="a reservation")
        relaying = d.transport.relay
        await d.transport.bridge.call(relaying.renew)  # what the timer does every 5 minutes
        assert relayed(d)
        relay.transport.relay.protocol.allow_hop = False  # the relay stops relaying
        await relay.transport.bridge.call(_refuse_hop, relay)
        await d.transport.bridge.call(relaying.renew)
        assert relayed(d) == []  # no longer announced


async def _refuse_hop(relay: Node) -> None:
    from peerkit._transport._relay import PROTOCOL_ID

    relay.transport._host.remove_stream_handler(PROTOCOL_ID)


async def test_a_rendezvous_point_dials_back_only_the_askers_own_ip():
    from peerkit.config import RendezvousConfig
    from peerkit.rendezvous.messages import CheckReach

    async with (
        Node(
            PeerConfig(name="rdv", log_level="warning", rendezvous=RendezvousConfig(server=True))
        ) as rdv,
        Node(PeerConfig(name="asker", log_level="warning")) as asker,
    ):
        await asker.connect(rdv.addrs()[0])
        mine = asker.addrs()[0]
        elsewhere = mine.replace("/ip4/127.0.0.1/", "/ip4/192.0.2.7/")  # a third party's IP
        reply = await asker.request(rdv.peer_id, CheckReach(addrs=[mine, elsewhere]), timeout=30)
        assert reply.reachable == [mine]  # reached by a fresh dial; the other never tried
        other = mine.rsplit("/p2p/", 1)[0] + f"/p2p/{rdv.peer_id}"  # not the asker's id
        reply = await asker.request(rdv.peer_id, CheckReach(addrs=[other]), timeout=30)
        assert reply.reachable == []


async def test_a_new_relay_slot_is_registered_at_once_not_at_the_next_renewal():
    """A peer registers at its rendezvous point at start, before any relay slot; once it has
    one, it registers again at once (the next renewal is a third of the TTL away: 100 s here)
    so others learn the relayed address now."""
    from peerkit.config import RendezvousConfig
    from peerkit.rendezvous.messages import Discover

    async with (
        Node(
            PeerConfig(
                name="rdv",
                log_level="warning",
                rendezvous=RendezvousConfig(server=True),
                relay=RelayConfig(serve=True),
            )
        ) as rdv,
        Node(PeerConfig(name="asker", log_level="warning")) as asker,
    ):
        async with Node(
            PeerConfig(
                name="hidden",
                log_level="warning",
                bootstrap=[rdv.addrs()[0]],
                relay=RelayConfig(reserve="always", hole_punch=False),
                rendezvous=RendezvousConfig(namespaces=["lab/users"], ttl=300),
            )
        ) as hidden:
            await asker.connect(rdv.addrs()[0])
            version = hidden.addrs_version
            await wait_for(lambda: relayed(hidden), what="a relay slot")
            assert hidden.addrs_version > version

            async def relayed_registration() -> list[str]:
                await asyncio.sleep(0.05)  # (each check is a request to the rendezvous point)
                found = await asker.request(rdv.peer_id, Discover(namespace="lab/users"))
                return [a for r in found.registrations for a in r.addrs if "/p2p-circuit/" in a]

            await wait_for(relayed_registration, timeout=10, what="the relayed registration")


async def test_a_hole_punch_asked_for_on_a_direct_connection_is_refused():
    """DCUtR makes the answering side dial the addresses the asker lists. Asked on a direct
    connection (no relay between us, nothing to upgrade) that would let any stranger point our
    SYNs at any host: the stream is reset, nothing is dialled."""
    from libp2p.peer.id import ID
    from libp2p.relay.circuit_v2.dcutr import PROTOCOL_ID
    from libp2p.relay.circuit_v2.pb.dcutr_pb2 import HolePunch
    from libp2p.relay.circuit_v2.utils import write_delimited_msg
    from multiaddr import Multiaddr

    async with (
        Node(PeerConfig(name="target", log_level="warning")) as target,
        Node(PeerConfig(name="stranger", log_level="warning")) as stranger,
    ):
        await stranger.connect(target.addrs()[0])

        async def ask() -> None:
            host = stranger.transport._host
            msg = HolePunch(type=HolePunch.CONNECT)
            msg.ObsAddrs.append(Multiaddr("/ip4/93.184.216.34/tcp/80").to_bytes())
            try:
                stream = await host.new_stream(ID.from_base58(target.peer_id), [PROTOCOL_ID])
                await write_delimited_msg(stream, msg)
                await stream.read(1)
            except Exception:  # reset (py-libp2p may see it while still negotiating): expected
                pass

        await stranger.transport.bridge.call(ask)
        await wait_for(
            lambda: target.transport.stats()["holepunch_refused"] == 1, what="the refusal"
        )
        assert target.transport.stats()["holepunch_attempts"] == 0
        assert target.connection_kind(stranger.peer_id) == "direct"  # and nothing else broke
