"""py-libp2p's signed peer record on every pubsub RPC: checked once per peer and record, not
on every RPC (see peerkit/_transport/_gossip.py)."""

import libp2p.pubsub.gossipsub
import libp2p.pubsub.pubsub
import pytest
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.envelope import Envelope
from libp2p.peer.peerstore import env_to_send_in_RPC
from libp2p.pubsub.pb import rpc_pb2
from multiaddr import Multiaddr

from peerkit._transport import _gossip


def rpc_from(host) -> rpc_pb2.RPC:
    rpc = rpc_pb2.RPC()
    rpc.senderRecord = env_to_send_in_RPC(host)[0]
    return rpc


@pytest.fixture
def hosts():
    sender = new_host(
        key_pair=create_new_key_pair(), listen_addrs=[Multiaddr("/ip4/10.77.0.2/tcp/4001")]
    )
    sender.get_addrs = lambda: [Multiaddr("/ip4/10.77.0.2/tcp/4001")]  # not listening: say where
    return sender, new_host(key_pair=create_new_key_pair())


@pytest.fixture
def verifications(monkeypatch):
    count = []
    real = Envelope.validate

    def counting(self, *args, **kwargs):
        count.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Envelope, "validate", counting)
    return count


def test_pubsub_uses_the_checking_once_version():
    assert libp2p.pubsub.pubsub.maybe_consume_signed_record is _gossip._consume_sender_record_once
    assert (
        libp2p.pubsub.gossipsub.maybe_consume_signed_record is _gossip._consume_sender_record_once
    )


def test_a_peers_record_is_checked_once_then_taken_as_read(hosts, verifications):
    sender, receiver = hosts
    rpc = rpc_from(sender)
    for _ in range(20):
        assert _gossip._consume_sender_record_once(rpc, receiver, sender.get_id())
    assert len(verifications) == 1
    addrs = receiver.get_peerstore().addrs(sender.get_id())
    assert Multiaddr("/ip4/10.77.0.2/tcp/4001") in addrs


def test_a_record_claiming_another_peer_is_refused_every_time(hosts, verifications):
    sender, receiver = hosts
    impostor = new_host(key_pair=create_new_key_pair())
    rpc = rpc_from(sender)
    for _ in range(3):  # the record is sender's; the connection says it came from impostor
        assert not _gossip._consume_sender_record_once(rpc, receiver, impostor.get_id())
    assert len(verifications) == 3


def test_a_changed_record_is_checked_again(hosts, verifications):
    sender, receiver = hosts
    assert _gossip._consume_sender_record_once(rpc_from(sender), receiver, sender.get_id())
    sender.get_addrs = lambda: [Multiaddr("/ip4/10.77.0.3/tcp/4001")]
    assert _gossip._consume_sender_record_once(rpc_from(sender), receiver, sender.get_id())
    assert len(verifications) == 2
    assert Multiaddr("/ip4/10.77.0.3/tcp/4001") in receiver.get_peerstore().addrs(sender.get_id())


def test_an_rpc_without_a_record_needs_no_check(hosts, verifications):
    _, receiver = hosts
    assert _gossip._consume_sender_record_once(rpc_pb2.RPC(), receiver, receiver.get_id())
    assert verifications == []
