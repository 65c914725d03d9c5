"""Three people on three peers edit one document (memory and real libp2p)."""

import pytest

from peerkit.dcs.crypto import Identity
from tests.conftest import TRANSPORTS


async def setup(make_nodes, kind):
    alice, bob, carol = await make_nodes(3, kind)
    for node, seed in ((alice, 1), (bob, 2), (carol, 3)):
        await node.dcs.use_identity(Identity.from_seed(bytes([seed]) * 32))
    await alice.wait_for_subscribers("peerkit.dcs", 2)
    doc = await alice.dcs.create()
    for other in (bob, carol):
        await alice.wait_for_subscribers(f"peerkit.dcs.inbox.{other.dcs.me.id[:32]}", 1)
        await alice.dcs.invite(doc, other.dcs.card())
    for other in (bob, carol):
        await other.dcs.wait_for(doc, lambda t: True)  # the invitation arrived and was accepted
    return alice, bob, carol, doc


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_concurrent_edits_converge(make_nodes, kind):
    alice, bob, carol, doc = await setup(make_nodes, kind)
    await alice.dcs.insert(doc, 0, "Alice ")
    await bob.dcs.insert(doc, 0, "Bob ")
    await carol.dcs.insert(doc, 0, "Carol ")
    texts = [await n.dcs.wait_for(doc, lambda t: len(t) == 16) for n in (alice, bob, carol)]
    assert len(set(texts)) == 1 and sorted(texts[0].split()) == ["Alice", "Bob", "Carol"]


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_offline_edits_merge_on_reconnect(make_nodes, kind):
    alice, bob, carol, doc = await setup(make_nodes, kind)
    await alice.dcs.insert(doc, 0, "base ")
    await carol.dcs.wait_for(doc, lambda t: t == "base ")
    hub = alice.peer_id
    for n in (bob,):  # carol goes offline: everyone drops her
        await n.transport.disconnect(carol.peer_id)
    await carol.transport.disconnect(hub)
    await carol.dcs.insert(doc, 5, "carol-offline ")
    await alice.dcs.insert(doc, 0, "alice-online ")
    await carol.connect(alice.addrs()[0])  # back: catch-up runs both ways
    want = lambda t: "carol-offline" in t and "alice-online" in t  # noqa: E731
    texts = [await n.dcs.wait_for(doc, want) for n in (alice, bob, carol)]
    assert len(set(texts)) == 1


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_revoked_member_reads_nothing_new_and_is_ignored(make_nodes, kind):
    alice, bob, carol, doc = await setup(make_nodes, kind)
    await alice.dcs.insert(doc, 0, "before ")
    await bob.dcs.wait_for(doc, lambda t: t == "before ")
    await carol.dcs.wait_for(doc, lambda t: t == "before ")
    await alice.dcs.revoke(doc, bob.dcs.me.id)
    await carol.dcs.wait_for(doc, lambda t: carol.dcs.doc(doc).epoch == 1)
    for i in range(100):
        await alice.dcs.insert(doc, len(alice.dcs.text(doc)), f"{i} ")
    final = await carol.dcs.wait_for(doc, lambda t: t.endswith("99 "))
    assert final.startswith("before 0 1 2")
    assert bob.dcs.text(doc) == "before "  # decrypted none of the 100
    assert bob.dcs_shelf.rejected >= 100
    await bob.dcs.insert(doc, 0, "bob-after-revoke ")  # Bob still writes locally...
    await alice.dcs.insert(doc, 0, "x")
    await carol.dcs.wait_for(doc, lambda t: t.startswith("x"))
    assert "bob-after-revoke" not in carol.dcs.text(doc)  # ...honest peers ignore it
    assert "bob-after-revoke" not in alice.dcs.text(doc)
