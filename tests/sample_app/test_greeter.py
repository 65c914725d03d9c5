"""Tests of the sample app's greeter service (in-memory peers; --peerkit-libp2p for real ones)."""

import pytest

from peerkit import Context, PeerConfig, ValidationFailed
from peerkit.testing import FakeNode, make_actor, wait_for

from sample_app.generated.greeter import (
    Announce,
    ChatPosted,
    Greet,
    Greeting,
    Inbox,
    InboxContents,
    Relay,
)
from sample_app.services.greeter import Greeter


async def test_greet(peers):
    server, client = await peers(2, services=[Greeter])
    reply = await client.request(server.peer_id, Greet(name="bob"))
    assert reply == Greeting(text="hello bob", by=server.config.name)


async def test_relay_asks_the_third_peer(peers):
    hub, alice, bob = await peers(3, services=[Greeter])
    reply = await alice.request(hub.peer_id, Relay(to=bob.peer_id, name="alice"))
    assert reply.by == bob.config.name


async def test_bad_input_never_reaches_the_handler(peers):
    server, client = await peers(2, services=[Greeter])
    with pytest.raises(ValidationFailed, match=r"\$\.name"):
        await client.request(server.peer_id, Greet(name=""))
    # the same check applies in-process (a local request skips the wire decoder)
    with pytest.raises(ValidationFailed, match=r"\$\.name"):
        await server.request(server.peer_id, Greet(name="x" * 65))


async def test_announce_reaches_every_inbox(peers):
    hub, alice, bob = await peers(3, services=[Greeter])
    await hub.request(hub.peer_id, Announce(texts=["hi", "there"], subscribers=2))
    for node in (alice, bob):
        contents = await wait_for(
            lambda n=node: _inbox_when_full(peers, n), what=f"{node.config.name}'s inbox"
        )
        assert [m.text for m in contents] == ["hi", "there"]


def _inbox_when_full(peers, node):
    greeter = peers.set.actor(node, "Greeter")
    return greeter.inbox_messages if len(greeter.inbox_messages) == 2 else None


async def test_inbox_alone():
    service = make_actor(Greeter, node=FakeNode(), config=PeerConfig(name="solo"))
    await service.chat(ChatPosted(author="a", text="t"), Context())
    assert await service.inbox(Inbox(), Context()) == InboxContents(
        messages=[ChatPosted(author="a", text="t")]
    )
