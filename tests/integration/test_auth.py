"""Multiauth over real libp2p: Alice's wallet delegates `name/republish` for her name to an
app node, Alice goes offline, the app node republishes, Bob resolves; without the delegation
(or with one Alice never signed) the request is refused, and a revocation reaches Bob."""

from datetime import UTC, datetime, timedelta

import pytest

from peerkit import Node, PeerConfig
from peerkit._transport.memory import MemoryTransport
from peerkit.auth import errors as E
from peerkit.auth.principals import Ed25519Signer, WalletSigner
from peerkit.auth.tokens import Capability, parse
from peerkit.config import AuthConfig
from peerkit.naming.keys import FAST_TEST_KDF, EthereumWallet
from peerkit.naming.messages import Republish
from peerkit.naming.records import create_record, name_for
from peerkit.storage.messages import FetchDag, PinRm
from tests.conftest import TRANSPORTS

THIRTY_DAYS = 30 * 24 * 3600


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_alice_delegates_republishing_to_her_app_node(make_nodes, kind):
    alice, app = await make_nodes(2, kind)
    wallet = EthereumWallet(b"\xa1" * 32)
    session = await alice.naming.login(wallet, "alice's passphrase", "sample", kdf=FAST_TEST_KDF)
    key = session.key_for("blog")
    name = name_for(key)
    cid = await alice.storage.put({"headline": "Hello"})
    # Alice signs her record and hands it to her app node (no announcement: Bob must get it
    # through the app node or not at all)
    raw = create_record(
        key, f"/ipfs/{cid.encode()}".encode(), 0, now=datetime.now(UTC), lifetime=timedelta(days=30)
    )

    # The name's key hands the name to Alice's wallet once; from then on her wallet signature
    # alone delegates (here: republishing, for 30 days, to her app node).
    binding = alice.auth.delegate(
        WalletSigner(wallet).did,
        [Capability(f"name:{name}", "name/*")],
        signer=Ed25519Signer(key),
        expires_in=365 * 24 * 3600,
    )
    grant = alice.auth.delegate(
        app.auth.did,
        [Capability(f"name:{name}", "name/republish")],
        signer=WalletSigner(wallet),
        expires_in=THIRTY_DAYS,
        proofs=[binding],
    )
    assert grant.alg == "EIP191"
    # what Alice gives her app node: the tokens (as bytes) and her signed record
    app.auth.remember(parse(binding.to_bytes()))
    held = parse(grant.to_bytes())
    await alice.stop()  # Alice goes offline

    bob = await start_peer("bob", kind, app)
    await app.connect(bob.addrs()[0])
    republish = Republish(name=name, record=raw)

    with pytest.raises(E.AuthMissing, match="needs name/republish"):
        await app.request(bob.peer_id, republish)
    forged = app.auth.delegate(app.auth.did, [Capability(f"name:{name}", "name/*")], expires_in=60)
    with pytest.raises(E.NotGranted, match="does not own"):
        await app.auth.request(bob.peer_id, republish, forged)
    with pytest.raises(E.TokenMalformed, match="authorization container"):
        await app.request(bob.peer_id, republish, auth=b"\xff" * 40)
    assert await bob.naming.resolve(name, local_only=True) is None  # nothing got through

    accepted = await app.auth.request(bob.peer_id, republish, held)
    assert accepted.sequence == 0
    resolved = await bob.naming.resolve(name, local_only=True)
    assert resolved is not None and resolved.value == f"/ipfs/{cid.encode()}".encode()
    assert bob.router.guard.accepted == 1 and bob.router.guard.refused == 3

    # the same invocation cannot be sent twice, nor by another peer (on both transports)
    auth = app.auth.authorization(bob.peer_id, republish, held)
    mallory = await start_peer("mallory", kind, bob)
    await mallory.connect(bob.addrs()[0])
    with pytest.raises(E.WrongAudience, match="but sent by"):
        await mallory.request(bob.peer_id, republish, auth=auth)
    await mallory.stop()
    await app.request(bob.peer_id, republish, auth=auth)
    with pytest.raises(E.Replayed):
        await app.request(bob.peer_id, republish, auth=auth)

    keeper = app.supervisor.instance(app.actor("name-keeper"))
    assert list(keeper.kept()) == [name]  # the app node keeps Alice's name alive...

    # Alice (her wallet, signing on another device) revokes the grant; Bob refuses from then on
    await bob.auth.revoke(held, signer=WalletSigner(wallet))
    with pytest.raises(E.Revoked, match="revoked by its issuer"):
        await app.auth.request(bob.peer_id, republish, held)
    await app.auth.wait_revoked(held.cid)
    assert keeper.kept() == {}  # ...until the grant is revoked
    await bob.stop()


async def start_peer(name: str, kind: str, neighbour: Node) -> Node:
    """A peer that joins later (on the neighbour's in-memory network when in memory)."""
    transport = None
    if kind == "memory":
        transport = MemoryTransport(name=name, network=neighbour.transport.network)
    node = Node(PeerConfig(name=name, transport=kind), transport=transport)
    await node.start()
    return node


async def test_revocations_survive_a_restart(tmp_path):
    from peerkit.config import StorageConfig

    config = PeerConfig(
        name="keeper",
        transport="memory",
        storage=StorageConfig(backend="sqlite"),
        source=str(tmp_path / "peer.yaml"),
    )
    issuer = Ed25519Signer.from_seed(b"\x09" * 32)
    async with Node(config) as node:
        grant = node.auth.delegate(
            node.auth.did, [Capability("x:*", "x/*")], signer=issuer, expires_in=60
        )
        await node.auth.revoke(grant, signer=issuer)
        assert grant.cid in node.auth.ext.revocations
    async with Node(config) as again:
        await again.supervisor.settled()
        await again.auth.wait_revoked(grant.cid)  # reloaded from its pinned block


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_peer_that_was_offline_learns_revocations_when_it_connects(make_nodes, kind):
    (alice,) = await make_nodes(1, kind)
    issuer = Ed25519Signer.from_seed(b"\x0a" * 32)
    grant = alice.auth.delegate(
        alice.auth.did, [Capability("x:*", "x/*")], signer=issuer, expires_in=60
    )
    await alice.auth.revoke(grant, signer=issuer)  # nobody else is online
    late = await start_peer("late", kind, alice)
    try:
        await late.connect(alice.addrs()[0])
        await late.auth.wait_revoked(grant.cid)
    finally:
        await late.stop()


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_wallet_tells_a_storage_peer_to_fetch_and_pin(make_nodes, kind):
    """The whitepaper's example: a token holder's signature tells a peer to fetch and pin
    content, no transaction involved. The storage peer honours its operator's wallet."""
    operator = WalletSigner(EthereumWallet(b"\xb2" * 32))
    stranger = WalletSigner(EthereumWallet(b"\xb3" * 32))
    (storer,) = await make_nodes(1, kind, auth=AuthConfig(trusted=[operator.did]))
    app = await start_peer("app", kind, storer)
    try:
        await app.connect(storer.addrs()[0])
        root = await app.storage.put({"post": "keep me"})
        await app.storage.pin("mine", root)
        ask = FetchDag(root=root.cid_bytes, peers=[app.peer_id], pin="for-app")

        with pytest.raises(E.AuthMissing, match="storage/pin on cid:"):
            await app.request(storer.peer_id, ask)
        untrusted = app.auth.delegate(
            app.auth.did, [Capability("cid:*", "storage/pin")], signer=stranger, expires_in=60
        )
        with pytest.raises(E.NotGranted, match=r"auth\.trusted"):
            await app.auth.request(storer.peer_id, ask, untrusted)
        assert "for-app" not in [p.name for p in await storer.storage.pins()]

        grant = app.auth.delegate(
            app.auth.did, [Capability("cid:*", "storage/pin")], signer=operator, expires_in=60
        )
        fetched = await app.auth.request(storer.peer_id, ask, grant)
        assert fetched.blocks == 1
        pins = {p.name: p.root for p in await storer.storage.pins()}
        assert pins["for-app"] == root
        # removing it needs its own capability
        with pytest.raises(E.NotGranted, match="invokes storage/pin"):
            await app.auth.request(
                storer.peer_id,
                PinRm(name="for-app"),
                grant,
                capability=Capability("cid:*", "storage/pin"),
            )
    finally:
        await app.stop()
