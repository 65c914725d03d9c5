"""peerkit's test kit for app developers (also a pytest plugin: ``pytest -p peerkit.testing``,
registered automatically through the ``pytest11`` entry point).

    async def test_greeting(peers):
        alice, bob = await peers(2, services=[Greeter])
        reply = await bob.request(alice.peer_id, Greet(name="bob"))
        assert reply.text == "hello bob"

    async def test_handler_alone():
        greeter = make_actor(Greeter, node=FakeNode())
        assert (await greeter.greet(Greet(name="x"))).text == "hello x"

Peers run in one process on the in-memory transport (fast), or on real libp2p with
``--peerkit-libp2p`` or ``peers(2, transport="libp2p")``.
"""

from .kit import (
    FakeClock,
    FakeNode,
    PeerSet,
    Published,
    WaitTimeout,
    make_actor,
    refused_one_way,
    wait_for,
    wait_handled,
)

__all__ = [
    "FakeClock",
    "FakeNode",
    "PeerSet",
    "Published",
    "WaitTimeout",
    "make_actor",
    "refused_one_way",
    "wait_for",
    "wait_handled",
]
