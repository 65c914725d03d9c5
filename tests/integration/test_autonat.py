"""AutoNAT v1 (``/libp2p/autonat/1.0.0``) answered by relays, asked by py-libp2p's own client
and by hand-made requests, between real libp2p peers on this machine."""

import socket

import pytest
from libp2p.host.autonat.autonat import AUTONAT_PROTOCOL_ID, AutoNATService
from libp2p.host.autonat.pb.autonat_pb2 import Message
from libp2p.peer.id import ID
from libp2p.utils.varint import encode_varint_prefixed, read_varint_prefixed_bytes_limited
from multiaddr import Multiaddr

from peerkit import Node, PeerConfig
from peerkit.config import RelayConfig

pytestmark = pytest.mark.libp2p


def relay_node() -> Node:
    return Node(PeerConfig(name="relay", log_level="warning", relay=RelayConfig(serve=True)))


def bare(addr: str) -> bytes:
    return Multiaddr(addr.rsplit("/p2p/", 1)[0]).to_bytes()


async def test_relays_answer_autonat_with_a_real_dial_back():
    """The relay dials the asker back from a fresh host: an address nobody listens on is
    "unreachable" (py-libp2p's stock server dials over the connection it already has, so it
    said "reachable" to everyone); a peer asking again at once is refused."""
    async with relay_node() as relay, Node(PeerConfig(name="a", log_level="warning")) as a:
        server = ID.from_base58(relay.peer_id)
        await a.connect(relay.addrs()[0])

        async def ask(addrs: list[bytes]) -> int:
            client = AutoNATService(a.transport._host, serve=False)
            return (await client.query_server(server, addrs, timeout=20))[0]

        with socket.socket() as s:  # a port nobody listens on (bound, never listening)
            s.bind(("127.0.0.1", 0))
            closed = Multiaddr(f"/ip4/127.0.0.1/tcp/{s.getsockname()[1]}").to_bytes()
            assert await a.transport.bridge.call(ask, [closed]) == Message.E_DIAL_ERROR
            with pytest.raises(Exception):  # noqa: B017 (py-libp2p raises its own on a reset)
                await a.transport.bridge.call(ask, [bare(a.addrs()[0])])
        relay.transport.autonat._last_asked.clear()  # the per-peer pause is over
        assert await a.transport.bridge.call(ask, [bare(a.addrs()[0])]) == Message.OK
        stats = relay.transport.stats()
        assert (stats["autonat_reachable"], stats["autonat_unreachable"]) == (1, 1)
        assert stats["autonat_refused"] == 1


async def test_autonat_dials_only_the_asker_at_its_own_ip():
    async with (
        relay_node() as relay,
        Node(PeerConfig(name="a", log_level="warning")) as a,
        Node(PeerConfig(name="b", log_level="warning")) as b,
    ):
        await a.connect(relay.addrs()[0])

        async def ask(peer_id: str, addr: bytes) -> int:
            request = Message(type=Message.DIAL)
            request.dial.peer.id = ID.from_base58(peer_id).to_bytes()
            request.dial.peer.addrs.append(addr)
            host = a.transport._host
            stream = await host.new_stream(ID.from_base58(relay.peer_id), [AUTONAT_PROTOCOL_ID])
            await stream.write(encode_varint_prefixed(request.SerializeToString()))
            answer = Message()
            answer.ParseFromString(await read_varint_prefixed_bytes_limited(stream, 4096))
            return int(answer.dialResponse.status)

        # a asks the relay to dial b: refused (the peer dialled back is the one asking)
        assert await a.transport.bridge.call(ask, b.peer_id, bare(b.addrs()[0])) == (
            Message.E_BAD_REQUEST
        )
        relay.transport.autonat._last_asked.clear()
        # an address at another IP than the one a connects from: never dialled
        other_ip = Multiaddr("/ip4/10.9.9.9/tcp/4001").to_bytes()
        assert await a.transport.bridge.call(ask, a.peer_id, other_ip) == Message.E_DIAL_REFUSED
        assert relay.transport.stats()["autonat_unreachable"] == 0
