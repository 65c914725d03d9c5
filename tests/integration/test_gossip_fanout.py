"""An app node's events reach every user connected to it, however many.

The common shape: users connected only to an app node, which publishes. gossipsub sends a
message along its mesh (6 to 12 peers), and a publisher not subscribed to the topic picks 6
fanout peers; peerkit publishes its own messages to every subscribed peer (gossipsub v1.1 flood
publishing) so that users outside those do not depend on gossip repair (IHAVE/IWANT), which in
bench_growth's 50 users left whole processes of them without events. Here, over real libp2p,
the outcome users see; which peers a message is sent to is pinned by
tests/unit/test_flood_publish.py (this test alone can pass on gossip repair in a small star).
"""

from peerkit import Node
from tests.conftest import events_on_every_node
from tests.messages import EchoActor, Posted

USERS = 14  # past the mesh's upper bound of 12, and far past the 6 fanout peers


async def test_events_reach_every_user_connected_only_to_the_publisher(make_nodes):
    (app,) = await make_nodes(1, "libp2p")  # publishes, subscribes to nothing
    users: list[Node] = await make_nodes(USERS, "libp2p", actors=[EchoActor], star=False)
    for user in users:
        await user.connect(app.addrs()[0])  # the app node is all each user knows
    await app.wait_for_subscribers(Posted, USERS, timeout=30)
    for i in range(20):
        await app.publish(Posted(n=i))
    for actor in await events_on_every_node(users, 20, timeout=30):
        assert sorted(actor.events) == list(range(20))
