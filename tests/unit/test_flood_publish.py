"""Whom gossipsub sends a message to: our own messages to every subscribed peer (gossipsub v1.1
flood publishing), others' messages along the mesh only."""

from types import SimpleNamespace

from libp2p.peer.id import ID

from peerkit._transport._gossip import MESHSUB_PROTOCOL, _FloodPublishing


def router_with(subscribed: list[ID], mesh: list[ID], me: ID) -> _FloodPublishing:
    router = _FloodPublishing(protocols=[MESHSUB_PROTOCOL], degree=6, degree_low=4, degree_high=12)
    router.pubsub = SimpleNamespace(my_id=me, peer_topics={"t": set(subscribed)})  # type: ignore[assignment]
    router.peer_protocol = {p: MESHSUB_PROTOCOL for p in subscribed}
    router.mesh = {"t": set(mesh)}
    return router


def peer(i: int) -> ID:
    return ID(bytes([0, 1, i]))


def test_our_own_messages_go_to_every_subscribed_peer():
    me, users = peer(0), [peer(i) for i in range(1, 41)]
    router = router_with(users, mesh=users[:6], me=me)
    assert set(router._get_peers_to_send(["t"], me, me)) == set(users)


def test_others_messages_are_forwarded_along_the_mesh_only():
    me, users = peer(0), [peer(i) for i in range(1, 41)]
    router = router_with(users, mesh=users[:6], me=me)
    origin = users[10]
    assert set(router._get_peers_to_send(["t"], origin, origin)) == set(users[:6])
