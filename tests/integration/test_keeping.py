"""App nodes keep what their users publish: with the user's delegation (given at login), an
app node pins the Me DAG and named content and keeps the records in the DHT; a second device
logs in anywhere while the first is offline. Quotas per user, listed and removable."""

import pytest

from peerkit.blocks import parse_cid
from peerkit.config import NamingConfig
from peerkit.naming.keeper import KeepNow
from peerkit.naming.keys import FAST_TEST_KDF, EthereumWallet
from peerkit.naming.records import name_for
from peerkit.testing import PeerSet
from tests.conftest import TRANSPORTS

WALLET = EthereumWallet(b"\x5a" * 32)


async def login(node):
    return await node.naming.login(WALLET, "correct horse", "sample", kdf=FAST_TEST_KDF)


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_second_device_logs_in_anywhere_while_the_first_is_offline(kind):
    peers = PeerSet()
    nodes = await peers.start(7, transport=kind, connect=False, log_level="warning")
    try:
        for i, node in enumerate(nodes):  # a ring: most peers are not connected to each other
            await node.connect(nodes[(i + 1) % len(nodes)].addrs()[0])
        app, first, second = nodes[0], nodes[2], nodes[5]
        session = await login(first)
        blog = session.key_for("blog")
        root = await first.storage.put_document({"@type": "Article", "name": "Hello"}, pin="b")
        await first.naming.publish(blog, root)
        await session.add_name(name_for(blog))  # the Me DAG lists what the user can read

        # at login the app asks its node to keep the user's things
        await first.connect(app.addrs()[0])
        await session.keep_with(app.peer_id, ["blog"])
        listing = await app.request(app.peer_id, KeepNow())
        kept = {k.name: k for k in listing.kept}
        assert set(kept) == {session.me_name, name_for(blog)}
        assert kept[name_for(blog)].root == root.encode()
        assert all(k.root and k.user.startswith("did:pkh:") for k in kept.values())
        # KeepNow answers once what it keeps can be found by CID: the second device need not
        # race the app node's announcements (the pins answer first and announce after)
        assert listing.announced
        for k in kept.values():
            providers = await second.routing.find_providers(parse_cid(k.root).cid_bytes, want=10)
            assert app.peer_id in {p.id for p in providers}, k.name

        await first.stop()  # the first device goes away
        again = await login(second)
        assert again.me["names"] == [name_for(blog)]
        record = await second.naming.resolve(name_for(blog))
        assert record is not None and record.value == f"/ipfs/{root.encode()}".encode()
        fetched = await second.storage.fetch(root)
        assert app.peer_id in fetched.from_peers or fetched.blocks == 0
        assert (await second.storage.get_document(root))["name"] == "Hello"

        # listed and removable
        assert {k.name for k in await app.naming.kept()} == set(kept)
        await app.naming.drop_kept(name_for(blog))
        await app.request(app.peer_id, KeepNow())
        assert {k.name for k in await app.naming.kept()} == {session.me_name}
        assert "kept/" + name_for(blog) not in {p.name for p in await app.storage.pins()}
    finally:
        await peers.close()


@pytest.mark.libp2p
async def test_quotas_per_user_bound_what_an_app_node_keeps():
    peers = PeerSet()  # (two starts: two configs, so real libp2p between them)
    (user,) = await peers.start(1, transport="libp2p", log_level="warning")
    (app,) = await peers.start(
        1,
        transport="libp2p",
        connect=False,
        log_level="warning",
        naming=NamingConfig(keep_names_per_user=2, keep_bytes_per_user=200),
    )
    try:
        await user.connect(app.addrs()[0])
        session = await login(user)
        for label in ("a", "b", "c"):
            big = await user.storage.put_document({"@type": "Article", "name": label * 500})
            await user.naming.publish(session.key_for(label), big)
        await session.keep_with(app.peer_id, ["a", "b", "c"])
        listing = await app.request(app.peer_id, KeepNow())
        assert len(listing.kept) == 2  # names per user
        pinned = [k for k in listing.kept if k.root]
        assert sum(k.bytes for k in pinned) <= 200  # bytes per user: the rest is not pinned
    finally:
        await peers.close()
