"""The app developer's test kit."""

import pytest

from peerkit import Context
from peerkit.testing import FakeNode, WaitTimeout, make_actor, wait_for, wait_handled

from sample_app.generated.greeter import Announce, ChatPosted, Greet, Greeting, Inbox, Relay
from sample_app.services.greeter import Greeter


async def test_peers_fixture_starts_connected_nodes(peers):
    alice, bob = await peers(2, services=[Greeter])
    reply = await bob.request(alice.peer_id, Greet(name="bob"))
    assert reply == Greeting(text="hello bob", by=alice.config.name)


async def test_deliver_and_wait_for_the_handler_without_sleeping(peers):
    alice, bob = await peers(2, services=[Greeter])
    await alice.wait_for_subscribers(ChatPosted, 1)
    await alice.publish(ChatPosted(author="a", text="hi"))
    await wait_handled(bob, "Greeter")
    inbox = await bob.request(bob.peer_id, Inbox())
    assert [m.text for m in inbox.messages] == ["hi"]


async def test_a_handler_alone_with_a_fake_node():
    node = FakeNode(name="solo", replies={Greet: Greeting(text="hello z", by="other")})
    greeter = make_actor(Greeter, node=node)
    assert (await greeter.greet(Greet(name="x"), Context())).text == "hello x"
    assert (await greeter.relay(Relay(to="p2", name="z"), Context())).by == "other"
    assert node.requests[0][0] == "p2"
    node_subscribers = FakeNode()
    node_subscribers.wait_for_subscribers = _no_wait  # type: ignore[attr-defined]
    announcer = make_actor(Greeter, node=node_subscribers)
    await announcer.announce(Announce(texts=["a", "b"]), Context())
    assert [e.text for e in node_subscribers.events(ChatPosted)] == ["a", "b"]


async def _no_wait(*args, **kwargs):
    return []


async def test_waiters_time_out_with_a_clear_message():
    with pytest.raises(WaitTimeout, match="waiting for the moon"):
        await wait_for(lambda: False, timeout=0.05, what="the moon")


async def test_fake_node_says_what_is_missing():
    greeter = make_actor(Greeter, node=FakeNode())
    from peerkit import PeerkitError

    with pytest.raises(PeerkitError, match="no reply for Greet"):
        await greeter.relay(Relay(to="p", name="n"), Context())
