"""Store and forward: members who are never online at the same time, each reaching only an app
node, collaborate through it; the app node keeps their mail and streams and reads none of it."""

import sqlite3

import pytest

from peerkit import Node, PeerConfig
from peerkit._transport.memory import MemoryNetwork, MemoryTransport
from peerkit.config import DcsConfig, StorageConfig
from peerkit.dcs.crypto import Identity
from peerkit.dcs.extension import DcsExtension
from peerkit.testing import wait_for
from tests.conftest import TRANSPORTS

ALICE, BOB = Identity.from_seed(b"\x0a" * 32), Identity.from_seed(b"\x0b" * 32)
SECRET = "the launch is on tuesday"


def make(tmp_path, name, kind, network, *, keeper=False):
    config = PeerConfig(
        name=name,
        transport=kind,
        log_level="warning",
        identity=str(tmp_path / f"{name}.key"),
        storage=StorageConfig(backend="sqlite", path=str(tmp_path / f"{name}.db")),
        dcs=DcsConfig(keep_for_others=keeper),
    )
    transport = MemoryTransport(name=name, network=network) if kind == "memory" else None
    return Node(config, transport=transport)


def kept_doc(node, doc):
    return node.extension(DcsExtension).shelf.kept.docs.get(doc)


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_members_never_online_together_collaborate_through_a_keeper(tmp_path, kind):
    network = MemoryNetwork()
    keeper = make(tmp_path, "keeper", kind, network, keeper=True)
    await keeper.start()
    try:
        # Alice, online alone with the app node, writes and invites Bob, who is offline: the
        # invitation does not wait for Bob (the keeper holds it).
        async with make(tmp_path, "alice", kind, network) as alice:
            await alice.dcs.use_identity(ALICE)
            await alice.connect(keeper.addrs()[0])
            doc = await alice.dcs.create()
            await alice.dcs.insert(doc, 0, SECRET)
            await alice.dcs.invite(doc, {"id": BOB.id, "box": BOB.box_public.hex()}, invite_wait=30)
            await wait_for(
                lambda: (
                    (kept_doc(keeper, doc) or None) is not None
                    and kept_doc(keeper, doc).have().get(ALICE.id, 0) >= 3
                ),
                what="the keeper to hold Alice's stream",
            )

        # the keeper restarts in between: what it holds is on its disk
        await keeper.stop()
        keeper = make(tmp_path, "keeper", kind, network, keeper=True)
        await keeper.start()

        # Bob comes online, reaches only the app node: he collects the invitation, catches
        # up from what the keeper holds, and writes while Alice is away.
        async with make(tmp_path, "bob", kind, network) as bob:
            await bob.dcs.use_identity(BOB)
            await bob.connect(keeper.addrs()[0])
            assert await bob.dcs.wait_for(doc, lambda t: t == SECRET) == SECRET
            await bob.dcs.insert(doc, len(SECRET), " (bob: agreed)")
            await wait_for(
                lambda: kept_doc(keeper, doc).have().get(BOB.id, 0) >= 1,
                what="the keeper to hold Bob's edit",
            )

        # Alice comes back (a restart from her disk) and finds Bob's edit at the keeper.
        async with make(tmp_path, "alice", kind, network) as alice:
            await alice.dcs.use_identity(ALICE)
            await alice.connect(keeper.addrs()[0])
            text = await alice.dcs.wait_for(doc, lambda t: "bob: agreed" in t)
            assert text == SECRET + " (bob: agreed)"
            assert alice.dcs.status(doc)["members"] == sorted([ALICE.id, BOB.id])
    finally:
        await keeper.stop()

    # the keeper held all of it and can read none of it
    with sqlite3.connect(tmp_path / "keeper.db") as db:
        blobs = [row[0] for row in db.execute("SELECT data FROM blocks")]
    assert blobs and not any(b"launch" in blob or b"agreed" in blob for blob in blobs)


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_members_online_together_meet_through_an_app_node(make_nodes, kind):
    """Alice and Bob each connected only to an app node: the invitation reaches Bob at once
    (before: it waited 10 s for subscribers and never arrived), and edits flow both ways."""
    _hub, alice, bob = await make_nodes(3, kind, dcs=DcsConfig(keep_for_others=True))
    await alice.dcs.use_identity(ALICE)
    await bob.dcs.use_identity(BOB)
    doc = await alice.dcs.create()
    await alice.dcs.insert(doc, 0, "hi")
    await alice.dcs.invite(doc, bob.dcs.card(), invite_wait=30)
    await bob.dcs.wait_for(doc, lambda t: t == "hi")
    await bob.dcs.insert(doc, 2, " alice")
    await alice.dcs.wait_for(doc, lambda t: t == "hi alice")


async def test_mail_is_collected_only_by_its_recipient(make_nodes):
    from peerkit.dcs.crypto import Rejected
    from peerkit.dcs.keeper import collect_bytes
    from peerkit.dcs.messages import CollectMail

    keeper, alice, mallory = await make_nodes(3, dcs=DcsConfig(keep_for_others=True))
    await alice.dcs.use_identity(ALICE)
    doc = await alice.dcs.create()
    await alice.dcs.invite(doc, {"id": BOB.id, "box": BOB.box_public.hex()})
    mail = keeper.extension(DcsExtension).shelf.kept.mail
    assert len(mail.waiting(BOB.id)) == 1
    at = int(keeper.clock.now())
    forged_sig = ALICE.sign(collect_bytes(BOB.id, keeper.peer_id, at))
    forged = CollectMail(to=BOB.id, at=at, signature=forged_sig)
    with pytest.raises(Rejected):
        await mallory.request(keeper.peer_id, forged)
    old = at - 3600
    stale_sig = BOB.sign(collect_bytes(BOB.id, keeper.peer_id, old))
    stale = CollectMail(to=BOB.id, at=old, signature=stale_sig)
    with pytest.raises(Rejected, match="too old"):
        await mallory.request(keeper.peer_id, stale)
    assert len(mail.waiting(BOB.id)) == 1  # still there for Bob
    assert keeper.supervisor.restarts(keeper.actor("dcs")) == 0
